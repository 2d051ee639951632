// One room as seen by one device: its MLS group state, the ordered processing
// of the room log (§7.6.1), the commit policy (§6.5), sending (§6.7) and the
// ways into the group (create + bind, Welcome, external commit).
//
// Concurrency: every change of the group state runs in the room's serial
// queue. Stanzas are parsed and buffered synchronously as they arrive, then a
// drain task processes the contiguous run after the cursor. Tasks never wait
// for another task of the same queue.

import { randomUUID } from "node:crypto";

import type { Logger } from "pino";

import {
  basicCredential,
  createGroup,
  deserializeGroup,
  externalSendersExtension,
  joinExternal,
  joinFromWelcome,
  serializeGroup,
  toHex,
  utf8Bytes,
  type CipherSuite,
  type CryptoProvider,
  type Group,
  type KeyPackage,
  type MLSMessage,
} from "../mls/node.js";

import { ClientError, isClientError, stanzaError, toClientError } from "./errors.js";
import { domainOf, parseJid } from "./jid.js";
import {
  applicationIdExtension,
  checkExternalSenders,
  decodeMessage,
  decodeTree,
  encodeMessage,
  findLeaf,
  fingerprint,
  groupOptions,
  leafIdentity,
  type DeviceRef,
} from "./mls-helpers.js";
import { NS } from "./ns.js";
import { Deferred, SerialQueue } from "./queue.js";
import { parseRoomInfo, type RoomInfo, type ServiceInfo } from "./service.js";
import type { ClientStore, OutboxUpdate, RoomKind, RoomRecord, RoomStatus } from "./store.js";
import type { Transport } from "./transport.js";
import type {
  AffiliationResult,
  DestroyedEvent,
  MemberDevice,
  MembershipEvent,
  MessageEvent,
  MlsClientEvents,
  RoomMembers,
  SendResult,
} from "./types.js";
import {
  applicationMessage,
  buildContent,
  fromBase64,
  mucStatusCodes,
  parseContent,
  parseEntry,
  submitForm,
  toBase64,
  uintAttr,
  xml,
  type Element,
  type RoomEntry,
} from "./xml.js";

/** Timers and limits of one client (resolved options). */
export interface SessionOptions {
  /** Commits of DS proposals wait a uniform random delay in [0, commitDelayMs] (§6.5.1). */
  readonly commitDelayMs: number;
  /** A gap in the seq sequence that persists this long triggers a catch-up (§7.6.1). */
  readonly gapTimeoutMs: number;
  /** Group rooms: how long to wait for a Welcome before an external join (§6.3). */
  readonly welcomeWaitMs: number;
  readonly iqTimeoutMs: number;
  /** How long send() waits for the reflection of one attempt. */
  readonly sendTimeoutMs: number;
  /** How long join() waits for the `<caught-up/>` of the join push. */
  readonly joinTimeoutMs: number;
  /** Send an empty commit soon after joining by Welcome (§6.5.1). */
  readonly selfUpdate: boolean;
  /** Refresh this device's leaf when it is active and the last refresh is older than this (§6.5.1); 0: never. */
  readonly selfUpdateIntervalSeconds: number;
  /** The clock (ms since the epoch). */
  readonly now: () => number;
  /** Default nick (default: the JID's localpart). */
  readonly nick: string | undefined;
  readonly maxSendAttempts: number;
}

/** What a room session needs from its client. */
export interface RoomHost {
  readonly transport: Transport;
  readonly store: ClientStore;
  readonly me: DeviceRef;
  readonly cs: CipherSuite;
  readonly provider: CryptoProvider;
  readonly signaturePrivateKey: Uint8Array;
  readonly signaturePublicKey: Uint8Array;
  readonly logger: Logger;
  readonly options: SessionOptions;
  service(domain: string): Promise<ServiceInfo>;
  /** Sends an iq and returns the result; throws a ClientError for an error reply. */
  request(iq: Element, what: string, room?: string): Promise<Element>;
  /** Available KeyPackages of this device at the service (§6.1.2). */
  keyPackageCount(domain: string): Promise<{ available: number; lastResort: boolean }>;
  emit<K extends keyof MlsClientEvents>(event: K, ...args: MlsClientEvents[K]): void;
  reportError(e: unknown, what: string, room?: string): void;
  /** The room was destroyed and this session dropped its state: the client forgets it (a later use starts afresh). */
  forget(session: RoomSession): void;
}

type SendOutcome =
  | { readonly kind: "accepted"; readonly result: SendResult }
  | { readonly kind: "error"; readonly error: ClientError }
  | { readonly kind: "timeout" };

type CommitOutcome = "accepted" | "conflict" | "unknown" | "failed" | "none";

/** What one drain step writes together with the room's state. */
class Batch {
  seen: { sender: string; contentId: string; seq: number }[] = [];
  outbox: OutboxUpdate[] = [];
  deleteKeyPackages: string[] = [];
  events: (() => void)[] = [];
  seenKeys = new Set<string>();
  get size(): number {
    return this.events.length + this.seen.length + this.outbox.length;
  }
}

interface Watcher {
  check(): boolean;
  /** The session ends (closed, or the room destroyed): the wait fails with `e`. */
  fail(e: ClientError): void;
}

/** A setSubject() waiting for the room to reflect its change (XEP-0045 §8.1). */
interface SubjectWaiter {
  readonly id: string;
  readonly subject: string;
  readonly done: Deferred<void>;
}

const AFFILIATIONS = ["owner", "admin", "member", "outcast"] as const;


export class RoomSession {
  readonly domain: string;
  kind: RoomKind | undefined;
  status: RoomStatus = "new";
  group: Group | undefined;
  lastSeq = 0;
  joinEpoch = 0;
  needsSelfUpdate = false;
  /** Unix seconds of this device's last fresh leaf in the group (periodic self-update, §6.5.1). */
  leafUpdatedAt = 0;
  /** This device has (had) a stored state for the room: it knows the room existed. */
  private hadRoom = false;
  autoJoin = false;
  nick: string | undefined;
  /** Our MUC presence is in the room. */
  occupant = false;
  /**
   * The last subject the room sent (XEP-0045 §8.1; it sends the current one at
   * the end of every join). Plain MUC metadata, not MLS-protected; kept in
   * memory only. Undefined until the room sent one.
   */
  subject: string | undefined;

  private readonly queue = new SerialQueue();
  private readonly buffer = new Map<number, RoomEntry>();
  private welcomes: RoomEntry[] = [];
  private drainScheduled = false;
  private commitTimer: NodeJS.Timeout | undefined;
  /** After <rate-limited/>: no commit before this time (ms). */
  private commitNotBefore = 0;
  private gapTimer: NodeJS.Timeout | undefined;
  private needsResync: string | undefined;
  private readonly sendWaiters = new Map<string, Deferred<SendOutcome>>();
  /** Hashes of the ciphertexts we sent, by content id: recognizes our own reflections. */
  private readonly sentCiphertexts = new Map<string, Set<string>>();
  /** Content ids being delivered by this process. */
  private readonly inflight = new Set<string>();
  private readonly presenceWaiters = new Set<(p: Element) => boolean>();
  private readonly caughtUpWaiters = new Set<Deferred<{ last: number; complete: boolean }>>();
  private readonly watchers = new Set<Watcher>();
  /** DS Add proposals seen, in order: who was proposed (for invite()). */
  private readonly proposedAdds: DeviceRef[] = [];
  private joining: Promise<void> | undefined;
  /** The save of the state a Welcome produced (isMember is already true while it runs). */
  private welcomeSaved: Promise<void> = Promise.resolve();
  private readonly subjectWaiters = new Set<SubjectWaiter>();
  private closed = false;
  /** Set when the room is known to be destroyed (XEP-0045 §10.9): no rejoin, no commit, no external join. */
  private destroying = false;
  /** The teardown of a destroyed room (see destroyed()). */
  private teardown: Promise<void> | undefined;
  /** The room's state was deleted from the store: nothing may write it again. */
  private stateDropped = false;
  private readonly log: Logger;

  constructor(
    readonly room: string,
    private readonly host: RoomHost,
  ) {
    this.domain = domainOf(room);
    this.log = host.logger.child({ room });
  }

  // ================================================================ state

  /** Restores the persisted state of this room. */
  async load(): Promise<void> {
    const r = await this.host.store.getRoom(this.room);
    if (!r) return;
    this.hadRoom = true;
    this.kind = r.kind;
    this.status = r.status;
    this.lastSeq = r.lastSeq;
    this.joinEpoch = r.joinEpoch;
    this.needsSelfUpdate = r.needsSelfUpdate;
    // A state from before this was recorded counts from now.
    this.leafUpdatedAt = r.leafUpdatedAt > 0 ? r.leafUpdatedAt : this.unixNow();
    this.autoJoin = r.autoJoin;
    this.nick = r.nick;
    if (r.groupState) {
      const svc = await this.host.service(this.domain).catch(() => undefined);
      try {
        this.group = deserializeGroup(this.host.provider, r.groupState, groupOptions(svc?.maxEpochLag ?? 2));
      } catch (e) {
        throw toClientError(e, "storage", `cannot restore the group state of ${this.room}`, this.room);
      }
    }
  }

  private record(): RoomRecord {
    return {
      room: this.room,
      kind: this.kind,
      status: this.status,
      groupState: this.group ? serializeGroup(this.group) : undefined,
      lastSeq: this.lastSeq,
      joinEpoch: this.joinEpoch,
      needsSelfUpdate: this.needsSelfUpdate,
      autoJoin: this.autoJoin,
      nick: this.nick,
      leafUpdatedAt: this.leafUpdatedAt,
    };
  }

  /** Persists the room (group state + cursor) with the batch, atomically; then runs the batch's events. */
  private async save(batch?: Batch): Promise<void> {
    // A destroyed room's state stays deleted (a task that ran late must not write it back).
    if (this.stateDropped) return;
    try {
      await this.host.store.saveRoom(this.record(), {
        seen: batch?.seen,
        outbox: batch?.outbox,
        deleteKeyPackages: batch?.deleteKeyPackages,
      });
    } catch (e) {
      // Memory is now ahead of the file: go back to what is durable. Entries
      // processed in this batch come again by catch-up.
      this.log.error({ err: e }, "saving the room state failed; reloading");
      this.group = undefined;
      await this.load().catch(() => undefined);
      this.scheduleCatchUp();
      throw toClientError(e, "storage", "saving the room state", this.room);
    }
    this.hadRoom = true;
    if (batch) {
      const events = batch.events;
      batch.events = [];
      batch.seen = [];
      batch.outbox = [];
      batch.deleteKeyPackages = [];
      batch.seenKeys.clear();
      for (const ev of events) ev();
    }
  }

  get isMember(): boolean {
    return this.group !== undefined && this.group.isActive && this.status === "member";
  }

  get epoch(): number | undefined {
    return this.group ? Number(this.group.epoch) : undefined;
  }

  private deviceOfLeaf(g: Group, leaf: number): MemberDevice | undefined {
    const m = g.members().find((x) => x.leafIndex === leaf);
    if (!m) return undefined;
    const id = leafIdentity(m.leafNode);
    return id && { ...id, leaf, fingerprint: fingerprint(m.signatureKey) };
  }

  memberDevices(): MemberDevice[] {
    const g = this.group;
    if (!g || !g.isActive) return [];
    const out: MemberDevice[] = [];
    for (const m of g.members()) {
      const id = leafIdentity(m.leafNode);
      if (id) out.push({ ...id, leaf: m.leafIndex, fingerprint: fingerprint(m.signatureKey) });
    }
    return out;
  }

  private leafMap(g: Group): Map<number, MemberDevice> {
    const map = new Map<number, MemberDevice>();
    for (const m of g.members()) {
      const id = leafIdentity(m.leafNode);
      if (id) map.set(m.leafIndex, { ...id, leaf: m.leafIndex, fingerprint: fingerprint(m.signatureKey) });
    }
    return map;
  }

  // ================================================================ incoming stanzas

  /** A stanza from the room's bare JID or an occupant JID. Synchronous: buffers and schedules. */
  onStanza(stanza: Element): void {
    if (this.closed) return;
    if (stanza.name === "presence") {
      this.onPresence(stanza);
      return;
    }
    if (stanza.name !== "message") return;
    const type = stanza.attrs["type"];
    if (type === "error") {
      const id = stanza.attrs["id"];
      const sw = id ? [...this.subjectWaiters].find((x) => x.id === id) : undefined;
      if (sw) {
        sw.done.reject(stanzaError(stanza, "subject change refused", this.room));
        return;
      }
      const w = id ? this.sendWaiters.get(id) : undefined;
      if (w) w.resolve({ kind: "error", error: stanzaError(stanza, "message refused", this.room) });
      else this.log.warn({ id }, "error message from the room for an unknown id");
      return;
    }
    if (type === "groupchat" && this.onSubject(stanza)) return;
    const cu = stanza.getChild("caught-up", NS.MLS);
    if (cu) {
      try {
        const last = uintAttr(cu, "last") ?? 0;
        const complete = cu.attrs["complete"] === "true" || cu.attrs["complete"] === "1";
        for (const w of this.caughtUpWaiters) w.resolve({ last, complete });
        this.caughtUpWaiters.clear();
      } catch (e) {
        this.host.reportError(e, "caught-up", this.room);
      }
      return;
    }
    let entry: RoomEntry | undefined;
    try {
      entry = parseEntry(stanza, this.room);
    } catch (e) {
      this.host.reportError(e, "malformed entry", this.room);
      return;
    }
    if (!entry) return;
    if (entry.kind === "welcome") {
      if (!this.welcomes.some((w) => w.seq === entry.seq && w.stanzaIdAttr === entry.stanzaIdAttr)) this.welcomes.push(entry);
    } else if (entry.seq > this.lastSeq && !this.buffer.has(entry.seq)) {
      this.buffer.set(entry.seq, entry);
    } else {
      this.log.debug({ seq: entry.seq }, "duplicate entry dropped");
      return;
    }
    this.kick();
  }

  /**
   * XEP-0045 §8.1: a groupchat message with <subject/> and no <body/> is the
   * room's subject (a change, or the current one at the end of a join). It is
   * plain MUC metadata, not an MLS entry. Returns false for anything else.
   */
  private onSubject(stanza: Element): boolean {
    const el = stanza.getChild("subject");
    if (!el || stanza.getChild("body") || stanza.getChild("mls", NS.MLS)) return false;
    const subject = el.getText();
    const from = stanza.attrs["from"] ?? "";
    const by = from.startsWith(`${this.room}/`) ? from.slice(this.room.length + 1) : undefined;
    const delay = stanza.getChild("delay", NS.DELAY);
    const stamp = delay?.attrs["stamp"];
    const delayTime = stamp !== undefined ? new Date(stamp) : undefined;
    const delayed = delay !== undefined;
    this.subject = subject;
    // Our change came back (the room may give the reflection a new id: match our nick and text too).
    const id = stanza.attrs["id"];
    for (const w of [...this.subjectWaiters]) {
      if (w.id === id || (!delayed && by !== undefined && by === this.nick && w.subject === subject)) w.done.resolve();
    }
    this.host.emit("subject", {
      room: this.room,
      subject,
      by,
      time: delayTime && !Number.isNaN(delayTime.getTime()) ? delayTime : new Date(this.host.options.now()),
      delayed,
    });
    return true;
  }

  private onPresence(p: Element): void {
    for (const w of [...this.presenceWaiters]) if (w(p)) this.presenceWaiters.delete(w);
    const from = p.attrs["from"] ?? "";
    const self = this.nick !== undefined && from === `${this.room}/${this.nick}`;
    const codes = mucStatusCodes(p);
    if ((self || codes.has(110)) && p.attrs["type"] === "unavailable") {
      const wasOccupant = this.occupant;
      this.occupant = false;
      this.log.info({ codes: [...codes] }, "left the room (unavailable self-presence)");
      if (wasOccupant) this.host.emit("left", { room: this.room, statusCodes: [...codes] });
      // §10.9: the room was destroyed (its <destroy/> in our unavailable self-presence).
      const destroy = p.getChild("x", NS.MUC_USER)?.getChild("destroy");
      if (destroy) {
        const reason = destroy.getChildText("reason");
        void this.destroyed({ room: this.room, reason: reason ?? undefined, alternate: destroy.attrs["jid"] || undefined });
        return;
      }
      // Revoked (321), banned (301) or kicked (307): no live entries any more.
      // The removing commit is in the log: fetch it (§6.6).
      if (this.isMember && (codes.has(321) || codes.has(301) || codes.has(307))) this.pollForRemoval();
    }
  }

  private pollForRemoval(): void {
    const delays = [300, 1000, 3000, 7000, 15_000, 30_000];
    const step = (i: number): void => {
      if (i >= delays.length || this.closed) return;
      const t = setTimeout(() => {
        if (this.closed || !this.isMember || this.occupant) return;
        this.queue
          .run(() => this.catchUpInQueue())
          .catch((e) => this.log.debug({ err: e }, "catch-up after leaving failed"))
          .finally(() => step(i + 1));
      }, delays[i]);
      t.unref?.();
    };
    step(0);
  }

  /** Schedules a drain of the buffer (coalesced). */
  kick(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    this.queue
      .run(async () => {
        this.drainScheduled = false;
        await this.drainInQueue();
      })
      .catch((e) => this.host.reportError(e, "processing room entries", this.room));
  }

  // ================================================================ ordered processing (§7.6.1)

  private async drainInQueue(): Promise<void> {
    const batch = new Batch();
    let dirty = false;
    for (;;) {
      if (this.closed) return;
      if (!this.isMember) {
        const w = this.nextWelcome();
        if (w) {
          if (dirty) {
            await this.save(batch);
            dirty = false;
          }
          await this.processWelcome(w);
          continue;
        }
        break;
      }
      const e = this.buffer.get(this.lastSeq + 1);
      if (!e) break;
      this.buffer.delete(e.seq);
      await this.processEntry(e, batch);
      this.lastSeq = e.seq;
      dirty = true;
      if (this.needsResync) break;
      if (batch.size >= 64) {
        await this.save(batch);
        dirty = false;
      }
    }
    if (dirty) await this.save(batch);
    for (const s of [...this.buffer.keys()]) if (s <= this.lastSeq) this.buffer.delete(s);
    if (this.isMember) this.welcomes = this.welcomes.filter((w) => w.seq > this.lastSeq);
    if (this.needsResync) {
      const why = this.needsResync;
      this.needsResync = undefined;
      if (!this.destroying) await this.resyncInQueue(why);
    }
    this.updateGapTimer();
    this.notifyWatchers();
  }

  /** A Welcome to process now: we have no usable group and it is newer than what we saw. */
  private nextWelcome(): RoomEntry | undefined {
    const floor = this.status === "removed" ? this.lastSeq : 0;
    this.welcomes = this.welcomes.filter((w) => w.seq > floor);
    return this.welcomes.shift();
  }

  private async processEntry(e: RoomEntry, batch: Batch): Promise<void> {
    const g = this.group!;
    const epoch = Number(g.epoch);
    if (e.kind === "application") {
      await this.processApplication(e, g, batch);
      this.selfUpdateIfDue(); // reading counts as activity (§6.5.1)
      return;
    }
    if (e.epoch < epoch) {
      // Our own commit (merged on <accepted/>), or a proposal it covered.
      this.log.debug({ seq: e.seq, kind: e.kind, epoch: e.epoch }, "handshake of a past epoch skipped");
      return;
    }
    if (e.epoch > epoch) {
      this.needsResync = `${e.kind} seq ${e.seq} is for epoch ${e.epoch}, the group is in ${epoch}`;
      return;
    }
    let msg: MLSMessage;
    try {
      msg = decodeMessage(e.bytes, `${e.kind} seq ${e.seq}`);
    } catch (err) {
      this.host.reportError(err, `entry ${e.seq}`, this.room);
      if (e.kind === "commit") this.needsResync = `commit seq ${e.seq} cannot be decoded`;
      return;
    }
    if (e.kind === "proposal") return this.processProposal(e, g, msg, batch);
    return this.processCommit(e, g, msg, batch);
  }

  private processProposal(e: RoomEntry, g: Group, msg: MLSMessage, batch: Batch): void {
    // §7.6.2: DS proposals are PublicMessages from external sender 0, Add or Remove only.
    const sender = msg.wireFormat === "mls_public_message" ? msg.publicMessage.content.sender : undefined;
    if (sender?.type !== "external" || sender.senderIndex !== 0) {
      this.warnInvalidProposal(batch, `proposal seq ${e.seq} is not from the service (external sender 0)`);
      return;
    }
    let r;
    try {
      r = g.process(msg);
    } catch (err) {
      this.warnInvalidProposal(batch, `proposal seq ${e.seq} refused: ${(err as Error).message}`);
      return;
    }
    if (r.kind !== "proposal") return;
    const p = r.proposal;
    if (p.type === "add") {
      const id = leafIdentity(p.keyPackage.leafNode);
      if (!id) this.warnInvalidProposal(batch, `Add seq ${e.seq}: the KeyPackage has no valid JID / application_id`);
      else this.proposedAdds.push(id);
    } else if (p.type !== "remove") {
      this.warnInvalidProposal(batch, `proposal seq ${e.seq} is a ${p.type}; the service may only propose Add and Remove`);
    }
    this.log.debug({ seq: e.seq, type: p.type }, "DS proposal");
    this.scheduleCommit();
  }

  private warnInvalidProposal(batch: Batch, message: string): void {
    this.log.warn(message);
    batch.events.push(() => this.host.emit("warning", { room: this.room, kind: "invalid-proposal", message }));
  }

  private processCommit(e: RoomEntry, g: Group, msg: MLSMessage, batch: Batch): void {
    const before = this.leafMap(g);
    let r;
    try {
      r = g.process(msg);
    } catch (err) {
      this.log.error({ err, seq: e.seq }, "cannot process an accepted commit");
      this.needsResync = `commit seq ${e.seq} cannot be processed: ${(err as Error).message}`;
      return;
    }
    if (r.kind !== "commit") return;
    this.cancelCommitTimer();
    const s = r.summary;
    const ev = this.membershipEvent(g, before, s, e.seq);
    batch.events.push(() => this.host.emit("membership", ev));
    this.pinKeys(ev.added, batch);
    if (s.selfRemoved) {
      this.status = "removed";
      this.log.info({ seq: e.seq }, "removed from the group");
      const removed = { room: this.room, epoch: Number(g.epoch), seq: e.seq };
      batch.events.push(() => this.host.emit("removed", removed));
      this.failWaiters(new ClientError("removed", `removed from ${this.room}`, { room: this.room }));
      return;
    }
    if (s.committer === g.leafIndex && s.pathIncluded) this.leafRefreshed();
    if (this.needsSelfUpdate) this.scheduleCommit();
  }

  private membershipEvent(
    g: Group,
    before: Map<number, MemberDevice>,
    s: { epoch: bigint; added: readonly number[]; removed: readonly number[]; committer: number; external: boolean },
    seq: number | undefined,
  ): MembershipEvent {
    const after = g.isActive ? this.leafMap(g) : new Map<number, MemberDevice>();
    const committer = s.external ? after.get(s.committer) : (before.get(s.committer) ?? after.get(s.committer));
    const added = [...s.added.map((l) => after.get(l))];
    // An external commit adds the committer's own leaf.
    if (s.external && committer) added.push(committer);
    return {
      room: this.room,
      epoch: Number(s.epoch),
      seq,
      added: added.filter((x): x is MemberDevice => x !== undefined),
      removed: s.removed.map((l) => before.get(l)).filter((x): x is MemberDevice => x !== undefined),
      by: committer && { jid: committer.jid, device: committer.device },
      external: s.external,
    };
  }

  /** §10.3: trust on first use; warn when a known device's key changes, and about new devices of our own account. */
  private pinKeys(devices: readonly MemberDevice[], batch: Batch, initial = false): void {
    for (const d of devices) {
      const member = this.group?.members().find((m) => m.leafIndex === d.leaf);
      if (!member) continue;
      const key = member.signatureKey;
      void this.host.store
        .pin(d.jid, d.device, key)
        .then((res) => {
          if (res === "changed") {
            this.host.emit("warning", {
              room: this.room,
              kind: "signature-key-changed",
              jid: d.jid,
              device: d.device,
              message: `the signature key of ${d.jid} device ${d.device} changed`,
            });
          } else if (!initial && res === "new" && d.jid === this.host.me.jid && d.device !== this.host.me.device) {
            this.host.emit("warning", {
              room: this.room,
              kind: "new-own-device",
              jid: d.jid,
              device: d.device,
              message: `a new device of your account (${d.device}) was added to ${this.room}`,
            });
          }
        })
        .catch((err) => this.log.warn({ err }, "pinning a signature key failed"));
    }
    void batch;
  }

  private async processApplication(e: RoomEntry, g: Group, batch: Batch): Promise<void> {
    // Our own message coming back: never decrypt it (§6.7.3); it is now accepted.
    const own = e.originId !== undefined ? await this.isOwnReflection(e) : "no";
    if (own === "duplicate") return;
    if (own === "yes" && e.originId !== undefined) {
      const result: SendResult = { id: e.originId, seq: e.seq, epoch: e.epoch, stanzaId: e.stanzaId };
      batch.outbox.push({ contentId: e.originId, status: "accepted", seq: e.seq, epoch: e.epoch, stanzaId: e.stanzaId });
      batch.seen.push({ sender: this.host.me.jid, contentId: e.originId, seq: e.seq });
      const w = this.sendWaiters.get(e.originId);
      batch.events.push(() => {
        w?.resolve({ kind: "accepted", result });
        this.host.emit("sent", { room: this.room, ...result });
      });
      return;
    }
    if (e.epoch < this.joinEpoch) return; // sent before we joined
    let msg: MLSMessage;
    try {
      msg = decodeMessage(e.bytes, `application seq ${e.seq}`);
      if (msg.wireFormat !== "mls_private_message") throw new ClientError("protocol", `application seq ${e.seq} is not a PrivateMessage`);
    } catch (err) {
      this.undecryptable(batch, e, (err as Error).message);
      return;
    }
    let r;
    try {
      r = g.process(msg);
    } catch (err) {
      this.undecryptable(batch, e, (err as Error).message);
      return;
    }
    if (r.kind !== "application") return;
    const sender = this.deviceOfLeaf(g, r.sender);
    let from = sender?.jid;
    if (from === undefined && r.credential.type === "basic") from = new TextDecoder().decode(r.credential.identity) || undefined;
    let content;
    try {
      content = parseContent(r.data);
    } catch (err) {
      this.undecryptable(batch, e, `bad <content/>: ${(err as Error).message}`);
      return;
    }
    const fromJid = from ?? "unknown";
    const key = `${fromJid}\n${content.id}`;
    if (batch.seenKeys.has(key) || (await this.host.store.hasSeen(this.room, fromJid, content.id))) {
      this.log.debug({ seq: e.seq }, "duplicate message id dropped");
      return;
    }
    batch.seenKeys.add(key);
    batch.seen.push({ sender: fromJid, contentId: content.id, seq: e.seq });
    const ev: MessageEvent = {
      room: this.room,
      from: fromJid,
      device: sender?.device ?? "",
      id: content.id,
      epoch: e.epoch,
      seq: e.seq,
      text: content.body ?? "",
      stanzaId: e.stanzaId,
      time: content.time ?? e.delay ?? new Date(),
      delayed: e.delay !== undefined,
    };
    batch.events.push(() => this.host.emit("message", ev));
  }

  /** "yes": the reflection of a message of ours; "duplicate": of one already accepted; "no": someone else's. */
  private async isOwnReflection(e: RoomEntry): Promise<"yes" | "duplicate" | "no"> {
    const id = e.originId!;
    const sent = this.sentCiphertexts.get(id);
    if (sent !== undefined) return sent.has(hashBytes(e.bytes)) ? "yes" : "no";
    const rec = await this.host.store.outboxGet(this.room, id);
    if (rec === undefined || rec.status === "queued") return "no";
    return rec.status === "accepted" ? "duplicate" : "yes";
  }

  private undecryptable(batch: Batch, e: RoomEntry, why: string): void {
    this.log.warn({ seq: e.seq, epoch: e.epoch, why }, "application message not readable");
    batch.events.push(() =>
      this.host.emit("warning", { room: this.room, kind: "undecryptable", message: `message seq ${e.seq} (epoch ${e.epoch}) not readable: ${why}` }),
    );
  }

  private async processWelcome(w: RoomEntry): Promise<void> {
    let msg: MLSMessage;
    try {
      msg = decodeMessage(w.bytes, "welcome");
      if (msg.wireFormat !== "mls_welcome") throw new ClientError("protocol", "welcome is not an MLS Welcome");
    } catch (e) {
      this.host.reportError(e, "welcome", this.room);
      return;
    }
    let rec;
    for (const s of msg.welcome.secrets) {
      rec = await this.host.store.getKeyPackage(toHex(s.newMember));
      if (rec) break;
    }
    if (!rec) {
      this.log.warn({ seq: w.seq }, "welcome for none of our KeyPackages");
      if (!this.group) this.needsResync = "a Welcome for an unknown KeyPackage";
      return;
    }
    const svc = await this.host.service(this.domain);
    let group: Group;
    try {
      const kpMsg = decodeMessage(rec.keyPackage, "stored KeyPackage");
      if (kpMsg.wireFormat !== "mls_key_package") throw new ClientError("storage", "stored KeyPackage is not a KeyPackage");
      const keyPackage: KeyPackage = kpMsg.keyPackage;
      group = joinFromWelcome({
        cs: this.host.cs,
        welcome: msg,
        keyPackage,
        keyPackagePrivate: {
          initPrivateKey: rec.initPrivateKey,
          encryptionPrivateKey: rec.encryptionPrivateKey,
          signaturePrivateKey: this.host.signaturePrivateKey,
        },
        ratchetTree: w.ratchetTree ? decodeTree(w.ratchetTree) : undefined,
        options: groupOptions(svc.maxEpochLag),
      });
      checkExternalSenders(group.groupContext, this.domain, svc.externalSenderKey);
      for (const m of group.members()) {
        if (!leafIdentity(m.leafNode)) throw new ClientError("verification", `leaf ${m.leafIndex} has no valid JID / device id (§7.6.2)`);
      }
    } catch (e) {
      this.host.reportError(e, `welcome seq ${w.seq}`, this.room);
      if (!this.group) this.needsResync = "the Welcome could not be processed";
      return;
    }
    this.group = group;
    this.status = "member";
    this.lastSeq = w.seq;
    this.joinEpoch = Number(group.epoch);
    this.needsSelfUpdate = this.host.options.selfUpdate;
    this.leafUpdatedAt = this.unixNow();
    for (const s of [...this.buffer.keys()]) if (s <= w.seq) this.buffer.delete(s);
    const batch = new Batch();
    if (!rec.lastResort) batch.deleteKeyPackages.push(rec.ref);
    const members = this.memberDevices();
    batch.events.push(() => this.host.emit("joined", { room: this.room, epoch: Number(group.epoch), via: "welcome", members }));
    this.pinKeys(members, batch, true);
    const saved = this.save(batch);
    this.welcomeSaved = saved.catch(() => undefined);
    await saved;
    this.log.info({ epoch: Number(group.epoch), seq: w.seq }, "joined by Welcome");
    if (this.needsSelfUpdate) this.scheduleCommit();
  }

  // ================================================================ gaps and catch-up (§6.8)

  private updateGapTimer(): void {
    const gap = this.isMember && this.buffer.size > 0 && !this.buffer.has(this.lastSeq + 1);
    if (!gap) {
      if (this.gapTimer) clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
      return;
    }
    if (this.gapTimer || this.closed) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      this.queue.run(() => this.catchUpInQueue()).catch((e) => this.host.reportError(e, "catch-up", this.room));
    }, this.host.options.gapTimeoutMs);
    this.gapTimer.unref?.();
  }

  /** A catch-up soon (after a failed write, the entries of the lost step come again). */
  private scheduleCatchUp(): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.queue.run(() => this.catchUpInQueue()).catch((e) => this.host.reportError(e, "catch-up", this.room));
    }, this.host.options.gapTimeoutMs);
    t.unref?.();
  }

  private get hasGap(): boolean {
    return this.buffer.size > 0 && !this.buffer.has(this.lastSeq + 1);
  }

  /** Requests everything after our cursor until complete, processing as it comes. */
  private async catchUpInQueue(): Promise<void> {
    const svc = await this.host.service(this.domain);
    let after = this.lastSeq;
    for (let round = 0; round < 10_000; round++) {
      let reply: Element;
      try {
        reply = await this.host.request(
          xml(
            "iq",
            { type: "get", to: this.room },
            xml("catch-up", { xmlns: NS.MLS, device: this.host.me.device, after: String(after), max: String(svc.maxCatchUp) }),
          ),
          "catch-up",
          this.room,
        );
      } catch (e) {
        if (isClientError(e) && e.mlsCondition === "history-expired") {
          await this.resyncInQueue("history expired");
          return;
        }
        throw e;
      }
      const cu = reply.getChild("caught-up", NS.MLS);
      if (!cu) throw new ClientError("protocol", "catch-up result without <caught-up/>", { room: this.room });
      const last = uintAttr(cu, "last") ?? after;
      const complete = cu.attrs["complete"] === "true" || cu.attrs["complete"] === "1";
      await this.drainInQueue();
      if (complete || last <= after) break;
      after = Math.max(last, this.lastSeq);
    }
    // §6.5.3: a commit of ours whose answer was lost and that is not in the log is discarded.
    if (this.group?.hasPendingCommit) {
      this.group.clearPendingCommit();
      await this.save();
    }
  }

  /** Catch up now (outside the queue). */
  catchUp(): Promise<void> {
    return this.queue.run(() => this.catchUpInQueue());
  }

  // ================================================================ commits (§6.5)

  private scheduleCommit(): void {
    if (this.commitTimer || this.closed || this.destroying) return;
    const delay = Math.max(Math.floor(Math.random() * (this.host.options.commitDelayMs + 1)), this.commitNotBefore - Date.now());
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      this.queue
        .run(async () => {
          const outcome = await this.maybeCommitInQueue();
          if (outcome === "conflict" || outcome === "unknown") this.scheduleCommitIfNeeded();
        })
        .catch((e) => this.host.reportError(e, "commit", this.room));
    }, delay);
    this.commitTimer.unref?.();
  }

  private scheduleCommitIfNeeded(): void {
    const g = this.group;
    if (!g || !this.isMember) return;
    if (g.pendingProposals().length > 0 || this.needsSelfUpdate) this.scheduleCommit();
  }

  private cancelCommitTimer(): void {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
  }

  /** Whether a commit is due now: proposals pending (none removing us) or a self-update wanted. */
  private commitDue(): boolean {
    const g = this.group;
    if (!g || !this.isMember) return false;
    const pending = g.pendingProposals();
    if (pending.some((p) => p.proposal.type === "remove" && p.proposal.removed === g.leafIndex)) return false;
    return pending.length > 0 || this.needsSelfUpdate;
  }

  private async maybeCommitInQueue(): Promise<CommitOutcome> {
    if (this.closed || this.destroying || !this.commitDue()) return "none";
    if (this.hasGap) {
      // §6.5.1: not while entries are missing.
      await this.catchUpInQueue();
      if (!this.commitDue()) return "none";
    }
    return this.commitInQueue();
  }

  /** Creates, submits and (on acceptance) merges a commit of all pending proposals, with a path. */
  private async commitInQueue(): Promise<CommitOutcome> {
    const g = this.group!;
    const before = this.leafMap(g);
    let created;
    try {
      // §6.5.2: the GroupInfo for the DS carries no ratchet tree (the DS keeps it).
      created = g.commit({ forcePath: true, groupInfoRatchetTree: false });
    } catch (e) {
      this.host.reportError(e, "creating a commit", this.room);
      return "failed";
    }
    const groupInfo = created.groupInfo;
    // The pending commit is durable before it leaves: after a crash its fan-out still merges it.
    await this.save();
    const children = [xml("commit-message", {}, toBase64(encodeMessage(created.commit)))];
    if (created.welcome) children.push(xml("welcome", {}, toBase64(encodeMessage(created.welcome))));
    children.push(xml("group-info", {}, toBase64(encodeMessage(groupInfo))));
    let reply: Element;
    try {
      reply = await this.host.request(xml("iq", { type: "set", to: this.room }, xml("commit", { xmlns: NS.MLS }, ...children)), "commit", this.room);
    } catch (e) {
      const err = toClientError(e, "connection", "commit", this.room);
      if (err.code === "timeout" || err.code === "connection") {
        // §6.5.3: no answer: do not merge; the log tells (catch-up).
        this.log.warn({ err }, "commit unanswered; catching up");
        await this.catchUpInQueue().catch((x) => this.host.reportError(x, "catch-up", this.room));
        return "unknown";
      }
      g.clearPendingCommit();
      await this.save();
      switch (err.mlsCondition) {
        case "epoch-mismatch":
        case "missing-proposals":
          this.log.info({ condition: err.mlsCondition }, "commit lost the epoch; catching up to rebase");
          await this.catchUpInQueue();
          return "conflict";
        case "rate-limited": {
          const after = Number(err.mlsAttrs["retry-after"] ?? "5");
          this.commitNotBefore = Date.now() + Math.min(300, Number.isFinite(after) ? after : 5) * 1000;
          return "conflict";
        }
        default:
          this.host.reportError(err, "commit refused", this.room);
          return "failed";
      }
    }
    const acc = reply.getChild("accepted", NS.MLS);
    const seq = acc ? uintAttr(acc, "seq") : undefined;
    const summary = g.mergePendingCommit();
    if (summary.pathIncluded) this.leafRefreshed();
    if (seq !== undefined && seq === this.lastSeq + 1) this.lastSeq = seq;
    const batch = new Batch();
    const ev = this.membershipEvent(g, before, summary, seq);
    batch.events.push(() => this.host.emit("membership", ev));
    this.pinKeys(ev.added, batch);
    await this.save(batch);
    this.log.info({ epoch: Number(g.epoch), seq }, "commit accepted");
    this.notifyWatchers();
    return "accepted";
  }

  // ================================================================ joining

  private async sendJoinPresence(): Promise<Set<number>> {
    const local = parseJid(this.host.me.jid).local;
    const nicks = [this.nick ?? this.host.options.nick ?? local, `${local}-${this.host.me.device}`];
    for (let i = 0; i < nicks.length; i++) {
      const nick = nicks[i]!;
      const to = `${this.room}/${nick}`;
      const got = new Deferred<Element>();
      const matcher = (p: Element): boolean => {
        const from = p.attrs["from"];
        if (p.attrs["type"] === "error" && from === to) return got.resolve(p), true;
        if (p.attrs["type"] !== "error" && (from === to || mucStatusCodes(p).has(110))) return got.resolve(p), true;
        return false;
      };
      this.presenceWaiters.add(matcher);
      // §6.3: `after` = the highest seq processed (0 for none: a pending Welcome is then pushed again).
      const device = xml("device", { xmlns: NS.MLS, id: this.host.me.device, after: String(this.lastSeq) });
      const timer = setTimeout(
        () => got.reject(new ClientError("timeout", `no answer to the join presence of ${to}`, { room: this.room })),
        this.host.options.iqTimeoutMs,
      );
      try {
        this.nick = nick;
        await this.host.transport.send(xml("presence", { to }, xml("x", { xmlns: NS.MUC }), device));
        const p = await got.promise;
        if (p.attrs["type"] === "error") {
          const err = stanzaError(p, `joining ${this.room}`, this.room);
          if (err.condition === "conflict" && i + 1 < nicks.length) continue;
          throw err;
        }
        this.occupant = true;
        return mucStatusCodes(p);
      } finally {
        clearTimeout(timer);
        this.presenceWaiters.delete(matcher);
      }
    }
    throw new ClientError("conflict", `no free nick in ${this.room}`, { room: this.room });
  }

  private waitCaughtUp(timeoutMs: number): Promise<{ last: number; complete: boolean } | undefined> {
    const d = new Deferred<{ last: number; complete: boolean }>();
    this.caughtUpWaiters.add(d);
    const timer = setTimeout(() => {
      this.caughtUpWaiters.delete(d);
      d.resolve({ last: -1, complete: false });
    }, timeoutMs);
    return d.promise.then((v) => {
      clearTimeout(timer);
      return v.last < 0 ? undefined : v;
    });
  }

  async roomInfo(): Promise<RoomInfo | undefined> {
    try {
      const r = await this.host.request(xml("iq", { type: "get", to: this.room }, xml("query", { xmlns: NS.DISCO_INFO })), "room disco", this.room);
      const q = r.getChild("query", NS.DISCO_INFO);
      return q ? parseRoomInfo(q, this.room) : undefined;
    } catch (e) {
      this.log.debug({ err: e }, "room disco#info failed");
      return undefined;
    }
  }

  /**
   * Joins the room (MUC presence with <device/>), processes the join push and
   * catches up; if this device is not a member, waits for a Welcome (group
   * rooms, when it has KeyPackages) and otherwise joins by external commit.
   */
  join(): Promise<void> {
    if (this.joining) return this.joining;
    const p = this.doJoin().finally(() => {
      if (this.joining === p) this.joining = undefined;
    });
    this.joining = p;
    return p;
  }

  private async doJoin(): Promise<void> {
    if (this.destroying) throw this.destroyedError();
    await this.host.service(this.domain);
    const info = await this.roomInfo();
    if (info) this.kind = info.kind;
    const caught = this.waitCaughtUp(this.host.options.joinTimeoutMs);
    let codes: Set<number>;
    try {
      codes = await this.sendJoinPresence();
    } catch (e) {
      for (const w of this.caughtUpWaiters) w.resolve({ last: -1, complete: false });
      this.caughtUpWaiters.clear();
      throw e;
    }
    if (codes.has(201)) {
      // Our join created the room (XEP-0045 §10.1.1): there was none. Leave, so
      // that the new unbound room goes away again (docs/protocol.md §6.2);
      // join() never creates a room, createRoom() does.
      await this.host.transport.send(xml("presence", { to: `${this.room}/${this.nick ?? ""}`, type: "unavailable" })).catch(() => undefined);
      this.occupant = false;
      for (const w of this.caughtUpWaiters) w.resolve({ last: -1, complete: false });
      this.caughtUpWaiters.clear();
      if (this.hadRoom) {
        // The room this device was in was destroyed while it was away (§10.9: no presence reached it): drop our state.
        this.log.info("the room was destroyed while this device was away");
        await this.destroyed({ room: this.room, reason: undefined, alternate: undefined });
        throw this.destroyedError();
      }
      throw new ClientError("stanza", `${this.room} does not exist (createRoom() creates a room, join() does not)`, {
        condition: "item-not-found",
        type: "cancel",
        room: this.room,
      });
    }
    this.autoJoin = true;
    await caught;
    if (this.destroying) throw this.destroyedError();
    await this.queue.run(async () => {
      try {
        await this.catchUpInQueue();
      } catch (e) {
        // A device that is not a member yet may have nothing to catch up.
        if (this.isMember) throw e;
        this.log.debug({ err: e }, "catch-up before membership failed");
      }
      await this.save();
    });
    if (!this.isMember) await this.becomeMember(info);
    // isMember turns true while the task processing a Welcome is still saving the state (its "joined"
    // event comes after the save): resolve only once that save is done.
    await this.welcomeSaved;
    // Proposals still pending (e.g. our commit of them bounced while the service was away): commit now (§6.5.1).
    this.scheduleCommitIfNeeded();
    this.resendPending();
  }

  private async becomeMember(info: RoomInfo | undefined): Promise<void> {
    const kind = info?.kind ?? this.kind ?? "group";
    if (kind === "group") {
      const count = await this.host.keyPackageCount(this.domain).catch(() => ({ available: 0, lastResort: false }));
      if (count.available > 0 || count.lastResort) {
        // §6.3: the DS proposes our Add; give a member time to commit it.
        await this.waitFor(() => this.isMember, this.host.options.welcomeWaitMs).catch(() => undefined);
        if (this.isMember) return;
        await this.catchUp();
        if (this.isMember) return;
      }
    }
    await this.queue.run(() => this.externalJoinInQueue(undefined));
  }

  private async resyncInQueue(why: string): Promise<void> {
    this.log.warn({ why }, "rejoining by external commit (resync)");
    this.host.emit("warning", { room: this.room, kind: "resync", message: `rejoining ${this.room} by external commit: ${why}` });
    await this.externalJoinInQueue(why);
  }

  /** §6.9: joins (or resyncs) by external commit. */
  private async externalJoinInQueue(why: string | undefined): Promise<void> {
    const svc = await this.host.service(this.domain);
    for (let attempt = 0; attempt < 5; attempt++) {
      // A Welcome that arrived meanwhile wins (§6.3).
      if (!this.isMember && this.welcomes.length > 0) {
        await this.drainInQueue();
        if (this.isMember) return;
      }
      const reply = await this.host.request(
        xml("iq", { type: "get", to: this.room }, xml("group-info", { xmlns: NS.MLS })),
        "group-info",
        this.room,
      );
      const gi = reply.getChild("group-info", NS.MLS);
      const msgEl = gi?.getChild("message");
      if (!gi || !msgEl) throw new ClientError("protocol", "group-info result without <message/>", { room: this.room });
      const infoMsg = decodeMessage(fromBase64(msgEl.getText(), "group-info message"), "GroupInfo");
      if (infoMsg.wireFormat !== "mls_group_info") throw new ClientError("protocol", "group-info is not a GroupInfo", { room: this.room });
      const treeEl = gi.getChild("ratchet-tree");
      const nodes = treeEl ? decodeTree(fromBase64(treeEl.getText(), "ratchet-tree")) : undefined;
      checkExternalSenders(infoMsg.groupInfo.groupContext, this.domain, svc.externalSenderKey);
      const removeLeaf = nodes ? findLeaf(nodes, this.host.me) : undefined;
      let joined;
      try {
        joined = joinExternal({
          cs: this.host.cs,
          credential: basicCredential(utf8Bytes(this.host.me.jid)),
          signaturePrivateKey: this.host.signaturePrivateKey,
          signaturePublicKey: this.host.signaturePublicKey,
          leafExtensions: [applicationIdExtension(this.host.me.device)],
          groupInfo: infoMsg,
          ratchetTree: nodes,
          removeLeaf,
          options: groupOptions(svc.maxEpochLag),
        });
      } catch (e) {
        throw toClientError(e, "mls", "external join", this.room);
      }
      const ownInfo = joined.group.groupInfo({ ratchetTree: false });
      let res: Element;
      try {
        res = await this.host.request(
          xml(
            "iq",
            { type: "set", to: this.room },
            xml(
              "commit",
              { xmlns: NS.MLS },
              xml("commit-message", {}, toBase64(encodeMessage(joined.commit))),
              xml("group-info", {}, toBase64(encodeMessage(ownInfo))),
            ),
          ),
          "external commit",
          this.room,
        );
      } catch (e) {
        if (isClientError(e) && e.mlsCondition === "epoch-mismatch") continue;
        throw e;
      }
      const acc = res.getChild("accepted", NS.MLS);
      const seq = acc ? uintAttr(acc, "seq") : undefined;
      if (seq === undefined) throw new ClientError("protocol", "commit result without <accepted seq/>", { room: this.room });
      this.group = joined.group;
      this.status = "member";
      this.lastSeq = seq;
      this.joinEpoch = Number(joined.group.epoch);
      this.leafRefreshed();
      this.welcomes = [];
      for (const s of [...this.buffer.keys()]) if (s <= seq) this.buffer.delete(s);
      const batch = new Batch();
      const members = this.memberDevices();
      batch.events.push(() =>
        this.host.emit("joined", { room: this.room, epoch: Number(joined.group.epoch), via: "external-commit", members }),
      );
      this.pinKeys(members, batch, true);
      await this.save(batch);
      this.log.info({ epoch: Number(joined.group.epoch), seq, resync: removeLeaf !== undefined, why }, "joined by external commit");
      await this.drainInQueue();
      return;
    }
    throw new ClientError("conflict", "external join: the epoch kept changing", { room: this.room });
  }

  /**
   * §6.10: switches a bound room between group (members-only) and channel
   * (open). Owners only; the service then proposes the membership difference,
   * which members commit as usual.
   */
  async setKind(kind: RoomKind): Promise<void> {
    if (!this.isMember) throw new ClientError("not-member", `not a member of ${this.room}`, { room: this.room });
    await this.configure(kind);
    await this.queue.run(async () => {
      this.kind = kind;
      await this.save(new Batch());
    });
    this.log.info({ kind }, "room kind changed");
  }

  /** §6.10: the room's muc#roomconfig for a kind (group = members-only and unlisted, channel = open and listed). */
  private async configure(kind: RoomKind): Promise<void> {
    const form = submitForm(`${NS.MUC}#roomconfig`, {
      "muc#roomconfig_membersonly": kind === "group" ? "1" : "0",
      "muc#roomconfig_persistentroom": "1",
      "muc#roomconfig_publicroom": kind === "group" ? "0" : "1",
      "muc#roomconfig_whois": "anyone",
    });
    await this.host.request(xml("iq", { type: "set", to: this.room }, xml("query", { xmlns: NS.MUC_OWNER }, form)), "room configuration", this.room);
  }

  /** §6.2: creates the room (MUC), configures it, creates the MLS group and binds it. */
  async create(kind: RoomKind): Promise<void> {
    const svc = await this.host.service(this.domain);
    if (this.group) throw new ClientError("conflict", `${this.room} already exists (this device is a member)`, { room: this.room });
    const codes = await this.sendJoinPresence();
    if (!codes.has(201)) {
      await this.leave().catch(() => undefined);
      throw new ClientError("conflict", `${this.room} already exists`, { room: this.room });
    }
    try {
      await this.configure(kind);
      const group = createGroup({
        cs: this.host.cs,
        credential: basicCredential(utf8Bytes(this.host.me.jid)),
        signaturePrivateKey: this.host.signaturePrivateKey,
        signaturePublicKey: this.host.signaturePublicKey,
        leafExtensions: [applicationIdExtension(this.host.me.device)],
        extensions: [externalSendersExtension([{ signatureKey: svc.externalSenderKey, credential: basicCredential(utf8Bytes(this.domain)) }])],
        options: groupOptions(svc.maxEpochLag),
      });
      const gi = group.groupInfo({ ratchetTree: true, externalPub: true });
      await this.host.request(
        xml("iq", { type: "set", to: this.room }, xml("bind", { xmlns: NS.MLS }, xml("group-info", {}, toBase64(encodeMessage(gi))))),
        "bind",
        this.room,
      );
      await this.queue.run(async () => {
        this.group = group;
        this.kind = kind;
        this.status = "member";
        this.lastSeq = 0;
        this.joinEpoch = 0;
        this.leafUpdatedAt = this.unixNow();
        this.autoJoin = true;
        const batch = new Batch();
        const members = this.memberDevices();
        batch.events.push(() => this.host.emit("joined", { room: this.room, epoch: 0, via: "create", members }));
        await this.save(batch);
        await this.drainInQueue();
      });
    } catch (e) {
      // An unbound room is destroyed when its creator leaves (§6.2).
      await this.leave().catch(() => undefined);
      throw e;
    }
  }

  /** Leaves the MUC room (unavailable presence); the device stays an MLS member in group rooms. */
  async leave(): Promise<void> {
    this.autoJoin = false;
    if (this.nick !== undefined && this.occupant) {
      await this.host.transport.send(xml("presence", { to: `${this.room}/${this.nick}`, type: "unavailable" }));
    }
    this.occupant = false;
    await this.queue.run(() => this.save());
  }

  // ================================================================ sending (§6.7)

  async send(text: string, id: string = randomUUID()): Promise<SendResult> {
    if (!this.isMember) {
      throw new ClientError(this.status === "removed" ? "removed" : "not-member", `not a member of ${this.room}`, { room: this.room });
    }
    const content = buildContent(id, text);
    await this.host.store.outboxAdd(this.room, id, content);
    this.selfUpdateIfDue();
    return this.deliver(id, content);
  }

  private unixNow(): number {
    return Math.floor(this.host.options.now() / 1000);
  }

  /** Our leaf was just replaced by a fresh one (join, or our own commit with a path). */
  private leafRefreshed(): void {
    this.needsSelfUpdate = false;
    this.leafUpdatedAt = this.unixNow();
  }

  /**
   * §6.5.1: a device that is active in the room refreshes its leaf with an
   * empty commit when the last refresh is older than the configured interval
   * (7 days by default), so that a compromise of its current keys stops
   * exposing later epochs.
   */
  private selfUpdateIfDue(): void {
    const interval = this.host.options.selfUpdateIntervalSeconds;
    if (interval <= 0 || this.needsSelfUpdate || !this.isMember) return;
    if (this.unixNow() - this.leafUpdatedAt < interval) return;
    this.log.info({ lastRefresh: this.leafUpdatedAt }, "leaf older than the self-update interval: refreshing it");
    this.needsSelfUpdate = true;
    this.scheduleCommit();
  }

  /** Encrypts and sends one outbox message until the service accepts it (re-encrypting after stale-epoch). */
  private async deliver(contentId: string, content: string): Promise<SendResult> {
    if (this.inflight.has(contentId)) throw new ClientError("conflict", `message ${contentId} is already being sent`, { room: this.room });
    this.inflight.add(contentId);
    try {
      return await this.deliverAttempts(contentId, content);
    } finally {
      this.inflight.delete(contentId);
      this.sentCiphertexts.delete(contentId);
    }
  }

  private async deliverAttempts(contentId: string, content: string): Promise<SendResult> {
    let lastError: ClientError | undefined;
    for (let attempt = 0; attempt < this.host.options.maxSendAttempts; attempt++) {
      const step = await this.queue.run(async () => {
        try {
          return await this.sendAttemptInQueue(contentId, content);
        } catch (e) {
          this.sendWaiters.delete(contentId);
          // Never sent and never will be: not a member any more.
          if (isClientError(e) && (e.code === "removed" || e.code === "not-member" || e.code === "destroyed")) {
            await this.host.store.outboxUpdate(this.room, { contentId, status: "failed" }).catch(() => undefined);
          }
          // Otherwise (connection lost...) it stays in the outbox: re-sent after the next join.
          throw e;
        }
      });
      if ("done" in step) return step.done;
      const waiter = step.waiter;
      const timer = setTimeout(() => waiter.resolve({ kind: "timeout" }), this.host.options.sendTimeoutMs);
      const outcome = await waiter.promise;
      clearTimeout(timer);
      this.sendWaiters.delete(contentId);
      if (outcome.kind === "accepted") return outcome.result;
      if (outcome.kind === "timeout") {
        lastError = new ClientError("timeout", `message ${contentId} not reflected within ${this.host.options.sendTimeoutMs} ms`, { room: this.room });
        await this.catchUp().catch(() => undefined);
        continue;
      }
      const err = outcome.error;
      lastError = err;
      // Closed: the message stays in the outbox and is re-sent by the next session.
      if (err.code === "removed" || err.code === "not-member" || err.code === "closed" || err.code === "destroyed") throw err;
      if (err.mlsCondition === "stale-epoch" || err.mlsCondition === "epoch-mismatch") {
        // §6.7.4 / §7.6.7: catch up, then re-encrypt the same <content/> in the current epoch.
        this.log.info({ condition: err.mlsCondition }, "message refused for its epoch; catching up to re-send");
        await this.catchUp();
        continue;
      }
      if (err.mlsCondition === "rate-limited") {
        const s = Number(err.mlsAttrs["retry-after"] ?? "1");
        await new Promise((r) => setTimeout(r, Math.min(30, Number.isFinite(s) ? s : 1) * 1000));
        continue;
      }
      await this.host.store.outboxUpdate(this.room, { contentId, status: "failed" }).catch(() => undefined);
      throw err;
    }
    throw lastError ?? new ClientError("timeout", `message ${contentId} not accepted`, { room: this.room });
  }

  /** One attempt: encrypt in the current epoch, persist, send; returns the waiter of its outcome. */
  private async sendAttemptInQueue(contentId: string, content: string): Promise<{ done: SendResult } | { waiter: Deferred<SendOutcome> }> {
    const rec = await this.host.store.outboxGet(this.room, contentId);
    if (rec?.status === "accepted") {
      return { done: { id: contentId, seq: rec.seq ?? 0, epoch: rec.epoch ?? 0, stanzaId: rec.stanzaId } };
    }
    if (this.destroying) throw this.destroyedError();
    await this.ensureCanSendInQueue();
    const g = this.group!;
    const waiter = new Deferred<SendOutcome>();
    this.sendWaiters.set(contentId, waiter);
    const mls = g.encrypt(new TextEncoder().encode(content));
    const bytes = encodeMessage(mls);
    const hashes = this.sentCiphertexts.get(contentId) ?? new Set<string>();
    hashes.add(hashBytes(bytes));
    this.sentCiphertexts.set(contentId, hashes);
    // The consumed generation is durable before the ciphertext leaves (no key reuse after a crash).
    const batch = new Batch();
    batch.outbox.push({ contentId, status: "sent", epoch: Number(g.epoch), incrementAttempts: true });
    await this.save(batch);
    await this.host.transport.send(applicationMessage(this.room, contentId, bytes));
    return { waiter };
  }

  /** §7.6.9 / the library's rule: no pending proposals when sending; commit them first. */
  private async ensureCanSendInQueue(): Promise<void> {
    for (let i = 0; i < 8; i++) {
      const g = this.group;
      if (!g || !this.isMember) {
        throw new ClientError(this.status === "removed" ? "removed" : "not-member", `not a member of ${this.room}`, { room: this.room });
      }
      const pending = g.pendingProposals();
      if (pending.some((p) => p.proposal.type === "remove" && p.proposal.removed === g.leafIndex)) {
        throw new ClientError("removed", `this device's removal from ${this.room} is pending`, { room: this.room });
      }
      if (pending.length === 0) return;
      this.cancelCommitTimer();
      const outcome = await this.commitInQueue();
      if (outcome === "failed") throw new ClientError("mls", `cannot commit the pending proposals of ${this.room}`, { room: this.room });
    }
    throw new ClientError("conflict", `${this.room}: proposals keep arriving; try again`, { room: this.room });
  }

  /** Re-sends what was queued or sent but never reflected (after a restart or reconnect). */
  private resendPending(): void {
    void this.host.store
      .outboxPending(this.room)
      .then((list) => {
        for (const o of list) {
          if (this.inflight.has(o.contentId)) continue;
          this.deliver(o.contentId, o.content).catch((e) => this.host.reportError(e, `re-sending message ${o.contentId}`, this.room));
        }
      })
      .catch((e) => this.host.reportError(e, "reading the outbox", this.room));
  }

  private failWaiters(err: ClientError): void {
    for (const w of this.sendWaiters.values()) w.resolve({ kind: "error", error: err });
  }

  // ================================================================ affiliations (§6.4, §6.6)

  async setAffiliation(jid: string, affiliation: AffiliationResult["affiliation"], reason?: string): Promise<void> {
    const item = xml("item", { affiliation, jid });
    if (reason) item.append(xml("reason", {}, reason));
    await this.host.request(xml("iq", { type: "set", to: this.room }, xml("query", { xmlns: NS.MUC_ADMIN }, item)), `affiliation ${affiliation}`, this.room);
  }

  async affiliations(): Promise<RoomMembers["affiliations"]> {
    const out: { jid: string; affiliation: (typeof AFFILIATIONS)[number] }[] = [];
    let any = false;
    for (const affiliation of AFFILIATIONS) {
      try {
        const r = await this.host.request(
          xml("iq", { type: "get", to: this.room }, xml("query", { xmlns: NS.MUC_ADMIN }, xml("item", { affiliation }))),
          "affiliation list",
          this.room,
        );
        any = true;
        for (const it of r.getChild("query", NS.MUC_ADMIN)?.getChildren("item") ?? []) {
          const j = it.attrs["jid"];
          if (j) out.push({ jid: j, affiliation });
        }
      } catch (e) {
        this.log.debug({ err: e, affiliation }, "affiliation list not readable");
      }
    }
    return any ? out : undefined;
  }

  /** Index into the Add proposals seen so far (for invite). */
  get proposedAddCount(): number {
    return this.proposedAdds.length;
  }

  /**
   * Invite: resolves with the devices of `jid` whose Add (proposed by the
   * service after `since`) is now in the group; with [] when no Add for `jid`
   * was proposed within `proposalWaitMs`.
   */
  async waitAdded(jid: string, since: number, proposalWaitMs: number, timeoutMs: number): Promise<DeviceRef[]> {
    const t0 = Date.now();
    let result: DeviceRef[] = [];
    await this.waitFor(() => {
      const proposed = this.proposedAdds.slice(since).filter((d) => d.jid === jid);
      if (proposed.length === 0) return Date.now() - t0 >= proposalWaitMs;
      const present = new Set(this.memberDevices().map((d) => `${d.jid}/${d.device}`));
      if (proposed.every((d) => present.has(`${d.jid}/${d.device}`))) {
        result = proposed;
        return true;
      }
      return false;
    }, timeoutMs, proposalWaitMs);
    return result;
  }

  /** Remove/ban: resolves once no leaf of `jid` is left in the group (or we are out). */
  async waitRemoved(jid: string, timeoutMs: number): Promise<DeviceRef[]> {
    const had = this.memberDevices().filter((d) => d.jid === jid);
    await this.waitFor(() => !this.isMember || !this.memberDevices().some((d) => d.jid === jid), timeoutMs);
    return had.map((d) => ({ jid: d.jid, device: d.device }));
  }

  /** Resolves when `check` holds (re-checked after every processed change, and at `recheckMs`). */
  waitFor(check: () => boolean, timeoutMs: number, recheckMs?: number): Promise<void> {
    if (check()) return Promise.resolve();
    const d = new Deferred<void>();
    const w: Watcher = {
      check: () => {
        if (!check()) return false;
        d.resolve();
        return true;
      },
      fail: (e) => d.reject(e),
    };
    this.watchers.add(w);
    const timer = setTimeout(
      () => d.reject(new ClientError("timeout", `${this.room}: condition not met within ${timeoutMs} ms`, { room: this.room })),
      timeoutMs,
    );
    const re = recheckMs !== undefined ? setTimeout(() => w.check(), recheckMs + 5) : undefined;
    return d.promise.finally(() => {
      clearTimeout(timer);
      if (re) clearTimeout(re);
      this.watchers.delete(w);
    });
  }

  private notifyWatchers(): void {
    for (const w of [...this.watchers]) if (w.check()) this.watchers.delete(w);
  }

  // ================================================================ lifecycle

  /** After a reconnect: rejoin (presence + push) and catch up. */
  async rejoin(): Promise<void> {
    if (!this.autoJoin) return;
    this.occupant = false;
    await this.join();
  }

  /** Waits for queued work (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Stops the session; what waits on it fails with `reason` (default: code "closed"). */
  close(reason: ClientError = new ClientError("closed", "client closed", { room: this.room })): void {
    this.closed = true;
    this.cancelCommitTimer();
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
    this.failWaiters(reason);
    for (const w of this.caughtUpWaiters) w.resolve({ last: -1, complete: false });
    this.caughtUpWaiters.clear();
    for (const w of this.subjectWaiters) w.done.reject(reason);
    for (const w of [...this.watchers]) w.fail(reason);
    this.watchers.clear();
  }

  // ================================================================ subject (XEP-0045 §8.1)

  /**
   * Changes the room's subject: a groupchat message with only <subject/>
   * (§8.1). Resolves when the room reflects the change; rejects with the
   * room's stanza error (e.g. forbidden: only moderators, unless
   * muc#roomconfig_changesubject lets participants). The subject is plain MUC
   * metadata, not MLS-encrypted: the service reads it.
   */
  async setSubject(subject: string): Promise<void> {
    if (this.destroying) throw this.destroyedError();
    if (!this.occupant) throw new ClientError("not-member", `not an occupant of ${this.room}`, { room: this.room });
    const w: SubjectWaiter = { id: randomUUID(), subject, done: new Deferred<void>() };
    this.subjectWaiters.add(w);
    const ms = this.host.options.sendTimeoutMs;
    const timer = setTimeout(
      () => w.done.reject(new ClientError("timeout", `the subject change was not reflected within ${ms} ms`, { room: this.room })),
      ms,
    );
    try {
      await this.host.transport.send(xml("message", { type: "groupchat", to: this.room, id: w.id }, xml("subject", {}, subject)));
      await w.done.promise;
    } finally {
      clearTimeout(timer);
      this.subjectWaiters.delete(w);
    }
  }

  // ================================================================ destruction (XEP-0045 §10.9)

  private destroyedError(): ClientError {
    return new ClientError("destroyed", `${this.room} was destroyed`, { room: this.room });
  }

  /** Owners: destroys the room (§10.9), then drops this device's state for it like any occupant. */
  async destroyRoom(o: { readonly reason?: string | undefined; readonly alternate?: string | undefined }): Promise<void> {
    const d = xml("destroy", o.alternate !== undefined ? { jid: o.alternate } : {});
    if (o.reason !== undefined) d.append(xml("reason", {}, o.reason));
    await this.host.request(xml("iq", { type: "set", to: this.room }, xml("query", { xmlns: NS.MUC_OWNER }, d)), "destroying the room", this.room);
    // When we were an occupant, our <destroy/> presence came before the result and this joins that teardown.
    await this.destroyed({ room: this.room, reason: o.reason, alternate: o.alternate });
  }

  /**
   * The room is gone (§10.9). Stops for good: no rejoin, no commit, no
   * external join; what waits on the room fails with code "destroyed". Entries
   * that arrived before the destruction are still processed (their events
   * fire). Then the room's state is deleted (docs/protocol.md §6.10: clients
   * delete their group state), the client forgets this session and emits
   * "destroyed". Idempotent: every call returns the first one's promise.
   */
  destroyed(ev: DestroyedEvent): Promise<void> {
    if (this.teardown) return this.teardown;
    this.destroying = true;
    this.autoJoin = false;
    this.occupant = false;
    this.cancelCommitTimer();
    this.log.info({ reason: ev.reason, alternate: ev.alternate }, "room destroyed; dropping its state");
    this.teardown = this.queue
      .run(async () => {
        if (!this.closed) await this.drainInQueue().catch((e) => this.log.debug({ err: e }, "last drain of a destroyed room failed"));
        this.close(this.destroyedError());
        this.stateDropped = true;
        this.group = undefined;
        this.buffer.clear();
        this.welcomes = [];
        await this.host.store.deleteRoom(this.room);
      })
      .catch((e) => this.host.reportError(e, "deleting the state of a destroyed room", this.room))
      .then(() => {
        this.host.forget(this);
        this.host.emit("destroyed", ev);
      });
    return this.teardown;
  }

  /** The teardown of a destroyed room, when one started (the client waits for it before reusing the room JID). */
  get destruction(): Promise<void> | undefined {
    return this.teardown;
  }
}

function hashBytes(b: Uint8Array): string {
  // Not a security check: tells our own ciphertext from another with the same origin-id.
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${b.length}:${h.toString(16)}`;
}
