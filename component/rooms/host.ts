// RoomHost: the rooms of the service, their state and the primitives that the
// stanza handlers (component/handlers/) compose into XEP-0045 operations.
//
//  - Rooms are loaded from the store on first use and cached; the cache is
//    changed only after the store accepted a change, so a failed write leaves
//    the room as it was.
//  - Every persisted change is followed by its room event (events.ts).
//  - Callers hold the room's lock (the router serializes stanzas per room);
//    RoomHost itself does not lock.
//  - Two hooks and one replaceable handler let the MLS layer step in without
//    touching the XEP-0045 code: hooks.beforeJoin (refuse a join),
//    hooks.afterSelfPresence (send a join push before the subject), and the
//    groupchat handler (setGroupchatHandler).

import { randomUUID } from "node:crypto";

import { childLogger, type Logger } from "../../config/index.js";
import type { Affiliation, AffiliationChange, AppliedAffiliationChange, RoomConfig, RoomKind, RoomRecord, Store } from "../../mapping/store/index.js";
import { SafeEmitter } from "../events.js";
import { KeyedLock } from "../../mapping/keyed-lock.js";
import type { Jid } from "../xmpp/jid.js";
import { stanzaError } from "../xmpp/stanza-error.js";
import type { Element } from "../xmpp/xml.js";
import type { LeaveReason, OccupantInfo, OccupantJoinedEvent, RoomEventMap, RoomSettings } from "./events.js";
import { relayPlainGroupchat } from "./groupchat.js";
import { roleFor } from "./permissions.js";
import { destroyElement, invitation, mucUserX, presence, reflectedPayload, STATUS, statusMessage, subjectMessage, type MucItem } from "./presence.js";
import { Room, type Occupant, type Session } from "./room.js";

/** A join about to be accepted, as the beforeJoin hook sees it. */
export interface JoinAttempt {
  room: string;
  roomExists: boolean;
  nick: string;
  realJid: string;
  bareJid: string;
  affiliation: Affiliation;
  mlsDevice?: string;
  /** The join presence as received. */
  stanza: Element;
}

export interface RoomHooks {
  /** Called after the XEP-0045 checks pass and before the room is created or entered. Throw a StanzaError to refuse. */
  beforeJoin?(attempt: JoinAttempt): Promise<void>;
  /** Called after the joining session got its self-presence and before the subject (XEP-0045 §7.1 history slot). */
  afterSelfPresence?(joined: OccupantJoinedEvent): Promise<void>;
}

/** A session as a fan-out recipient. */
export interface Recipient extends OccupantInfo {
  bareJid: string;
}

export interface FanOutResult {
  sent: number;
  failed: number;
}

/** Read-only view of a room for hooks and handlers outside rooms/. */
export type RoomView = Pick<
  Room,
  "jid" | "settings" | "membersOnly" | "affiliationOf" | "occupants" | "occupantCount" | "byNickname" | "bySessionJid" | "occupantsOf" | "roleOf" | "listAffiliations" | "owners"
> & { readonly record: Readonly<RoomRecord> };

export interface GroupchatContext {
  readonly room: RoomView;
  /** The sending session. */
  readonly sender: Recipient;
  /** The message as received (from = the sender's real full JID, type = groupchat). */
  readonly stanza: Element;
  readonly log: Logger;
  /** A fresh unique id (UUID), e.g. for a XEP-0359 stanza-id. */
  newId(): string;
  /**
   * Sends `build(recipient)` to every session of every occupant (skipping
   * undefined). Sends go out in order; failures are counted and logged.
   */
  fanOut(build: (recipient: Recipient) => Element | undefined): Promise<FanOutResult>;
}

/**
 * Handles a groupchat message from an occupant that is not a subject change.
 * Throw a StanzaError to refuse it (the sender gets the error).
 * The default, relayPlainGroupchat, relays it to every occupant with a XEP-0359 stanza-id.
 */
export type GroupchatHandler = (ctx: GroupchatContext) => Promise<void>;

export interface RoomHostOptions {
  domain: string;
  store: Store;
  send: (stanza: Element) => Promise<void>;
  logger: Logger;
  defaultKind: RoomKind;
  /** The per-room locks the router holds while handling a stanza for a room. */
  locks?: KeyedLock;
  now?: () => number;
  newId?: () => string;
  /**
   * Rooms kept in memory beyond those with occupants (default 1,000): the
   * least recently used idle ones are dropped and load again from the store.
   */
  cacheSize?: number;
}

export interface RemovalSpec {
  reason: LeaveReason;
  /** Status codes for everyone (110 is added for the removed session itself). */
  codes: readonly number[];
  actor?: { bareJid: string; nick?: string };
  reasonText?: string;
  /** Send the unavailable self-presence to the removed sessions (not when their server bounced our stanzas). */
  notifySelf: boolean;
  /** Reflected children of the leaving presence (a custom exit <status/>). */
  payload?: readonly Element[];
  /** The id of the leaving presence, echoed on the self-presence. */
  selfId?: string;
  /** Runs after the self-presences and before the others are told (e.g. the iq result of a kick, §8.2). */
  between?: () => Promise<void>;
}

function sameSettings(a: RoomSettings, b: RoomSettings): boolean {
  return (
    a.kind === b.kind &&
    a.persistent === b.persistent &&
    a.name === b.name &&
    a.config.description === b.config.description &&
    a.config.changeSubject === b.config.changeSubject &&
    a.config.publicRoom === b.config.publicRoom &&
    a.config.whois === b.config.whois
  );
}

/** Defaults for a new room of each kind. */
export function defaultSettings(kind: RoomKind): { persistent: boolean; config: RoomConfig } {
  return {
    persistent: true,
    config: { description: "", changeSubject: false, publicRoom: kind === "channel", whois: "anyone" },
  };
}

export class RoomHost {
  readonly events: SafeEmitter<RoomEventMap>;
  hooks: RoomHooks = {};
  /** One FIFO lock per room, shared with the router. */
  readonly locks: KeyedLock;
  readonly domain: string;
  readonly now: () => number;
  readonly newId: () => string;
  private readonly store: Store;
  private readonly sendStanza: (stanza: Element) => Promise<void>;
  private readonly log: Logger;
  private readonly defaultKind: RoomKind;
  /** Loaded rooms, least recently used first (see evictIdle). */
  private readonly cache = new Map<string, Room>();
  private readonly cacheSize: number;
  private groupchatHandler: GroupchatHandler = relayPlainGroupchat;

  constructor(options: RoomHostOptions) {
    this.domain = options.domain;
    this.store = options.store;
    this.sendStanza = options.send;
    this.log = childLogger(options.logger, "rooms");
    this.defaultKind = options.defaultKind;
    this.locks = options.locks ?? new KeyedLock();
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? randomUUID;
    this.cacheSize = options.cacheSize ?? 1000;
    this.events = new SafeEmitter<RoomEventMap>((event, err) => this.log.error({ err, event }, "room event listener failed"));
  }

  /**
   * Runs `fn` holding the room's lock, serialized with the stanzas for that
   * room: for work that does not come from a stanza (timers, MLS proposals).
   * Not reentrant: never call it from a stanza handler or hook of the same room.
   */
  withRoomLock<T>(room: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(room, fn);
  }

  /** Replaces the groupchat handler; returns the previous one (to fall back on). */
  setGroupchatHandler(handler: GroupchatHandler): GroupchatHandler {
    const previous = this.groupchatHandler;
    this.groupchatHandler = handler;
    return previous;
  }

  /**
   * At start: temporary rooms cannot have occupants any more (occupancy is
   * not persisted), so they are destroyed, as when their last occupant leaves.
   */
  async start(): Promise<void> {
    for (const r of await this.store.listRooms({ persistent: false })) {
      await this.store.deleteRoom(r.jid);
      this.log.info({ room: r.jid }, "temporary room removed at start");
      this.events.emit("room-destroyed", { room: r.jid, cause: "startup" });
    }
  }

  // --- loading ---------------------------------------------------------------

  /** The room, from the cache or the store; undefined if it does not exist. */
  async load(jid: string): Promise<Room | undefined> {
    const cached = this.cache.get(jid);
    if (cached) {
      // Most recently used last.
      this.cache.delete(jid);
      this.cache.set(jid, cached);
      return cached;
    }
    const record = await this.store.getRoom(jid);
    if (!record) return undefined;
    const room = new Room(record, await this.store.listAffiliations(jid));
    // Another caller may have loaded it meanwhile (reads do not hold the room lock).
    const again = this.cache.get(jid);
    if (again) return again;
    this.cache.set(jid, room);
    this.evictIdle();
    return room;
  }

  /**
   * Keeps the cache at cacheSize rooms where it can: drops the least recently
   * used rooms that have no occupant and no work running or queued on their
   * lock. Such a room's state is all in the store (its record and
   * affiliations are written through); occupants live only in memory, so a
   * room with occupants always stays, and a room whose lock is busy may be
   * held by a handler that is about to change it.
   */
  private evictIdle(): void {
    if (this.cache.size <= this.cacheSize) return;
    for (const [jid, room] of this.cache) {
      if (this.cache.size <= this.cacheSize) return;
      if (room.occupantCount > 0 || room.sessionCount > 0 || this.locks.busy(jid)) continue;
      this.cache.delete(jid);
    }
  }

  /** The room, or item-not-found. */
  async require(jid: string): Promise<Room> {
    const room = await this.load(jid);
    if (!room) throw stanzaError("item-not-found", "no such room");
    return room;
  }

  /** Rooms currently in memory. */
  get loadedRooms(): Room[] {
    return [...this.cache.values()];
  }

  /** Rooms listed in the service's disco#items for `requester` (bare JID): public channels and rooms where they are affiliated. */
  async listVisibleRooms(requester: string): Promise<RoomRecord[]> {
    const mine = new Set(
      (await this.store.listAffiliationsOf(requester)).filter((a) => a.affiliation !== "outcast").map((a) => a.room),
    );
    const rooms = await this.store.listRooms();
    return rooms.map((r) => this.cache.get(r.jid)?.record ?? r).filter((r) => mine.has(r.jid) || (r.kind === "channel" && r.config.publicRoom));
  }

  // --- creation -------------------------------------------------------------

  /** Creates a room with `creator` as its owner; emits room-created and affiliation-changed. */
  async create(jid: string, creator: Jid): Promise<Room> {
    const kind = this.defaultKind;
    const { persistent, config } = defaultSettings(kind);
    const { room: record, owner } = await this.store.createRoom(
      { jid, kind, persistent, config, createdAt: this.now() },
      { bareJid: creator.bare, actor: creator.bare },
    );
    const room = new Room(record, [owner]);
    this.cache.set(jid, room);
    this.evictIdle();
    this.log.info({ room: jid, kind, owner: creator.bare }, "room created");
    this.events.emit("room-created", { room: jid, kind, persistent, owner: creator.bare, creator: creator.full });
    this.events.emit("affiliation-changed", {
      room: jid,
      bareJid: creator.bare,
      from: "none",
      to: "owner",
      actor: creator.bare,
      clock: owner.clock,
    });
    return room;
  }

  // --- occupancy ------------------------------------------------------------

  /**
   * Adds a session and sends what XEP-0045 §7.2 orders: the other occupants'
   * presences, the self-presence (110, 100, 201 if created), the new
   * occupant's presence to the others, the join hook, the subject.
   */
  async enter(room: Room, args: { nick: string; realJid: Jid; mlsDevice?: string; stanza: Element; created: boolean }): Promise<void> {
    const session: Session = {
      realJid: args.realJid.full,
      mlsDevice: args.mlsDevice,
      payload: reflectedPayload(args.stanza),
      joinedAt: this.now(),
    };
    const { occupant, newOccupant } = room.addSession(args.nick, args.realJid.bare, session);
    const out: Element[] = [];
    for (const other of room.occupants) {
      if (other !== occupant) out.push(this.occupantPresence(room, other, session.realJid, occupant));
    }
    out.push(this.selfPresence(room, occupant, session, args.created ? [STATUS.CREATED] : [], args.stanza.attrs["id"], true));
    if (newOccupant) {
      for (const other of room.occupants) {
        if (other === occupant) continue;
        for (const s of other.sessions.values()) out.push(this.occupantPresence(room, occupant, s.realJid, other));
      }
    }
    await this.sendAll(out);
    const joined: OccupantJoinedEvent = { ...room.info(occupant, session), newOccupant };
    if (this.hooks.afterSelfPresence) {
      try {
        await this.hooks.afterSelfPresence(joined);
      } catch (err) {
        this.log.error({ err, room: room.jid, realJid: session.realJid }, "afterSelfPresence hook failed");
      }
    }
    await this.sendAll([this.subjectFor(room, session.realJid)]);
    this.log.debug({ room: room.jid, nick: occupant.nick, realJid: session.realJid, newOccupant }, "occupant joined");
    this.events.emit("occupant-joined", joined);
  }

  /** A join presence from a session already in the room under this nick: send it the room again (§7.2.1). */
  async resync(room: Room, occupant: Occupant, session: Session, stanza: Element): Promise<void> {
    const out: Element[] = [];
    for (const other of room.occupants) {
      if (other !== occupant) out.push(this.occupantPresence(room, other, session.realJid, occupant));
    }
    out.push(this.selfPresence(room, occupant, session, [], stanza.attrs["id"], true));
    out.push(this.subjectFor(room, session.realJid));
    await this.sendAll(out);
    await this.updatePresence(room, occupant, session, stanza, { exceptSession: session.realJid });
  }

  /** A presence update from a session: reflect it to everyone (its own sessions get 110). */
  async updatePresence(room: Room, occupant: Occupant, session: Session, stanza: Element, opts: { exceptSession?: string } = {}): Promise<void> {
    const payload = reflectedPayload(stanza);
    const changed = payload.map(String).join("") !== session.payload.map(String).join("") || occupant.primary !== session.realJid;
    session.payload = payload;
    occupant.primary = session.realJid;
    if (changed) await this.broadcastPresence(room, occupant, [], opts.exceptSession);
  }

  /** Sends the occupant's current presence to every session (its own with 110). */
  async broadcastPresence(room: Room, occupant: Occupant, codes: readonly number[] = [], exceptSession?: string): Promise<void> {
    const out: Element[] = [];
    for (const recipient of room.occupants) {
      for (const s of recipient.sessions.values()) {
        if (s.realJid === exceptSession) continue;
        if (recipient === occupant) out.push(this.selfPresence(room, occupant, s, codes));
        else out.push(this.occupantPresence(room, occupant, s.realJid, recipient, codes));
      }
    }
    await this.sendAll(out);
  }

  /**
   * Removes sessions from the room: unavailable self-presences (if asked),
   * `between`, then unavailable presence to the others for each occupant whose
   * last session went, then occupant-left events. A temporary room left empty
   * is destroyed.
   */
  async remove(room: Room, realJids: readonly string[], spec: RemovalSpec): Promise<void> {
    const removed: Array<{ occupant: Occupant; session: Session; occupantGone: boolean; primaryChanged: boolean }> = [];
    for (const realJid of realJids) {
      const primaryBefore = room.bySessionJid(realJid)?.primary;
      const r = room.removeSession(realJid);
      if (r) removed.push({ ...r, primaryChanged: primaryBefore === realJid });
    }
    if (removed.length === 0) {
      await spec.between?.();
      return;
    }
    const item = (occupant: Occupant, jid: string | undefined): MucItem => {
      const it: MucItem = { affiliation: room.affiliationOf(occupant.bareJid), role: "none" };
      if (jid !== undefined) it.jid = jid;
      if (spec.actor) it.actor = spec.actor.nick !== undefined ? { nick: spec.actor.nick } : { jid: spec.actor.bareJid };
      if (spec.reasonText !== undefined) it.reason = spec.reasonText;
      return it;
    };
    if (spec.notifySelf) {
      const selfCodes = [...spec.codes, STATUS.SELF];
      await this.sendAll(
        removed.map(({ occupant, session }) =>
          presence({
            from: occupant.occupantJid,
            to: session.realJid,
            type: "unavailable",
            ...(spec.selfId !== undefined ? { id: spec.selfId } : {}),
            payload: spec.payload ?? [],
            x: mucUserX(item(occupant, session.realJid), selfCodes),
          }),
        ),
      );
    }
    if (spec.between) await spec.between();
    const out: Element[] = [];
    for (const { occupant, session, occupantGone } of removed) {
      if (!occupantGone) continue;
      for (const recipient of room.occupants) {
        for (const s of recipient.sessions.values()) {
          out.push(
            presence({
              from: occupant.occupantJid,
              to: s.realJid,
              type: "unavailable",
              payload: spec.payload ?? [],
              x: mucUserX(item(occupant, this.jidVisibleTo(room, recipient) ? session.realJid : undefined), spec.codes),
            }),
          );
        }
      }
    }
    await this.sendAll(out);
    for (const { occupant, occupantGone, primaryChanged } of removed) {
      if (!occupantGone && primaryChanged && room.bySessionJid(occupant.primary)) await this.broadcastPresence(room, occupant);
    }
    for (const { occupant, session, occupantGone } of removed) {
      const info = room.info(occupant, session, { role: "none" });
      this.events.emit("occupant-left", {
        ...info,
        reason: spec.reason,
        occupantGone,
        ...(spec.actor ? { actor: spec.actor.bareJid } : {}),
        ...(spec.reasonText !== undefined ? { reasonText: spec.reasonText } : {}),
      });
    }
    this.log.debug({ room: room.jid, sessions: removed.length, reason: spec.reason }, "sessions removed");
    if (!room.record.persistent && room.sessionCount === 0) await this.destroy(room, { cause: "empty" });
  }

  /** Sends `build(recipient)` to every session in the room. */
  async fanOut(room: Room, build: (recipient: Recipient) => Element | undefined): Promise<FanOutResult> {
    const out: Element[] = [];
    for (const occupant of room.occupants) {
      for (const s of occupant.sessions.values()) {
        const el = build({ ...room.info(occupant, s), bareJid: occupant.bareJid });
        if (el) out.push(el);
      }
    }
    const failed = await this.sendAll(out);
    return { sent: out.length - failed, failed };
  }

  /** Hands a groupchat message (not a subject change) from an occupant to the groupchat handler. */
  async groupchat(room: Room, occupant: Occupant, session: Session, stanza: Element): Promise<void> {
    const ctx: GroupchatContext = {
      room,
      sender: { ...room.info(occupant, session), bareJid: occupant.bareJid },
      stanza,
      log: this.log,
      newId: () => this.newId(),
      fanOut: (build) => this.fanOut(room, build),
    };
    await this.groupchatHandler(ctx);
  }

  // --- persisted changes ------------------------------------------------------

  /** Persists affiliation changes, updates the room, emits affiliation-changed for each effective change. */
  async setAffiliations(room: Room, changes: readonly AffiliationChange[]): Promise<AppliedAffiliationChange[]> {
    const applied = await this.store.setAffiliations(room.jid, changes, this.now());
    for (const a of applied) {
      room.setAffiliationRecord(a.record);
      room.record = { ...room.record, affiliationClock: Math.max(room.record.affiliationClock, a.record.clock) };
    }
    for (const a of applied) {
      this.events.emit("affiliation-changed", {
        room: room.jid,
        bareJid: a.record.bareJid,
        from: a.previous,
        to: a.record.affiliation,
        ...(a.record.actor !== undefined ? { actor: a.record.actor } : {}),
        ...(a.record.reason !== undefined ? { reason: a.record.reason } : {}),
        clock: a.record.clock,
      });
    }
    return applied;
  }

  /** Persists new settings and emits room-config-changed (when something changed). */
  async updateSettings(room: Room, after: RoomSettings, actor: string): Promise<{ before: RoomSettings; changed: boolean }> {
    const before = room.settings;
    if (sameSettings(before, after)) return { before, changed: false };
    room.record = await this.store.updateRoom(room.jid, {
      kind: after.kind,
      persistent: after.persistent,
      name: after.name,
      config: after.config,
    });
    this.log.info({ room: room.jid, actor, before, after: room.settings }, "room configured");
    this.events.emit("room-config-changed", { room: room.jid, actor, before, after: room.settings });
    return { before, changed: true };
  }

  /**
   * Persists the subject, sends it to every occupant, emits subject-changed.
   * The reflection keeps the sender's stanza id when it has one (XEP-0045
   * §7.4, muc#stable_id), so the changer can match it.
   */
  async setSubject(room: Room, occupant: Occupant, session: Session, subject: string, senderId?: string): Promise<void> {
    const at = this.now();
    room.record = await this.store.updateRoom(room.jid, { subject, subjectBy: occupant.nick, subjectAt: at });
    const id = senderId || this.newId();
    await this.fanOut(room, (r) => subjectMessage({ from: occupant.occupantJid, to: r.realJid, id, subject, room: room.jid }));
    this.events.emit("subject-changed", { room: room.jid, subject, nick: occupant.nick, realJid: session.realJid });
  }

  /** Sends the status message 104 ("configuration changed") to every occupant. */
  async notifyConfigChange(room: Room): Promise<void> {
    const id = this.newId();
    await this.fanOut(room, (r) => statusMessage({ from: room.jid, to: r.realJid, id, codes: [STATUS.CONFIG_CHANGED] }));
  }

  /** The XEP-0045 invitation to a user made a member of a members-only room they are not in. */
  async invite(room: Room, bareJid: string, from: string, reason?: string): Promise<void> {
    await this.sendAll([invitation({ room: room.jid, to: bareJid, id: this.newId(), from, ...(reason !== undefined ? { reason } : {}) })]);
  }

  /**
   * Deletes the room (store first), tells each session (§10.9: one
   * unavailable presence each, with <destroy/>), then `between`, then the
   * occupant-left events and room-destroyed.
   */
  async destroy(
    room: Room,
    spec: { cause: "owner" | "empty"; actor?: string; reason?: string; alternateVenue?: string; between?: () => Promise<void> },
  ): Promise<void> {
    await this.store.deleteRoom(room.jid);
    if (this.cache.get(room.jid) === room) this.cache.delete(room.jid);
    const sessions: Array<{ occupant: Occupant; session: Session }> = [];
    for (const occupant of room.occupants) for (const session of occupant.sessions.values()) sessions.push({ occupant, session });
    const out = sessions.map(({ occupant, session }) =>
      presence({
        from: occupant.occupantJid,
        to: session.realJid,
        type: "unavailable",
        x: mucUserX({ affiliation: "none", role: "none" }, [STATUS.SELF], [destroyElement(spec.alternateVenue, spec.reason)]),
      }),
    );
    await this.sendAll(out);
    if (spec.between) await spec.between();
    for (const { occupant, session } of sessions) {
      room.removeSession(session.realJid);
      this.events.emit("occupant-left", {
        ...room.info(occupant, session, { role: "none" }),
        reason: "destroyed",
        occupantGone: true,
        ...(spec.actor !== undefined ? { actor: spec.actor } : {}),
        ...(spec.reason !== undefined ? { reasonText: spec.reason } : {}),
      });
    }
    this.log.info({ room: room.jid, cause: spec.cause, actor: spec.actor }, "room destroyed");
    this.events.emit("room-destroyed", {
      room: room.jid,
      cause: spec.cause,
      ...(spec.actor !== undefined ? { actor: spec.actor } : {}),
      ...(spec.reason !== undefined ? { reason: spec.reason } : {}),
      ...(spec.alternateVenue !== undefined ? { alternateVenue: spec.alternateVenue } : {}),
    });
  }

  /** The component is going away: every session gets an unavailable presence with 332 (XEP-0045 §11.2). */
  async shutdown(): Promise<void> {
    for (const room of [...this.cache.values()]) {
      await this.locks.run(room.jid, () => this.shutdownRoom(room));
    }
  }

  private async shutdownRoom(room: Room): Promise<void> {
    const realJids = room.occupants.flatMap((o) => [...o.sessions.keys()]);
    if (realJids.length === 0) return;
    const out = room.occupants.flatMap((o) =>
      [...o.sessions.values()].map((s) =>
        presence({
          from: o.occupantJid,
          to: s.realJid,
          type: "unavailable",
          x: mucUserX({ affiliation: room.affiliationOf(o.bareJid), role: "none" }, [STATUS.SELF, STATUS.SHUTDOWN]),
        }),
      ),
    );
    await this.sendAll(out);
    for (const realJid of realJids) {
      const r = room.removeSession(realJid);
      if (r) {
        this.events.emit("occupant-left", { ...room.info(r.occupant, r.session, { role: "none" }), reason: "shutdown", occupantGone: r.occupantGone });
      }
    }
  }

  // --- stanzas ----------------------------------------------------------------

  /** May `recipient` see real JIDs (muc#roomconfig_whois)? */
  jidVisibleTo(room: Room, recipient: Occupant | undefined): boolean {
    return room.record.config.whois === "anyone" || (recipient !== undefined && room.roleOf(recipient) === "moderator");
  }

  /** `occupant`'s presence as `recipient` (at `to`) sees it. */
  occupantPresence(room: Room, occupant: Occupant, to: string, recipient: Occupant | undefined, codes: readonly number[] = []): Element {
    const affiliation = room.affiliationOf(occupant.bareJid);
    const primary = occupant.primarySession;
    const item: MucItem = { affiliation, role: roleFor(affiliation) };
    if (this.jidVisibleTo(room, recipient)) item.jid = primary.realJid;
    return presence({
      from: occupant.occupantJid,
      to,
      payload: primary.payload,
      ...(primary.mlsDevice !== undefined ? { mlsDevice: primary.mlsDevice } : {}),
      x: mucUserX(item, codes),
    });
  }

  /** The self-presence of one session: 110, and on entering (`initial`) 100 in a non-anonymous room (§7.2.4). */
  selfPresence(room: Room, occupant: Occupant, session: Session, codes: readonly number[], id?: string, initial = false): Element {
    const affiliation = room.affiliationOf(occupant.bareJid);
    const all = [...codes, STATUS.SELF];
    if (initial && room.record.config.whois === "anyone") all.push(STATUS.NON_ANONYMOUS);
    return presence({
      from: occupant.occupantJid,
      to: session.realJid,
      ...(id !== undefined ? { id } : {}),
      payload: occupant.primarySession.payload,
      ...(session.mlsDevice !== undefined ? { mlsDevice: session.mlsDevice } : {}),
      x: mucUserX({ affiliation, role: roleFor(affiliation), jid: session.realJid }, all),
    });
  }

  /** The subject message for one recipient (§7.2.15). */
  subjectFor(room: Room, to: string): Element {
    const r = room.record;
    return subjectMessage({
      from: r.subjectBy !== undefined ? `${room.jid}/${r.subjectBy}` : room.jid,
      to,
      id: this.newId(),
      subject: r.subject,
      room: room.jid,
      ...(r.subjectAt !== undefined ? { stamp: r.subjectAt } : {}),
    });
  }

  /** Sends stanzas in order without waiting between them; returns how many failed. */
  async sendAll(stanzas: readonly Element[]): Promise<number> {
    const results = await Promise.allSettled(stanzas.map((s) => this.sendStanza(s)));
    const failed = results.filter((r) => r.status === "rejected");
    if (failed.length > 0) {
      this.log.warn({ failed: failed.length, of: stanzas.length, err: (failed[0] as PromiseRejectedResult).reason }, "stanzas not sent");
    }
    return failed.length;
  }
}
