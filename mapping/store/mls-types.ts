// What the store keeps for the MLS side of rooms (docs/protocol.md §9):
// devices and their KeyPackages, each room's group (public state), the epoch
// DAG, the room log and who receives which part of it.
//
// Plain data. Sequence numbers and epochs are bigint (uint64 on the wire);
// times are milliseconds since the Unix epoch.

export interface DeviceRecord {
  bareJid: string;
  deviceId: string;
  retired: boolean;
  /** The full JID the device used most recently (for low-water hints). */
  lastJid?: string;
  registeredAt: number;
  lastSeen: number;
}

export interface NewKeyPackage {
  /** KeyPackageRef (RFC 9420 §5.2). */
  ref: Uint8Array;
  /** The encoded MLSMessage(KeyPackage). */
  data: Uint8Array;
  lastResort: boolean;
  /** Lifetime end, seconds since the epoch. */
  notAfter: number;
}

export interface KeyPackageCount {
  available: number;
  lastResort: boolean;
}

export interface ClaimedKeyPackage {
  ref: Uint8Array;
  data: Uint8Array;
  lastResort: boolean;
}

export interface GroupRecord {
  room: string;
  groupId: Uint8Array;
  cipherSuite: number;
  epoch: bigint;
  /** Id of the current epoch in the DAG. */
  epochId: Uint8Array;
  /** The serialized PublicGroup. */
  state: Uint8Array;
  /** The current GroupInfo (encoded MLSMessage). */
  groupInfo: Uint8Array;
  /** Epoch created by the latest commit that removed a leaf. */
  removalEpoch: bigint;
  /** The seq the next log entry gets. */
  nextSeq: bigint;
  boundAt: number;
}

export interface EpochRecord {
  room: string;
  epochId: Uint8Array;
  epoch: bigint;
  /** Parent epoch in the DAG (absent for epoch 0). */
  parentId?: Uint8Array;
  /** The log entry of the commit that created it (absent for epoch 0). */
  commitSeq?: bigint;
  createdAt: number;
}

export type LogKind = "proposal" | "commit" | "application";

export interface LogEntry {
  room: string;
  seq: bigint;
  kind: LogKind;
  /** Epoch of the MLS framing (for a commit: the epoch it was sent in). */
  epoch: bigint;
  /** XEP-0359 stanza-id assigned by the room. */
  stanzaId: string;
  /** The `id` attribute of the sender's stanza, copied on fan-out. */
  clientId?: string;
  /** XEP-0359 origin-id of the sender. */
  originId?: string;
  senderJid?: string;
  senderDevice?: string;
  senderNick?: string;
  /** The encoded MLSMessage. */
  payload: Uint8Array;
  /** For a commit that adds members: its Welcome and the ratchet tree of the new epoch. */
  welcome?: Uint8Array;
  ratchetTree?: Uint8Array;
  createdAt: number;
}

/**
 * Who receives which part of a room's log: a device is a recipient of every
 * entry from `fromSeq` (its Welcome's commit, or after its external commit)
 * up to `untilSeq` (the commit removing it, inclusive), except application
 * messages from `appUntilSeq` on (its Remove was proposed).
 */
export interface MembershipSpan {
  room: string;
  bareJid: string;
  deviceId: string;
  fromSeq: bigint;
  /** The entry at fromSeq reaches this device as its Welcome. */
  viaWelcome: boolean;
  appUntilSeq?: bigint;
  untilSeq?: bigint;
}

/** A device's delivery cursor moved to `seq` (§6.8). */
export interface CursorMove {
  room: string;
  bareJid: string;
  deviceId: string;
  seq: bigint;
}

/** A log entry as one device receives it. */
export interface DeviceEntry extends LogEntry {
  /** True when this device gets the entry's Welcome instead of the entry itself. */
  asWelcome: boolean;
}

/** A proposal the DS issued in the current epoch of a room. */
export interface PendingProposalRecord {
  room: string;
  seq: bigint;
  ref: Uint8Array;
  kind: "add" | "remove";
  bareJid: string;
  deviceId: string;
  leaf?: number;
  keyPackageRef?: Uint8Array;
}
