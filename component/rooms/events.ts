// Room events: what happened in a room, for the layers above XEP-0045 (the
// MLS layer turns them into proposals). Emitted by RoomHost.events after the
// state they describe is in place: persisted for what the store keeps
// (rooms, affiliations, subject, configuration), in memory for occupancy.
// Listeners run synchronously and must not block; a throwing or rejecting
// listener is logged and does not affect the room or the other listeners.
//
// Order within one operation:
//   room created:   room-created, affiliation-changed (none -> owner), occupant-joined
//   ban:            affiliation-changed, then occupant-left (reason "ban") per session
//   membership revoked in a group room: affiliation-changed, occupant-left ("affiliation")
//   room destroyed: occupant-left ("destroyed") per session, then room-destroyed

import type { Affiliation, RoomConfig, RoomKind } from "../../mapping/store/index.js";

/** XEP-0045 §5.1. Rooms are unmoderated: occupants are moderators (owners, admins) or participants. */
export type Role = "moderator" | "participant" | "visitor" | "none";

export type LeaveReason =
  /** The occupant sent unavailable presence. */
  | "leave"
  /** A moderator set its role to none (status 307). */
  | "kick"
  /** Its affiliation became outcast (status 301). */
  | "ban"
  /** Its server bounced a stanza (presence error, or a delivery error on a message) (status 333). */
  | "disconnect"
  /** Its affiliation was revoked in a members-only room (status 321). */
  | "affiliation"
  /** The room became members-only and it is not a member (status 322). */
  | "members-only"
  /** The room was destroyed. */
  | "destroyed"
  /** The component is shutting down (status 332). */
  | "shutdown"
  /** Another session of the same MLS device joined and took over its binding (docs/protocol.md §6.3). */
  | "replaced";

/** One session (full JID) of an occupant. A user may be in a room from several
 *  devices; with the same nick they form one occupant with several sessions. */
export interface OccupantInfo {
  /** Bare room JID. */
  room: string;
  /** room@service/nick */
  occupantJid: string;
  /** The session's real full JID. */
  realJid: string;
  nick: string;
  role: Role;
  affiliation: Affiliation;
  /** The device id of <device xmlns='urn:xmpp:mls:0' id='...'/> in the join presence, if any. */
  mlsDevice?: string;
}

export interface OccupantJoinedEvent extends OccupantInfo {
  /** False when this session joined an occupant already present (same bare JID and nick). */
  newOccupant: boolean;
}

export interface OccupantLeftEvent extends OccupantInfo {
  reason: LeaveReason;
  /** True when this was the occupant's last session (the nick is gone from the room). */
  occupantGone: boolean;
  /** Bare JID of the moderator/admin/owner who caused it (kick, ban, revoke, destroy). */
  actor?: string;
  /** The <reason/> they gave. */
  reasonText?: string;
}

export interface AffiliationChangedEvent {
  room: string;
  bareJid: string;
  from: Affiliation;
  to: Affiliation;
  /** Bare JID of who made the change; absent when the service did. */
  actor?: string;
  reason?: string;
  /** The room's affiliation clock stamped on this change. */
  clock: number;
}

export interface RoomCreatedEvent {
  room: string;
  kind: RoomKind;
  persistent: boolean;
  /** Bare JID of the first owner. */
  owner: string;
  /** Full JID whose join created the room. */
  creator: string;
}

export interface RoomDestroyedEvent {
  room: string;
  /** "owner": XEP-0045 §10.9; "empty": a temporary room's last occupant left; "startup": a temporary room found at start. */
  cause: "owner" | "empty" | "startup";
  actor?: string;
  reason?: string;
  alternateVenue?: string;
}

export interface SubjectChangedEvent {
  room: string;
  subject: string;
  nick: string;
  realJid: string;
}

/** The room settings an owner configures (muc#owner). */
export interface RoomSettings {
  kind: RoomKind;
  persistent: boolean;
  name: string;
  config: RoomConfig;
}

export interface RoomConfigChangedEvent {
  room: string;
  /** Bare JID of the owner. */
  actor: string;
  before: RoomSettings;
  after: RoomSettings;
}

export interface RoomEventMap {
  "room-created": [RoomCreatedEvent];
  "room-destroyed": [RoomDestroyedEvent];
  "room-config-changed": [RoomConfigChangedEvent];
  "occupant-joined": [OccupantJoinedEvent];
  "occupant-left": [OccupantLeftEvent];
  "affiliation-changed": [AffiliationChangedEvent];
  "subject-changed": [SubjectChangedEvent];
}
