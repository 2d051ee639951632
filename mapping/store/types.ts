// What the store keeps about rooms, in the words of XEP-0045.
//
// Plain data: no XMPP parsing, no SQL. JIDs are strings already normalised by
// the caller (component/xmpp/jid.ts): bare JIDs for rooms and affiliations.
// Times are milliseconds since the Unix epoch.

/** "group": members-only, persistent, membership = affiliation list (the WhatsApp model).
 *  "channel": open, membership follows occupancy (the IRC model). */
export type RoomKind = "group" | "channel";
export const ROOM_KINDS: readonly RoomKind[] = ["group", "channel"];

/** XEP-0045 §5.2. "none" is the absence of an affiliation; the store keeps a
 *  row with "none" as a tombstone (see AffiliationRecord). */
export type Affiliation = "owner" | "admin" | "member" | "outcast" | "none";
export const AFFILIATIONS: readonly Affiliation[] = ["owner", "admin", "member", "outcast", "none"];

/** Who may see occupants' real JIDs (muc#roomconfig_whois). */
export type Whois = "anyone" | "moderators";

/** Room settings that have no column of their own; stored as JSON. */
export interface RoomConfig {
  /** muc#roomconfig_roomdesc */
  description: string;
  /** muc#roomconfig_changesubject: participants (not only moderators) may change the subject. */
  changeSubject: boolean;
  /** muc#roomconfig_publicroom: listed in the service's disco#items. */
  publicRoom: boolean;
  /** muc#roomconfig_whois */
  whois: Whois;
}

export interface RoomRecord {
  /** Bare room JID, e.g. "team@mls.example.org". */
  jid: string;
  kind: RoomKind;
  persistent: boolean;
  /** muc#roomconfig_roomname ("" = none). */
  name: string;
  /** Current subject ("" = none). */
  subject: string;
  /** Nick of the occupant who set the subject, if any. */
  subjectBy?: string;
  /** When the subject was last set (absent if never). */
  subjectAt?: number;
  config: RoomConfig;
  /**
   * The room's logical clock for affiliation changes: incremented on every
   * change, and the new value stamped on the changed row. Kept for federation
   * merges later (per-JID last-writer-wins on affiliation).
   */
  affiliationClock: number;
  createdAt: number;
}

export interface NewRoom {
  jid: string;
  kind: RoomKind;
  persistent: boolean;
  name?: string;
  config: RoomConfig;
  createdAt: number;
}

/** Fields of a room that updateRoom may change. */
export interface RoomPatch {
  kind?: RoomKind;
  persistent?: boolean;
  name?: string;
  subject?: string;
  /** null clears it. */
  subjectBy?: string | null;
  subjectAt?: number | null;
  config?: RoomConfig;
}

export interface AffiliationRecord {
  room: string;
  /** Bare JID, or a bare domain (a domain-wide ban). */
  bareJid: string;
  /**
   * "none" rows are tombstones: the affiliation was removed at `clock`. They
   * are kept so that a later merge with another copy of the room cannot
   * resurrect an affiliation that was revoked (last-writer-wins needs the
   * time of the removal). Listings leave them out unless asked.
   */
  affiliation: Affiliation;
  reason?: string;
  /** Bare JID of whoever made the change; absent when the service did. */
  actor?: string;
  /** The room's affiliation clock value at this change. */
  clock: number;
  updatedAt: number;
}

export interface AffiliationChange {
  bareJid: string;
  affiliation: Affiliation;
  reason?: string;
  actor?: string;
}

/** One effective change made by setAffiliations. */
export interface AppliedAffiliationChange {
  /** Affiliation before the change ("none" if there was no row). */
  previous: Affiliation;
  record: AffiliationRecord;
}
