/**
 * The Delivery Service (docs/protocol.md §6, §7): KeyPackage directory,
 * binding, commit ordering (one accepted commit per epoch), application
 * messages, membership convergence and the room log. XMPP-free: the
 * component turns requests into calls and the returned outputs into stanzas.
 *
 * Every room operation runs under that room's lock; every accepted entry is
 * durably stored (with who receives it) before it is answered or fanned out.
 */
import { randomUUID } from "node:crypto";
import {
  bytesKey,
  decode,
  decodeMLSMessage,
  deserializePublicGroup,
  encode,
  encodeMLSMessage,
  encodeRatchetTree,
  isMlsError,
  serializePublicGroup,
  type CryptoProvider,
  type CipherSuite,
  type KeyPackage,
  type MLSMessage,
} from "../../mls/node.js";
import { isStoreError, type Store, type StoreTx } from "../store/index.js";
import type { DeviceEntry, KeyPackageCount, LogEntry } from "../store/mls-types.js";
import type { RoomKind } from "../store/types.js";
import { deviceKey, type DeviceRef } from "./identity.js";
import { KeyedLock } from "../keyed-lock.js";
import { LogWriter } from "./log-writer.js";
import { checkKeyPackage, DEFAULT_KEY_PACKAGE_LIMITS, KeyPackageRejected, type KeyPackageLimits } from "./key-package-check.js";
import { ProtocolError, refuse } from "./protocol-error.js";
import { epochId, RoomMls, type AcceptedCommit, type DsSigner, type PendingProposal } from "./room-mls.js";

export interface DsOptions {
  readonly domain: string;
  readonly provider: CryptoProvider;
  readonly cipherSuite: number;
  readonly maxEpochLag: number;
  readonly maxCatchUp: number;
  readonly maxKeyPackages: number;
  readonly keyPackageLowWater: number;
  readonly keyPackageLimits: KeyPackageLimits;
  /** Packages expiring within this many seconds are not claimed (§7.2.3). */
  readonly claimMarginSeconds: number;
  /** Room states kept in memory (least recently used ones are dropped). */
  readonly roomCacheSize: number;
  readonly now: () => number;
  readonly newId: () => string;
}

export const DEFAULT_DS_OPTIONS: Omit<DsOptions, "domain" | "provider"> = {
  cipherSuite: 1,
  maxEpochLag: 2,
  maxCatchUp: 500,
  maxKeyPackages: 100,
  keyPackageLowWater: 10,
  keyPackageLimits: DEFAULT_KEY_PACKAGE_LIMITS,
  claimMarginSeconds: 86400,
  roomCacheSize: 1000,
  now: Date.now,
  newId: randomUUID,
};

/** The component's live view of room occupancy (for channels, §7.4.1). */
export interface OccupancyView {
  /** MLS devices of current occupants, plus departed ones still within the grace period. */
  channelDevices(room: string): readonly DeviceRef[];
}

/** An entry to send live to the devices listed. */
export interface Fanout {
  readonly room: string;
  readonly entry: LogEntry;
  readonly to: readonly DeviceRef[];
  /** Deliver as the entry's Welcome (commit entries that added these devices). */
  readonly asWelcome: boolean;
}

export interface LowWaterHint {
  readonly device: DeviceRef;
  readonly count: KeyPackageCount;
  readonly jid?: string | undefined;
}

export interface DsOutput {
  readonly fanout: Fanout[];
  readonly lowWater: LowWaterHint[];
}

export interface PublishedKeyPackage {
  readonly bytes: Uint8Array;
  readonly lastResort: boolean;
}

export interface CommitSubmission {
  readonly commit: Uint8Array;
  readonly groupInfo: Uint8Array;
  readonly welcome?: Uint8Array | undefined;
  readonly senderJid: string;
  readonly occupantDevice?: string | undefined;
  readonly senderNick?: string | undefined;
  readonly clientId?: string | undefined;
}

export interface ApplicationSubmission {
  readonly message: Uint8Array;
  readonly device: DeviceRef;
  readonly senderNick?: string | undefined;
  readonly originId?: string | undefined;
  readonly clientId?: string | undefined;
}

export interface CatchUpResult {
  readonly entries: DeviceEntry[];
  readonly last: bigint;
  readonly complete: boolean;
}

const DS_KEY = "ds-signature-key";

function emptyOutput(): DsOutput {
  return { fanout: [], lowWater: [] };
}

function merge(a: DsOutput, b: DsOutput): DsOutput {
  a.fanout.push(...b.fanout);
  a.lowWater.push(...b.lowWater);
  return a;
}

function decodeMessage(bytes: Uint8Array): MLSMessage {
  try {
    return decode(decodeMLSMessage, bytes);
  } catch (e) {
    if (isMlsError(e)) refuse("malformed-message", `MLS decoding failed: ${e.message}`);
    throw e;
  }
}

/** How long a delivery cursor move may wait before it is written (see DeliveryService.delivered). */
export const CURSOR_FLUSH_MS = 200;

export class DeliveryService {
  private readonly locks = new KeyedLock();
  private readonly rooms = new Map<string, RoomMls>();
  /** Delivery cursor moves not yet written: room -> device key -> highest seq sent. */
  private readonly cursorBacklog = new Map<string, Map<string, { device: DeviceRef; seq: bigint }>>();
  private cursorTimer: NodeJS.Timeout | undefined;
  private cursorWrites: Promise<void> = Promise.resolve();
  /** Application entries on their way to disk (group commit, log-writer.ts). */
  private readonly writer: LogWriter;
  private signer!: DsSigner;
  readonly cs: CipherSuite;

  constructor(
    private readonly store: Store,
    private readonly occupancy: OccupancyView,
    readonly options: DsOptions,
  ) {
    this.cs = options.provider.suite(options.cipherSuite);
    // A room whose entry could not be stored has a stale next seq in memory: reload it.
    this.writer = new LogWriter(store, (rooms) => {
      for (const room of rooms) this.evict(room);
    });
  }

  /** Settles once every application entry accepted so far is stored (or failed). */
  drainWrites(): Promise<void> {
    return this.writer.drain();
  }

  /** Loads (or creates, on first start) the DS signature key. */
  async start(): Promise<void> {
    let priv = await this.store.getMeta(`${DS_KEY}:${this.cs.id}`);
    if (priv === undefined) {
      priv = this.cs.signature.generateKeyPair().privateKey;
      await this.store.setMeta(`${DS_KEY}:${this.cs.id}`, priv);
    }
    this.signer = {
      domain: this.options.domain,
      signaturePrivateKey: priv,
      signaturePublicKey: this.cs.signature.publicKey(priv),
    };
  }

  /** The DS's `SignaturePublicKey` (§5.1 `external-sender-key`). */
  get externalSenderKey(): Uint8Array {
    return this.signer.signaturePublicKey;
  }

  // ------------------------------------------------------------ KeyPackages (§6.1)

  private async touchDevice(tx: StoreTx, device: DeviceRef, jid: string | undefined): Promise<void> {
    const now = this.options.now();
    const d = await tx.getDevice(device.bareJid, device.deviceId);
    await tx.saveDevice({
      bareJid: device.bareJid,
      deviceId: device.deviceId,
      retired: d?.retired ?? false,
      registeredAt: d?.registeredAt ?? now,
      lastSeen: now,
      ...((jid ?? d?.lastJid) !== undefined ? { lastJid: (jid ?? d?.lastJid)! } : {}),
    });
  }

  /** §6.1.1: validates every package (all or nothing), stores them, registers the device. */
  async publish(
    device: DeviceRef,
    jid: string,
    packages: readonly PublishedKeyPackage[],
    replace: boolean,
  ): Promise<{ count: KeyPackageCount; output: DsOutput }> {
    const nowS = BigInt(Math.floor(this.options.now() / 1000));
    const lastResorts = packages.filter((p) => p.lastResort).length;
    const checked = packages.map((p, index) => {
      try {
        return { ...checkKeyPackage(this.cs, p.bytes, device, nowS, this.options.keyPackageLimits), lastResort: p.lastResort };
      } catch (e) {
        if (e instanceof KeyPackageRejected) {
          throw new ProtocolError("invalid-key-package", `key-package ${index}: ${e.message}`, { index: String(index), reason: e.reason });
        }
        throw e;
      }
    });
    if (lastResorts > 1) {
      const index = packages.findIndex((p, i) => p.lastResort && packages.slice(0, i).some((q) => q.lastResort));
      throw new ProtocolError("invalid-key-package", "at most one last-resort package", { index: String(index), reason: "last-resort" });
    }
    const seen = new Set<string>();
    checked.forEach((c, index) => {
      const k = bytesKey(c.ref);
      if (seen.has(k)) throw new ProtocolError("invalid-key-package", `key-package ${index} is a duplicate`, { index: String(index), reason: "duplicate" });
      seen.add(k);
    });
    const count = await this.store.transaction(async (tx) => {
      const d = await tx.getDevice(device.bareJid, device.deviceId);
      if (d?.retired) throw new ProtocolError("invalid-key-package", "this device id was retired", { index: "0", reason: "device" });
      for (const [index, c] of checked.entries()) {
        if (await tx.hasKeyPackage(c.ref)) {
          throw new ProtocolError("invalid-key-package", `key-package ${index} is already stored`, { index: String(index), reason: "duplicate" });
        }
      }
      await this.touchDevice(tx, device, jid);
      await tx.addKeyPackages(
        device.bareJid,
        device.deviceId,
        checked.map((c) => ({ ref: c.ref, data: c.bytes, lastResort: c.lastResort, notAfter: Number(c.notAfter) })),
        replace,
        this.options.now(),
      );
      const n = await tx.countKeyPackages(device.bareJid, device.deviceId);
      if (n.available > this.options.maxKeyPackages) {
        throw new ProtocolError("quota-exceeded", "too many unclaimed KeyPackages", { max: String(this.options.maxKeyPackages) });
      }
      return n;
    });
    // A registered device with packages may now be added to its user's group rooms.
    const output = emptyOutput();
    for (const a of await this.store.listAffiliationsOf(device.bareJid)) {
      if (a.affiliation === "owner" || a.affiliation === "admin" || a.affiliation === "member") {
        merge(output, await this.converge(a.room));
      }
    }
    return { count, output };
  }

  async count(device: DeviceRef, jid?: string): Promise<KeyPackageCount> {
    if (jid !== undefined && (await this.store.getDevice(device.bareJid, device.deviceId))) {
      await this.store.transaction((tx) => this.touchDevice(tx, device, jid));
    }
    return this.store.countKeyPackages(device.bareJid, device.deviceId);
  }

  /** §6.1.5: forgets a device: packages deleted, leaves removed everywhere. */
  async retire(device: DeviceRef): Promise<DsOutput> {
    const d = await this.store.getDevice(device.bareJid, device.deviceId);
    if (d === undefined) refuse("unknown-device", "no such device for this user");
    await this.store.transaction(async (tx) => {
      await tx.saveDevice({ ...d, retired: true, lastSeen: this.options.now() });
      await tx.deleteDeviceKeyPackages(device.bareJid, device.deviceId);
    });
    const output = emptyOutput();
    for (const room of await this.roomsWithDevice(device)) merge(output, await this.converge(room));
    return output;
  }

  private async roomsWithDevice(device: DeviceRef): Promise<string[]> {
    const rooms = new Set<string>();
    for (const a of await this.store.listAffiliationsOf(device.bareJid)) rooms.add(a.room);
    for (const [room, r] of this.rooms) if (r.leafOf(device) !== undefined) rooms.add(room);
    return [...rooms];
  }

  // ------------------------------------------------------------ rooms

  private async load(room: string): Promise<RoomMls | undefined> {
    const cached = this.rooms.get(room);
    if (cached) {
      this.rooms.delete(room);
      this.rooms.set(room, cached);
      return cached;
    }
    // The stored next seq counts only entries on disk: wait for those on their way.
    await this.writer.idle(room);
    const g = await this.store.getGroup(room);
    if (g === undefined) return undefined;
    const group = deserializePublicGroup(this.options.provider, g.state);
    const pending: PendingProposal[] = (await this.store.listPending(room)).map((p) => ({
      seq: p.seq,
      ref: p.ref,
      kind: p.kind,
      device: { bareJid: p.bareJid, deviceId: p.deviceId },
      leaf: p.leaf,
      keyPackageRef: p.keyPackageRef,
    }));
    const r = new RoomMls(room, group, g.groupInfo, g.removalEpoch, pending, g.nextSeq);
    this.rooms.set(room, r);
    while (this.rooms.size > this.options.roomCacheSize) this.rooms.delete(this.rooms.keys().next().value!);
    return r;
  }

  private async loadBound(room: string): Promise<RoomMls> {
    const r = await this.load(room);
    if (r === undefined) refuse("unbound-room", "the room is not bound to an MLS group yet");
    return r;
  }

  /** Forgets the cached state (after a failed transaction, or when the room is destroyed). */
  evict(room: string): void {
    this.rooms.delete(room);
  }

  async isBound(room: string): Promise<boolean> {
    return (await this.load(room)) !== undefined;
  }

  async roomInfo(room: string): Promise<{ groupId: Uint8Array; epoch: bigint } | undefined> {
    const r = await this.load(room);
    return r && { groupId: r.group.groupId, epoch: r.epoch };
  }

  /** Is this device a member (has a leaf) of the room's group? */
  async isMember(room: string, device: DeviceRef): Promise<boolean> {
    const r = await this.load(room);
    return r !== undefined && r.leafOf(device) !== undefined;
  }

  /**
   * Runs `fn` under the room's lock; the cached state is dropped if it fails
   * mid-way. It first waits for the room's application entries on their way
   * to disk (unless `afterWrites` is false: another application message), so
   * that whatever it stores is numbered and stored after them.
   */
  private locked<T>(room: string, fn: () => Promise<T>, o: { afterWrites?: boolean } = {}): Promise<T> {
    return this.locks.run(room, async () => {
      try {
        if (o.afterWrites ?? true) await this.writer.idle(room);
        return await fn();
      } catch (e) {
        if (!(e instanceof ProtocolError)) this.evict(room);
        throw e;
      }
    });
  }

  /** §6.2, §7.1: binds a room to the group of an epoch-0 GroupInfo. */
  async bind(room: string, groupInfo: Uint8Array, sender: DeviceRef): Promise<DsOutput> {
    await this.locked(room, async () => {
      if ((await this.load(room)) !== undefined) refuse("already-bound", "the room is already bound");
      const r = RoomMls.bind(this.cs, room, groupInfo, sender, this.signer);
      if (await this.store.groupIdInUse(r.group.groupId)) {
        refuse("invalid-group-info", "group_id already used by another room", { reason: "group-id" });
      }
      const now = this.options.now();
      const genesis = epochId(this.cs, groupInfo);
      await this.store.transaction(async (tx) => {
        await tx.createGroup(
          {
            room,
            groupId: r.group.groupId,
            cipherSuite: this.cs.id,
            epoch: 0n,
            epochId: genesis,
            state: serializePublicGroup(r.group),
            groupInfo,
            removalEpoch: 0n,
            nextSeq: 1n,
            boundAt: now,
          },
          { room, epochId: genesis, epoch: 0n, createdAt: now },
        );
        await tx.openSpan({ room, bareJid: sender.bareJid, deviceId: sender.deviceId, fromSeq: 1n, viaWelcome: false });
        await this.touchDevice(tx, sender, undefined);
      });
      this.rooms.set(room, r);
    });
    return this.converge(room);
  }

  /** §6.5, §7.3: validates a commit; the first valid one of an epoch is stored and wins. */
  async submitCommit(room: string, s: CommitSubmission): Promise<{ epoch: bigint; seq: bigint; stanzaId: string; output: DsOutput }> {
    const result = await this.locked(room, async () => {
      const r = await this.loadBound(room);
      const commit = decodeMessage(s.commit);
      const groupInfo = decodeMessage(s.groupInfo);
      const welcome = s.welcome === undefined ? undefined : decodeMessage(s.welcome);
      const kind = (await this.store.getRoom(room))?.kind ?? "group";
      const accepted = r.checkCommit({
        commit,
        groupInfo,
        welcome,
        senderJid: s.senderJid,
        occupantDevice: s.occupantDevice,
        mayJoinExternally: (d) => this.mayJoinExternallySync(room, kind, d),
      });
      if (kind === "group" && accepted.external) await this.requireAffiliated(room, accepted.committer.bareJid);
      return this.storeCommit(r, s, accepted);
    });
    merge(result.output, await this.converge(room));
    return result;
  }

  /** §6.9: in a channel, MLS occupants; in a group room, affiliated users (checked after, asynchronously). */
  private mayJoinExternallySync(room: string, kind: RoomKind, d: DeviceRef): boolean {
    if (kind === "group") return true;
    return this.occupancy.channelDevices(room).some((x) => deviceKey(x) === deviceKey(d));
  }

  private async requireAffiliated(room: string, bareJid: string): Promise<void> {
    const a = (await this.store.getAffiliation(room, bareJid))?.affiliation;
    if (a !== "owner" && a !== "admin" && a !== "member") refuse("not-a-member", "only affiliated users may join this room");
  }

  private async storeCommit(
    r: RoomMls,
    s: CommitSubmission,
    a: AcceptedCommit,
  ): Promise<{ epoch: bigint; seq: bigint; stanzaId: string; output: DsOutput }> {
    const room = r.room;
    const now = this.options.now();
    const stanzaId = this.options.newId();
    const g = await this.store.getGroup(room);
    if (g === undefined) refuse("unbound-room", "the room is not bound");
    const seq = g.nextSeq;
    // The ratchet tree of the new epoch travels next to the Welcome (§6.4).
    const nodes = [];
    const diff = a.staged.staged.applied.diff;
    for (let i = 0; i < diff.leafCount * 2 - 1; i++) nodes.push(diff.node(i));
    while (nodes.length > 0 && nodes[nodes.length - 1] === undefined) nodes.pop();
    const entry: LogEntry = {
      room,
      seq,
      kind: "commit",
      epoch: a.epoch,
      stanzaId,
      payload: s.commit,
      senderJid: a.committer.bareJid,
      senderDevice: a.committer.deviceId,
      createdAt: now,
      ...(s.clientId !== undefined ? { clientId: s.clientId } : {}),
      ...(s.senderNick !== undefined ? { senderNick: s.senderNick } : {}),
      ...(a.welcome !== undefined ? { welcome: a.welcome, ratchetTree: encode(encodeRatchetTree, nodes) } : {}),
    };
    const newEpochId = epochId(this.cs, s.commit);
    const removedLeaves = new Set(a.removed.map((x) => x.leaf));
    const lapsed = r.pending.filter((p) => p.kind === "add" && !a.added.some((x) => deviceKey(x.device) === deviceKey(p.device)));
    try {
      await this.store.transaction(async (tx) => {
        await tx.appendEntry(entry);
        await tx.addEpoch({ room, epochId: newEpochId, epoch: a.newEpoch, parentId: g.epochId, commitSeq: seq, createdAt: now });
        for (const x of a.removed) {
          if (x.device.bareJid !== "") await tx.closeSpan(room, x.device.bareJid, x.device.deviceId, seq);
        }
        for (const x of a.added) {
          const external = a.external && deviceKey(x.device) === deviceKey(a.committer);
          await tx.openSpan({
            room,
            bareJid: x.device.bareJid,
            deviceId: x.device.deviceId,
            fromSeq: external ? seq + 1n : seq,
            viaWelcome: !external,
          });
        }
        for (const p of r.pending) {
          if (p.kind === "add" && p.keyPackageRef) {
            if (lapsed.includes(p)) await tx.releaseKeyPackage(p.keyPackageRef);
            else await tx.deleteKeyPackage(p.keyPackageRef);
          }
          if (p.kind === "remove" && p.leaf !== undefined && !removedLeaves.has(p.leaf)) {
            // The Remove lapsed (an external commit won): application delivery resumes until re-proposed.
            await tx.reopenSpanForApplication(room, p.device.bareJid, p.device.deviceId);
          }
        }
        await tx.clearPending(room);
        r.applyCommit(a);
        await tx.saveGroup({
          ...g,
          epoch: a.newEpoch,
          epochId: newEpochId,
          state: serializePublicGroup(r.group),
          groupInfo: r.groupInfo,
          removalEpoch: r.removalEpoch,
          nextSeq: seq + 1n,
        });
      });
    } catch (e) {
      this.evict(room);
      if (isStoreError(e, "exists")) {
        // Another process sequenced this epoch first (unique (room, epoch)).
        throw new ProtocolError("epoch-mismatch", "another commit won the epoch", { "current-epoch": String(a.newEpoch) });
      }
      throw e;
    }
    r.nextSeq = seq + 1n;
    const output = emptyOutput();
    output.fanout.push({ room, entry, to: a.recipients, asWelcome: false });
    const welcomed = a.added.filter((x) => !(a.external && deviceKey(x.device) === deviceKey(a.committer))).map((x) => x.device);
    if (welcomed.length > 0) output.fanout.push({ room, entry, to: welcomed, asWelcome: true });
    return { epoch: a.newEpoch, seq, stanzaId, output };
  }

  /** §6.7, §7.5: stores an application message and names its live recipients. */
  /**
   * Validates and numbers an application message; `stored` resolves once it
   * is durable (group commit, log-writer.ts), and only then may `output` be
   * sent. A rejection of `stored` means the message was not accepted.
   */
  async submitApplication(room: string, s: ApplicationSubmission): Promise<{ entry: LogEntry; output: DsOutput; stored: Promise<void> }> {
    return this.locked(room, async () => {
      let r = await this.loadBound(room);
      // Dropped meanwhile (a write of this room failed): its next seq is stale, reload.
      while (this.rooms.get(room) !== r) r = await this.loadBound(room);
      const m = decodeMessage(s.message);
      if (m.wireFormat !== "mls_private_message") refuse("wrong-kind", "application messages are PrivateMessages");
      r.checkApplication({ message: m.privateMessage, device: s.device, maxEpochLag: BigInt(this.options.maxEpochLag) });
      const entry: LogEntry = {
        room,
        seq: r.nextSeq,
        kind: "application",
        epoch: m.privateMessage.epoch,
        stanzaId: this.options.newId(),
        payload: s.message,
        senderJid: s.device.bareJid,
        senderDevice: s.device.deviceId,
        createdAt: this.options.now(),
        ...(s.originId !== undefined ? { originId: s.originId } : {}),
        ...(s.clientId !== undefined ? { clientId: s.clientId } : {}),
        ...(s.senderNick !== undefined ? { senderNick: s.senderNick } : {}),
      };
      // One row per message (a trigger advances the room's next seq, migration 3), written with others.
      const stored = this.writer.append(entry);
      r.nextSeq = entry.seq + 1n;
      const to = [...r.devices().values()].map((d) => d.device).filter((d) => !r.hasPendingRemove(d));
      return { entry, output: { fanout: [{ room, entry, to, asWelcome: false }], lowWater: [] }, stored };
    }, { afterWrites: false });
  }

  /** §6.9: the current GroupInfo and public tree, for an external joiner. */
  async groupInfoFor(room: string): Promise<{ epoch: bigint; groupInfo: Uint8Array; ratchetTree: Uint8Array }> {
    const r = await this.loadBound(room);
    return { epoch: r.epoch, groupInfo: r.groupInfo, ratchetTree: encode(encodeRatchetTree, r.group.ratchetTree()) };
  }

  /** May this device fetch the GroupInfo / join by external commit (§6.9)? */
  async mayJoinExternally(room: string, device: DeviceRef): Promise<boolean> {
    const kind = (await this.store.getRoom(room))?.kind;
    if (kind === undefined) return false;
    if (kind === "channel") {
      const a = (await this.store.getAffiliation(room, device.bareJid))?.affiliation;
      return a !== "outcast" && this.mayJoinExternallySync(room, kind, device);
    }
    const a = (await this.store.getAffiliation(room, device.bareJid))?.affiliation;
    return a === "owner" || a === "admin" || a === "member";
  }

  /** §6.8: stored entries for a device after `after` (default: its delivery cursor). */
  async catchUp(room: string, device: DeviceRef, after: bigint | undefined, max: number | undefined): Promise<CatchUpResult> {
    // Entries accepted before this request are part of the answer.
    await this.writer.idle(room);
    const g = await this.store.getGroup(room);
    if (g === undefined) refuse("unbound-room", "the room is not bound to an MLS group yet");
    let from = after;
    if (from === undefined) {
      const stored = await this.store.getCursor(room, device.bareJid, device.deviceId);
      const pending = this.cursorBacklog.get(room)?.get(deviceKey(device))?.seq;
      from = pending !== undefined && pending > stored ? pending : stored;
    }
    const oldest = await this.store.oldestSeq(room);
    if (oldest !== undefined && from + 1n < oldest) {
      // Expired entries matter only if the device was a member for some of them.
      const spans = await this.store.listSpans(room, device.bareJid, device.deviceId);
      const lost = spans.some((sp) => sp.fromSeq <= oldest - 1n && (sp.untilSeq === undefined || sp.untilSeq >= from + 1n));
      if (lost) throw new ProtocolError("history-expired", "entries this device needs have expired", { oldest: String(oldest) });
    }
    const limit = Math.max(1, Math.min(max ?? this.options.maxCatchUp, this.options.maxCatchUp));
    const entries = await this.store.entriesFor(room, device.bareJid, device.deviceId, from, limit);
    const newest = g.nextSeq - 1n;
    const complete = entries.length < limit;
    // Entries not meant for the device are skipped, not reported: a complete answer covers the whole log.
    const last = complete ? (newest > from ? newest : from) : entries[entries.length - 1]!.seq;
    return { entries, last, complete };
  }

  /**
   * Records that entries up to `seq` were sent to a device (§6.8 delivery
   * cursor). Written behind: the moves of the next CURSOR_FLUSH_MS are
   * coalesced and written in one transaction (flushCursors), instead of one
   * durable write per recipient of every entry. The cursor only chooses where
   * a join push starts when the device gives no `after`; after a crash it may
   * lag by the last moves, and the device then gets those entries again,
   * which it drops by seq (§7.6). catchUp() reads the unwritten moves too.
   */
  async delivered(room: string, device: DeviceRef, seq: bigint): Promise<void> {
    let m = this.cursorBacklog.get(room);
    if (!m) this.cursorBacklog.set(room, (m = new Map()));
    const k = deviceKey(device);
    const cur = m.get(k);
    if (cur === undefined || cur.seq < seq) m.set(k, { device, seq });
    if (this.cursorTimer === undefined) {
      this.cursorTimer = setTimeout(() => {
        this.cursorTimer = undefined;
        void this.flushCursors();
      }, CURSOR_FLUSH_MS);
      this.cursorTimer.unref();
    }
  }

  /** Writes the pending delivery cursor moves in one transaction. Never rejects (cursors are advisory). */
  flushCursors(): Promise<void> {
    if (this.cursorTimer !== undefined) clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    const moves: { room: string; key: string; device: DeviceRef; seq: bigint }[] = [];
    for (const [room, m] of this.cursorBacklog) for (const [key, v] of m) moves.push({ room, key, ...v });
    if (moves.length === 0) return this.cursorWrites;
    this.cursorWrites = this.cursorWrites
      .then(() =>
        // One transaction, few statements (a room deleted meanwhile is skipped).
        // Deferred durability: cursors are advisory (a device that gets an entry again drops it),
        // and an fsync of their own would make the next message's INSERT wait behind it.
        this.store.transaction(
          (tx) => tx.advanceCursors(moves.map((c) => ({ room: c.room, bareJid: c.device.bareJid, deviceId: c.device.deviceId, seq: c.seq }))),
          { durability: "deferred" },
        ),
      )
      .then(
        () => {
          for (const c of moves) {
            const m = this.cursorBacklog.get(c.room);
            if (m?.get(c.key)?.seq === c.seq) m.delete(c.key);
            if (m?.size === 0) this.cursorBacklog.delete(c.room);
          }
        },
        () => undefined, // store closed or failing: the moves stay pending (lost at exit)
      );
    return this.cursorWrites;
  }

  // ------------------------------------------------------------ membership (§7.4)

  /** The devices that should be members of the room now (§7.4.1). */
  private async desired(room: string): Promise<Map<string, DeviceRef>> {
    const out = new Map<string, DeviceRef>();
    const info = await this.store.getRoom(room);
    if (info === undefined) return out;
    if (info.kind === "group") {
      for (const d of await this.store.listMemberDevices(room)) out.set(deviceKey(d), { bareJid: d.bareJid, deviceId: d.deviceId });
    } else {
      const outcasts = new Set((await this.store.listAffiliations(room, { affiliation: "outcast" })).map((a) => a.bareJid));
      const candidates = this.occupancy.channelDevices(room).filter((d) => !outcasts.has(d.bareJid));
      const retired = new Set((await this.store.getDevices(candidates)).filter((r) => r.retired).map(deviceKey));
      for (const d of candidates) if (!retired.has(deviceKey(d))) out.set(deviceKey(d), d);
    }
    return out;
  }

  /**
   * §7.4.2: proposes the Removes of leaves that should go and, in group rooms,
   * the Adds of devices that should join. Each proposal is a stored log entry.
   */
  async converge(room: string): Promise<DsOutput> {
    return this.locked(room, async () => {
      const output = emptyOutput();
      const r = await this.load(room);
      if (r === undefined) return output;
      const kind = (await this.store.getRoom(room))?.kind;
      if (kind === undefined) return output;
      const desired = await this.desired(room);
      const current = r.devices();
      for (const [k, { device, leaf }] of current) {
        if (desired.has(k) || r.hasPendingRemove(device)) continue;
        merge(output, await this.issue(r, "remove", device, { leaf }));
      }
      if (kind === "group") {
        const minNotAfter = Math.floor(this.options.now() / 1000) + this.options.claimMarginSeconds;
        for (const [k, device] of desired) {
          if (current.has(k) || r.hasPendingAdd(device)) continue;
          const claimed = await this.store.claimKeyPackage(device.bareJid, device.deviceId, room, minNotAfter);
          if (claimed === undefined) continue;
          const m = decode(decodeMLSMessage, claimed.data);
          if (m.wireFormat !== "mls_key_package") continue;
          try {
            merge(output, await this.issue(r, "add", device, { keyPackage: m.keyPackage, keyPackageRef: claimed.ref }));
          } catch (e) {
            // A package that cannot be added to this group (capabilities, duplicate key): drop it.
            if (!isMlsError(e)) throw e;
            await this.store.deleteKeyPackage(claimed.ref);
            continue;
          }
          const count = await this.store.countKeyPackages(device.bareJid, device.deviceId);
          if (count.available < this.options.keyPackageLowWater) {
            const d = await this.store.getDevice(device.bareJid, device.deviceId);
            output.lowWater.push({ device, count, jid: d?.lastJid });
          }
        }
      }
      return output;
    });
  }

  /** Stores and returns one DS proposal (an external sender's PublicMessage). */
  private async issue(
    r: RoomMls,
    kind: "add" | "remove",
    device: DeviceRef,
    what: { leaf?: number; keyPackage?: KeyPackage; keyPackageRef?: Uint8Array },
  ): Promise<DsOutput> {
    const room = r.room;
    const g = await this.store.getGroup(room);
    if (g === undefined) return emptyOutput();
    const made = kind === "add" ? r.proposeAdd(this.signer, what.keyPackage!) : r.proposeRemove(this.signer, what.leaf!);
    const seq = g.nextSeq;
    const entry: LogEntry = {
      room,
      seq,
      kind: "proposal",
      epoch: r.epoch,
      stanzaId: this.options.newId(),
      payload: encode(encodeMLSMessage, made.message),
      createdAt: this.options.now(),
    };
    const pending: PendingProposal = { seq, ref: made.ref, kind, device, leaf: what.leaf, keyPackageRef: what.keyPackageRef };
    await this.store.transaction(async (tx) => {
      await tx.appendEntry(entry);
      await tx.addPending({
        room,
        seq,
        ref: made.ref,
        kind,
        bareJid: device.bareJid,
        deviceId: device.deviceId,
        ...(what.leaf !== undefined ? { leaf: what.leaf } : {}),
        ...(what.keyPackageRef !== undefined ? { keyPackageRef: what.keyPackageRef } : {}),
      });
      // §6.6: once its Remove is proposed, a device gets no more application messages.
      if (kind === "remove") await tx.closeSpanForApplication(room, device.bareJid, device.deviceId, seq);
      await tx.saveGroup({ ...g, state: serializePublicGroup(r.group), nextSeq: seq + 1n });
    });
    r.pending.push(pending);
    r.nextSeq = seq + 1n;
    const to = [...r.devices().values()].map((d) => d.device);
    return { fanout: [{ room, entry, to, asWelcome: false }], lowWater: [] };
  }

  /** Deletes expired KeyPackages and log entries older than the retention (0 = keep forever). */
  async housekeeping(retentionDays: number): Promise<{ keyPackages: number; entries: number }> {
    const keyPackages = await this.store.deleteExpiredKeyPackages(Math.floor(this.options.now() / 1000));
    let entries = 0;
    if (retentionDays > 0) {
      const before = this.options.now() - retentionDays * 86_400_000;
      for (const r of await this.store.listRooms()) entries += await this.store.pruneLog(r.jid, before);
    }
    return { keyPackages, entries };
  }

  /** Room states held in memory. */
  get cachedRooms(): number {
    return this.rooms.size;
  }

  /** The room was destroyed: forget its cached state (the store cascade deletes the rest). */
  forget(room: string): void {
    this.evict(room);
    this.cursorBacklog.delete(room);
  }

  /** Does this (bare JID, device) already hold a leaf or pending Remove? (for tests and disco) */
  async leafOf(room: string, device: DeviceRef): Promise<number | undefined> {
    return (await this.load(room))?.leafOf(device);
  }
}
