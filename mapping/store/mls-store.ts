// Store sub-interfaces of the MLS side (see store.ts for the guarantees every
// method gives: durable on resolve, atomic, usable inside transaction()).

import type {
  ClaimedKeyPackage,
  CursorMove,
  DeviceEntry,
  DeviceRecord,
  EpochRecord,
  GroupRecord,
  KeyPackageCount,
  LogEntry,
  MembershipSpan,
  NewKeyPackage,
  PendingProposalRecord,
} from "./mls-types.js";

export interface DeviceStore {
  getDevice(bareJid: string, deviceId: string): Promise<DeviceRecord | undefined>;
  /** The stored records among these devices (unknown ones are left out), in one query per 400 devices. */
  getDevices(keys: readonly { readonly bareJid: string; readonly deviceId: string }[]): Promise<DeviceRecord[]>;
  /** Devices of a user (retired ones included), sorted by device id. */
  listDevices(bareJid: string): Promise<DeviceRecord[]>;
  /**
   * The devices, not retired, of the room's owners, admins and members,
   * sorted by JID then device id: a group room's desired members (§7.4.1) in
   * one query, however many members it has.
   */
  listMemberDevices(room: string): Promise<DeviceRecord[]>;
  /** Creates or updates a device (registration, last JID, last seen, retirement). */
  saveDevice(device: DeviceRecord): Promise<void>;
}

export interface KeyPackageStore {
  /**
   * Adds KeyPackages of a device; with `replace`, its unclaimed non-last-resort
   * ones are deleted first. A last-resort package replaces the stored one.
   * Rejects with "exists" if a ref is already stored.
   */
  addKeyPackages(bareJid: string, deviceId: string, packages: readonly NewKeyPackage[], replace: boolean, now: number): Promise<void>;
  countKeyPackages(bareJid: string, deviceId: string): Promise<KeyPackageCount>;
  hasKeyPackage(ref: Uint8Array): Promise<boolean>;
  /**
   * Atomically takes the device's oldest unclaimed non-last-resort package
   * whose lifetime ends after `minNotAfter` (seconds), reserving it for
   * `room`; if none, the last-resort package (which stays stored).
   */
  claimKeyPackage(bareJid: string, deviceId: string, room: string, minNotAfter: number): Promise<ClaimedKeyPackage | undefined>;
  /** Deletes a claimed package once its Add was committed. */
  deleteKeyPackage(ref: Uint8Array): Promise<void>;
  /** Makes a claimed package available again (its Add lapsed). */
  releaseKeyPackage(ref: Uint8Array): Promise<void>;
  deleteDeviceKeyPackages(bareJid: string, deviceId: string): Promise<void>;
  /** Deletes packages whose lifetime ended before `nowSeconds`; returns how many. */
  deleteExpiredKeyPackages(nowSeconds: number): Promise<number>;
}

export interface GroupStore {
  getGroup(room: string): Promise<GroupRecord | undefined>;
  groupIdInUse(groupId: Uint8Array): Promise<boolean>;
  /** Rejects with "exists" when the room is bound or the group id taken. */
  createGroup(group: GroupRecord, genesis: EpochRecord): Promise<void>;
  /** Replaces the group row (state, epoch, GroupInfo, counters). */
  saveGroup(group: GroupRecord): Promise<void>;
  /**
   * Records a new epoch in the DAG. Rejects with "exists" when the room
   * already has this epoch number: the first commit of an epoch wins.
   */
  addEpoch(epoch: EpochRecord): Promise<void>;
  listEpochs(room: string): Promise<EpochRecord[]>;
}

export interface LogStore {
  /**
   * Appends an entry; its seq must be the group's next one. The group's next
   * seq becomes at least seq + 1 in the same statement.
   */
  appendEntry(entry: LogEntry): Promise<void>;
  /**
   * Appends several entries (each the next of its room, in order) in one
   * statement: all or none, one commit. For the group commit of application
   * messages (mapping/ds/log-writer.ts).
   */
  appendEntries(entries: readonly LogEntry[]): Promise<void>;
  getEntry(room: string, seq: bigint): Promise<LogEntry | undefined>;
  /** Oldest retained seq of a room (undefined when the log is empty). */
  oldestSeq(room: string): Promise<bigint | undefined>;
  /** Entries of a room after `afterSeq` that reach this device, in order, at most `limit`. */
  entriesFor(room: string, bareJid: string, deviceId: string, afterSeq: bigint, limit: number): Promise<DeviceEntry[]>;
  /** Deletes entries older than `before` (ms); returns how many. */
  pruneLog(room: string, before: number): Promise<number>;

  openSpan(span: MembershipSpan): Promise<void>;
  /** Ends application delivery to the device's open span (its Remove was proposed). */
  closeSpanForApplication(room: string, bareJid: string, deviceId: string, seq: bigint): Promise<void>;
  /** Ends the device's open span at `seq` (inclusive: the removing commit). */
  closeSpan(room: string, bareJid: string, deviceId: string, seq: bigint): Promise<void>;
  /** Reopens application delivery (the Remove lapsed without being committed). */
  reopenSpanForApplication(room: string, bareJid: string, deviceId: string): Promise<void>;
  listSpans(room: string, bareJid: string, deviceId: string): Promise<MembershipSpan[]>;

  getCursor(room: string, bareJid: string, deviceId: string): Promise<bigint>;
  /** Moves these cursors forward (never back), in few statements; moves of rooms that no longer exist are skipped. */
  advanceCursors(moves: readonly CursorMove[]): Promise<void>;

  listPending(room: string): Promise<PendingProposalRecord[]>;
  addPending(p: PendingProposalRecord): Promise<void>;
  clearPending(room: string): Promise<void>;
}

/** Service-wide values (e.g. the DS signature key). */
export interface MetaStore {
  getMeta(key: string): Promise<Uint8Array | undefined>;
  setMeta(key: string, value: Uint8Array): Promise<void>;
}

export type MlsStoreTx = DeviceStore & KeyPackageStore & GroupStore & LogStore & MetaStore;
