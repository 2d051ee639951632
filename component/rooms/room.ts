// A room in memory: its stored record and affiliations (a cache of the
// store, updated only after the store accepted a change) and its occupants
// (memory only: occupancy does not survive a restart of the component).

import type { Affiliation, AffiliationRecord, RoomRecord } from "../../mapping/store/index.js";
import type { Element } from "../xmpp/xml.js";
import type { OccupantInfo, Role, RoomSettings } from "./events.js";
import { roleFor } from "./permissions.js";

/** One connected resource in the room. */
export interface Session {
  readonly realJid: string;
  readonly mlsDevice: string | undefined;
  /** Presence children reflected to the room (show, status, priority, extensions), without MUC and MLS elements. */
  payload: Element[];
  readonly joinedAt: number;
}

/** A nick in the room: one bare JID, one or more sessions (XEP-0045 §7.2.9 multi-session nicks). */
export class Occupant {
  /** Sessions in join order. */
  readonly sessions = new Map<string, Session>();
  /** The session whose presence represents the occupant (the latest to update it). */
  primary: string;

  constructor(
    readonly room: string,
    readonly nick: string,
    readonly bareJid: string,
    first: Session,
  ) {
    this.sessions.set(first.realJid, first);
    this.primary = first.realJid;
  }

  get occupantJid(): string {
    return `${this.room}/${this.nick}`;
  }

  get primarySession(): Session {
    return (this.sessions.get(this.primary) ?? this.sessions.values().next().value) as Session;
  }
}

/** The key under which nicks conflict: compatibility-normalised and case-folded, so "Alice" and "alice" are the same nick. */
export function nickKey(nick: string): string {
  return nick.normalize("NFKC").toLowerCase();
}

export class Room {
  private readonly affiliations = new Map<string, AffiliationRecord>();
  /** By nickKey. */
  private readonly byNick = new Map<string, Occupant>();
  /** By real full JID. */
  private readonly bySession = new Map<string, Occupant>();

  constructor(
    public record: RoomRecord,
    affiliations: readonly AffiliationRecord[],
  ) {
    for (const a of affiliations) this.setAffiliationRecord(a);
  }

  get jid(): string {
    return this.record.jid;
  }

  get settings(): RoomSettings {
    const { kind, persistent, name, config } = this.record;
    return { kind, persistent, name, config: { ...config } };
  }

  get membersOnly(): boolean {
    return this.record.kind === "group";
  }

  // --- affiliations --------------------------------------------------------

  /** The affiliation of a bare JID; a ban of its domain counts too (§9.2). */
  affiliationOf(bareJid: string): Affiliation {
    const own = this.affiliations.get(bareJid)?.affiliation;
    if (own !== undefined) return own;
    const at = bareJid.indexOf("@");
    if (at !== -1 && this.affiliations.get(bareJid.slice(at + 1))?.affiliation === "outcast") return "outcast";
    return "none";
  }

  affiliationRecord(bareJid: string): AffiliationRecord | undefined {
    return this.affiliations.get(bareJid);
  }

  /** Affiliated JIDs with this affiliation, sorted. */
  listAffiliations(affiliation: Affiliation): AffiliationRecord[] {
    return [...this.affiliations.values()].filter((a) => a.affiliation === affiliation).sort((a, b) => (a.bareJid < b.bareJid ? -1 : 1));
  }

  get owners(): string[] {
    return this.listAffiliations("owner").map((a) => a.bareJid);
  }

  /** Applies a record the store accepted. "none" removes the entry from the cache. */
  setAffiliationRecord(record: AffiliationRecord): void {
    if (record.affiliation === "none") this.affiliations.delete(record.bareJid);
    else this.affiliations.set(record.bareJid, record);
  }

  // --- occupants -----------------------------------------------------------

  get occupants(): Occupant[] {
    return [...this.byNick.values()];
  }

  get occupantCount(): number {
    return this.byNick.size;
  }

  get sessionCount(): number {
    return this.bySession.size;
  }

  byNickname(nick: string): Occupant | undefined {
    return this.byNick.get(nickKey(nick));
  }

  bySessionJid(realJid: string): Occupant | undefined {
    return this.bySession.get(realJid);
  }

  /** Occupants of one user (one per nick). */
  occupantsOf(bareJid: string): Occupant[] {
    return this.occupants.filter((o) => o.bareJid === bareJid);
  }

  roleOf(occupant: Occupant): Role {
    return roleFor(this.affiliationOf(occupant.bareJid));
  }

  /** Adds a session: to the occupant with this nick (same bare JID, checked by the caller) or as a new occupant. */
  addSession(nick: string, bareJid: string, session: Session): { occupant: Occupant; newOccupant: boolean } {
    const existing = this.byNick.get(nickKey(nick));
    if (existing) {
      if (existing.bareJid !== bareJid) throw new Error(`nick '${nick}' belongs to another user`);
      existing.sessions.set(session.realJid, session);
      this.bySession.set(session.realJid, existing);
      return { occupant: existing, newOccupant: false };
    }
    const occupant = new Occupant(this.jid, nick, bareJid, session);
    this.byNick.set(nickKey(nick), occupant);
    this.bySession.set(session.realJid, occupant);
    return { occupant, newOccupant: true };
  }

  /** Removes a session; returns whether its occupant is gone with it. */
  removeSession(realJid: string): { occupant: Occupant; session: Session; occupantGone: boolean } | undefined {
    const occupant = this.bySession.get(realJid);
    const session = occupant?.sessions.get(realJid);
    if (!occupant || !session) return undefined;
    occupant.sessions.delete(realJid);
    this.bySession.delete(realJid);
    if (occupant.primary === realJid) occupant.primary = occupant.sessions.keys().next().value ?? realJid;
    const occupantGone = occupant.sessions.size === 0;
    if (occupantGone) this.byNick.delete(nickKey(occupant.nick));
    return { occupant, session, occupantGone };
  }

  /** The event view of one session. */
  info(occupant: Occupant, session: Session, override?: { role?: Role; affiliation?: Affiliation }): OccupantInfo {
    const affiliation = override?.affiliation ?? this.affiliationOf(occupant.bareJid);
    const info: OccupantInfo = {
      room: this.jid,
      occupantJid: occupant.occupantJid,
      realJid: session.realJid,
      nick: occupant.nick,
      role: override?.role ?? roleFor(affiliation),
      affiliation,
    };
    if (session.mlsDevice !== undefined) info.mlsDevice = session.mlsDevice;
    return info;
  }
}
