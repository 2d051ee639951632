// The store interface. Every implementation (SQLite now, PostgreSQL later)
// gives the same guarantees:
//
//  - a Promise that resolves means the change is durable;
//  - every method is atomic; transaction() groups several into one atomic,
//    isolated unit (all or nothing);
//  - transactions do not nest: transaction() inside a transaction rejects
//    with StoreError("nested_transaction").
//
// The interface is split by subject so that later parts (MLS groups, the
// epoch DAG, the message log, delivery cursors, KeyPackages) add their own
// sub-interfaces to `StoreTx` without touching these. No SQL outside
// mapping/store/.

import type {
  Affiliation,
  AffiliationChange,
  AffiliationRecord,
  AppliedAffiliationChange,
  NewRoom,
  RoomKind,
  RoomPatch,
  RoomRecord,
} from "./types.js";
import type { MlsStoreTx } from "./mls-store.js";

export interface RoomStore {
  getRoom(jid: string): Promise<RoomRecord | undefined>;
  /** Rooms sorted by JID. */
  listRooms(filter?: { kind?: RoomKind; persistent?: boolean }): Promise<RoomRecord[]>;
  /**
   * Creates a room and its first owner in one step (a room always has an
   * owner, XEP-0045 §10). The owner row gets clock 1.
   * Rejects with "exists" if the room exists.
   */
  createRoom(room: NewRoom, owner: { bareJid: string; actor?: string }): Promise<{ room: RoomRecord; owner: AffiliationRecord }>;
  /** Rejects with "not_found" if there is no such room. */
  updateRoom(jid: string, patch: RoomPatch): Promise<RoomRecord>;
  /** Deletes the room and everything that belongs to it. False if there was none. */
  deleteRoom(jid: string): Promise<boolean>;
}

export interface AffiliationStore {
  /** The row for this JID, tombstones ("none") included. */
  getAffiliation(room: string, bareJid: string): Promise<AffiliationRecord | undefined>;
  /** Affiliations of a room sorted by JID; tombstones only with includeNone. */
  listAffiliations(room: string, filter?: { affiliation?: Affiliation; includeNone?: boolean }): Promise<AffiliationRecord[]>;
  /** Where this JID is affiliated (tombstones left out), sorted by room. */
  listAffiliationsOf(bareJid: string): Promise<AffiliationRecord[]>;
  /**
   * Applies the changes in order, atomically. A change to the affiliation the
   * JID already has is a no-op (no clock tick, not returned). Each effective
   * change increments the room's affiliation clock and is stamped with it.
   * Rejects with "not_found" if the room does not exist.
   */
  setAffiliations(room: string, changes: readonly AffiliationChange[], now: number): Promise<AppliedAffiliationChange[]>;
}

export interface TransactionOptions {
  /** "full" (the default): durable when it resolves. "deferred": durable with the next full write. */
  readonly durability?: "full" | "deferred";
}

/** What a transaction callback gets: every data method, nothing about the connection. */
export type StoreTx = RoomStore & AffiliationStore & MlsStoreTx;

export interface Store extends StoreTx {
  /** The schema version of the open database. */
  readonly schemaVersion: number;
  /**
   * Runs `fn` in one transaction: committed (durably) if it resolves, rolled
   * back if it rejects (the rejection is passed on). Transactions run one at a
   * time. Calling transaction() again from inside `fn` rejects with
   * StoreError("nested_transaction").
   *
   * `durability: "deferred"` is for advisory data (delivery cursors): the
   * commit is not flushed to disk on its own but with the next durable write.
   * It survives a process crash, not a power cut, and it does not make
   * the next durable write wait behind an fsync of its own.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Waits for running work, then closes. Later calls reject with "closed". */
  close(): Promise<void>;
}
