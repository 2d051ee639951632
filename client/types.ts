// Public types of the client SDK: events and results.

import type { ClientError } from "./errors.js";
import type { RoomKind } from "./store.js";

export type { RoomKind };

/** A device of a room member, as the MLS tree names it. */
export interface MemberDevice {
  /** Bare JID (the leaf's credential identity). */
  readonly jid: string;
  /** Device id (the leaf's application_id). */
  readonly device: string;
  readonly leaf: number;
  /** §10.3 fingerprint of the device's signature key. */
  readonly fingerprint: string;
}

/** A decrypted application message. */
export interface MessageEvent {
  readonly room: string;
  /** Sender's bare JID, from its authenticated MLS credential. */
  readonly from: string;
  /** Sender's device id. */
  readonly device: string;
  /** The message id (`content/@id`, equal to the origin-id). */
  readonly id: string;
  readonly epoch: number;
  readonly seq: number;
  readonly text: string;
  /** The room's XEP-0359 stanza-id. */
  readonly stanzaId: string | undefined;
  /** The sender's clock (`content/@time`), else the acceptance time, else now. */
  readonly time: Date;
  /** True when it came from a join push or catch-up (it has a delay). */
  readonly delayed: boolean;
}

/** Devices added and removed by one commit. */
export interface MembershipEvent {
  readonly room: string;
  /** The epoch the commit created. */
  readonly epoch: number;
  /** The commit's seq (undefined for our own commit merged before its fan-out was processed). */
  readonly seq: number | undefined;
  readonly added: readonly MemberDevice[];
  readonly removed: readonly MemberDevice[];
  /** The committer, when it is a member device. */
  readonly by: { readonly jid: string; readonly device: string } | undefined;
  readonly external: boolean;
}

export interface JoinedEvent {
  readonly room: string;
  readonly epoch: number;
  /** How this device got into the MLS group. */
  readonly via: "create" | "welcome" | "external-commit";
  readonly members: readonly MemberDevice[];
}

export interface RemovedEvent {
  readonly room: string;
  /** The last epoch this device saw. */
  readonly epoch: number;
  readonly seq: number;
}

/** Our occupant left the MUC room (we left, or were kicked / banned / lost the affiliation). */
export interface LeftEvent {
  readonly room: string;
  /** XEP-0045 status codes of the unavailable self-presence (307 kick, 301 ban, 321 affiliation change...). */
  readonly statusCodes: readonly number[];
}

/**
 * A subject message from the room (XEP-0045 §8.1): a change, or the current
 * subject the room sends at the end of every join (§7.2.15). The subject is
 * plain MUC metadata, NOT encrypted with MLS: the service and every occupant
 * read it (docs/protocol.md §11).
 */
export interface SubjectEvent {
  readonly room: string;
  /** The subject; "" when the room has none or it was cleared. */
  readonly subject: string;
  /** The nick that set it, when the message came from an occupant JID (room/nick). Not authenticated by MLS. */
  readonly by: string | undefined;
  /** When it was set, if the room says so (XEP-0203 delay), else when it arrived. */
  readonly time: Date;
  /** True when the message has a XEP-0203 delay: the stored subject sent on join, not a live change. */
  readonly delayed: boolean;
}

/**
 * The room was destroyed (XEP-0045 §10.9). Emitted once, after this device
 * stopped the room's session and deleted its state for the room.
 */
export interface DestroyedEvent {
  readonly room: string;
  /** The owner's reason, when given. */
  readonly reason: string | undefined;
  /** The alternate venue the owner named (`<destroy jid/>`), when given. */
  readonly alternate: string | undefined;
}

export interface InvitedEvent {
  readonly room: string;
  /** Who granted the affiliation, as the room reports it. */
  readonly from: string | undefined;
}

/** Our own message was accepted by the service (also for messages re-sent after a restart). */
export interface SentEvent {
  readonly room: string;
  readonly id: string;
  readonly seq: number;
  readonly epoch: number;
  readonly stanzaId: string | undefined;
}

export interface WarningEvent {
  readonly room?: string | undefined;
  readonly kind: "signature-key-changed" | "new-own-device" | "undecryptable" | "invalid-proposal" | "resync" | "rejoin-retry";
  readonly message: string;
  readonly jid?: string | undefined;
  readonly device?: string | undefined;
}

export interface MlsClientEvents {
  message: [MessageEvent];
  membership: [MembershipEvent];
  joined: [JoinedEvent];
  removed: [RemovedEvent];
  invited: [InvitedEvent];
  left: [LeftEvent];
  subject: [SubjectEvent];
  destroyed: [DestroyedEvent];
  sent: [SentEvent];
  warning: [WarningEvent];
  error: [ClientError];
  online: [];
  offline: [];
}

export interface SendResult {
  readonly id: string;
  readonly seq: number;
  readonly epoch: number;
  readonly stanzaId: string | undefined;
}

export interface RoomMembers {
  readonly room: string;
  readonly epoch: number | undefined;
  /** Devices in this device's current MLS group state (empty if not a member). */
  readonly devices: readonly MemberDevice[];
  /** The muc#admin affiliation lists, when this account may read them. */
  readonly affiliations: readonly { readonly jid: string; readonly affiliation: "owner" | "admin" | "member" | "outcast" }[] | undefined;
}

/** What invite/remove/ban waited for. */
export interface AffiliationResult {
  readonly room: string;
  readonly jid: string;
  readonly affiliation: "member" | "none" | "outcast" | "admin" | "owner";
  /** Devices of `jid` whose Add (invite) or Remove (remove/ban) was committed and accepted while we waited. */
  readonly devices: readonly { readonly jid: string; readonly device: string }[];
  /** True when the MLS change landed (for invite: no device of jid was proposed within the wait is still true with devices = []). */
  readonly committed: boolean;
}
