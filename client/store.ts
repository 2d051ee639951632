// The client's state file: stateDir/client.sqlite (WAL, mode 0600).
//
// It holds secrets: the device's signature private key, KeyPackage private
// keys, and every room's MLS group state (epoch secrets), plus the plaintext of
// messages not yet accepted by the service. Protect it like a private key: the
// directory is created 0700 and the file 0600; back it up only encrypted.
//
// Durability rule: a room's MLS state, its processed-seq cursor, the dedup set
// entries and outbox updates of the same step are written in ONE transaction,
// so a crash never loses or double-processes an entry.

import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { ClientError } from "./errors.js";
import { SqliteDb, type Sql } from "./sqlite.js";

export const STATE_FILE = "client.sqlite";
const SCHEMA_VERSION = 2;

export interface DeviceRecord {
  /** Bare JID of the account. */
  readonly jid: string;
  readonly deviceId: string;
  readonly suite: number;
  readonly signaturePrivateKey: Uint8Array;
  readonly signaturePublicKey: Uint8Array;
  readonly createdAt: number;
}

export interface KeyPackageRecord {
  /** Hex KeyPackageRef. */
  readonly ref: string;
  /** The KeyPackage as an encoded MLSMessage. */
  readonly keyPackage: Uint8Array;
  readonly initPrivateKey: Uint8Array;
  readonly encryptionPrivateKey: Uint8Array;
  readonly lastResort: boolean;
  /** Unix seconds. */
  readonly notAfter: number;
  readonly createdAt: number;
}

export type RoomStatus = "new" | "member" | "removed";
export type RoomKind = "group" | "channel";

export interface RoomRecord {
  readonly room: string;
  readonly kind: RoomKind | undefined;
  readonly status: RoomStatus;
  /** serializeGroup bytes, when the device has a group state. */
  readonly groupState: Uint8Array | undefined;
  /** The highest seq processed (0: none). */
  readonly lastSeq: number;
  /** The epoch this device joined in (it ignores older application messages). */
  readonly joinEpoch: number;
  readonly needsSelfUpdate: boolean;
  /** Rejoin this room after a reconnect / restart. */
  readonly autoJoin: boolean;
  readonly nick: string | undefined;
  /** Unix seconds when this device last got a fresh leaf in the group (joined, or its path commit accepted); 0 = unknown. */
  readonly leafUpdatedAt: number;
}

export type OutboxStatus = "queued" | "sent" | "accepted" | "failed";

export interface OutboxRecord {
  readonly room: string;
  readonly contentId: string;
  /** The serialized <content/> (cleared once accepted). */
  readonly content: string;
  readonly status: OutboxStatus;
  readonly epoch: number | undefined;
  readonly seq: number | undefined;
  readonly stanzaId: string | undefined;
  readonly attempts: number;
  readonly createdAt: number;
}

export interface OutboxUpdate {
  readonly contentId: string;
  readonly status: OutboxStatus;
  readonly epoch?: number | undefined;
  readonly seq?: number | undefined;
  readonly stanzaId?: string | undefined;
  readonly incrementAttempts?: boolean;
}

/** What is written together with a room's state. */
export interface RoomWrite {
  readonly seen?: readonly { sender: string; contentId: string; seq: number }[];
  readonly outbox?: readonly OutboxUpdate[];
  readonly deleteKeyPackages?: readonly string[];
}

export type PinResult = "new" | "same" | "changed";

interface RoomRow {
  room: string;
  kind: string | null;
  status: string;
  group_state: Uint8Array | null;
  last_seq: number;
  join_epoch: number;
  needs_self_update: number;
  auto_join: number;
  nick: string | null;
  leaf_updated_at: number;
}

interface OutboxRow {
  room: string;
  content_id: string;
  content: string;
  status: string;
  epoch: number | null;
  seq: number | null;
  stanza_id: string | null;
  attempts: number;
  created_at: number;
}

interface KpRow {
  ref: string;
  key_package: Uint8Array;
  init_private: Uint8Array;
  enc_private: Uint8Array;
  last_resort: number;
  not_after: number;
  created_at: number;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS device (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     jid TEXT NOT NULL, device_id TEXT NOT NULL, suite INTEGER NOT NULL,
     sig_private BLOB NOT NULL, sig_public BLOB NOT NULL, created_at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS key_packages (
     ref TEXT PRIMARY KEY, key_package BLOB NOT NULL, init_private BLOB NOT NULL, enc_private BLOB NOT NULL,
     last_resort INTEGER NOT NULL, not_after INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS rooms (
     room TEXT PRIMARY KEY, kind TEXT, status TEXT NOT NULL, group_state BLOB,
     last_seq INTEGER NOT NULL DEFAULT 0, join_epoch INTEGER NOT NULL DEFAULT 0,
     needs_self_update INTEGER NOT NULL DEFAULT 0, auto_join INTEGER NOT NULL DEFAULT 0, nick TEXT,
     updated_at INTEGER NOT NULL, leaf_updated_at INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS outbox (
     room TEXT NOT NULL, content_id TEXT NOT NULL, content TEXT NOT NULL, status TEXT NOT NULL,
     epoch INTEGER, seq INTEGER, stanza_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
     PRIMARY KEY (room, content_id))`,
  `CREATE TABLE IF NOT EXISTS seen (
     room TEXT NOT NULL, sender TEXT NOT NULL, content_id TEXT NOT NULL, seq INTEGER NOT NULL,
     PRIMARY KEY (room, sender, content_id))`,
  `CREATE TABLE IF NOT EXISTS pins (
     jid TEXT NOT NULL, device TEXT NOT NULL, signature_key BLOB NOT NULL, first_seen INTEGER NOT NULL,
     PRIMARY KEY (jid, device))`,
];

const now = () => Math.floor(Date.now() / 1000);
const u8 = (b: Uint8Array | Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();

function toRoom(r: RoomRow): RoomRecord {
  return {
    room: r.room,
    kind: r.kind === "group" || r.kind === "channel" ? r.kind : undefined,
    status: (r.status as RoomStatus) ?? "new",
    groupState: r.group_state ? u8(r.group_state) : undefined,
    lastSeq: r.last_seq,
    joinEpoch: r.join_epoch,
    needsSelfUpdate: r.needs_self_update === 1,
    autoJoin: r.auto_join === 1,
    nick: r.nick ?? undefined,
    leafUpdatedAt: r.leaf_updated_at,
  };
}

function toOutbox(r: OutboxRow): OutboxRecord {
  return {
    room: r.room,
    contentId: r.content_id,
    content: r.content,
    status: r.status as OutboxStatus,
    epoch: r.epoch ?? undefined,
    seq: r.seq ?? undefined,
    stanzaId: r.stanza_id ?? undefined,
    attempts: r.attempts,
    createdAt: r.created_at,
  };
}

function toKp(r: KpRow): KeyPackageRecord {
  return {
    ref: r.ref,
    keyPackage: u8(r.key_package),
    initPrivateKey: u8(r.init_private),
    encryptionPrivateKey: u8(r.enc_private),
    lastResort: r.last_resort === 1,
    notAfter: r.not_after,
    createdAt: r.created_at,
  };
}

export class ClientStore {
  private constructor(
    private readonly db: SqliteDb,
    readonly path: string,
  ) {}

  /** Opens stateDir/client.sqlite, creating the directory (0700) and the schema. */
  static async open(stateDir: string): Promise<ClientStore> {
    try {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      chmodSync(stateDir, 0o700);
    } catch (e) {
      throw new ClientError("storage", `cannot create state directory '${stateDir}': ${(e as Error).message}`, { cause: e });
    }
    const path = join(stateDir, STATE_FILE);
    const db = await SqliteDb.open(path);
    try {
      await db.transaction(async (sql) => {
        for (const s of SCHEMA) await sql.run(s);
        const v = await sql.get<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
        if (v === undefined) await sql.run("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", [String(SCHEMA_VERSION)]);
        else if (Number(v.value) > SCHEMA_VERSION) {
          throw new ClientError("storage", `state file schema ${v.value} is newer than this client (${SCHEMA_VERSION})`);
        } else if (Number(v.value) < 2) {
          // 1 -> 2: when this device last refreshed its leaf in each room (periodic self-update, §6.5.1); 0 = unknown.
          await sql.run("ALTER TABLE rooms ADD COLUMN leaf_updated_at INTEGER NOT NULL DEFAULT 0");
          await sql.run("UPDATE meta SET value = ? WHERE key = 'schema_version'", [String(SCHEMA_VERSION)]);
        }
      });
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
    return new ClientStore(db, path);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  // ---------------------------------------------------------------- device

  async getDevice(): Promise<DeviceRecord | undefined> {
    const r = await this.db.get<{ jid: string; device_id: string; suite: number; sig_private: Uint8Array; sig_public: Uint8Array; created_at: number }>(
      "SELECT * FROM device WHERE id = 1",
    );
    return (
      r && {
        jid: r.jid,
        deviceId: r.device_id,
        suite: r.suite,
        signaturePrivateKey: u8(r.sig_private),
        signaturePublicKey: u8(r.sig_public),
        createdAt: r.created_at,
      }
    );
  }

  async createDevice(d: DeviceRecord): Promise<void> {
    await this.db.run(
      "INSERT INTO device (id, jid, device_id, suite, sig_private, sig_public, created_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
      [d.jid, d.deviceId, d.suite, d.signaturePrivateKey, d.signaturePublicKey, d.createdAt],
    );
  }

  // ---------------------------------------------------------------- key packages

  async addKeyPackages(list: readonly KeyPackageRecord[]): Promise<void> {
    await this.db.transaction(async (sql) => {
      for (const k of list) {
        await sql.run(
          "INSERT INTO key_packages (ref, key_package, init_private, enc_private, last_resort, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
          [k.ref, k.keyPackage, k.initPrivateKey, k.encryptionPrivateKey, k.lastResort ? 1 : 0, k.notAfter, k.createdAt],
        );
      }
    });
  }

  async getKeyPackage(ref: string): Promise<KeyPackageRecord | undefined> {
    const r = await this.db.get<KpRow>("SELECT * FROM key_packages WHERE ref = ?", [ref]);
    return r && toKp(r);
  }

  async deleteKeyPackages(refs: readonly string[]): Promise<void> {
    await this.db.transaction(async (sql) => {
      for (const ref of refs) await sql.run("DELETE FROM key_packages WHERE ref = ?", [ref]);
    });
  }

  async countKeyPackages(): Promise<{ regular: number; lastResort: number }> {
    const r = await this.db.get<{ regular: number; lr: number }>(
      "SELECT SUM(CASE WHEN last_resort = 0 THEN 1 ELSE 0 END) AS regular, SUM(last_resort) AS lr FROM key_packages",
    );
    return { regular: r?.regular ?? 0, lastResort: r?.lr ?? 0 };
  }

  /** Deletes KeyPackages that expired more than `graceSeconds` ago. */
  async pruneKeyPackages(graceSeconds: number): Promise<number> {
    return this.db.run("DELETE FROM key_packages WHERE not_after + ? < ?", [graceSeconds, now()]);
  }

  // ---------------------------------------------------------------- rooms

  async getRoom(room: string): Promise<RoomRecord | undefined> {
    const r = await this.db.get<RoomRow>("SELECT * FROM rooms WHERE room = ?", [room]);
    return r && toRoom(r);
  }

  async listRooms(): Promise<RoomRecord[]> {
    return (await this.db.all<RoomRow>("SELECT * FROM rooms ORDER BY room")).map(toRoom);
  }

  /** Writes a room's state and everything that goes with it, in one transaction. */
  async saveRoom(r: RoomRecord, w: RoomWrite = {}): Promise<void> {
    await this.db.transaction(async (sql) => {
      await sql.run(
        `INSERT INTO rooms (room, kind, status, group_state, last_seq, join_epoch, needs_self_update, auto_join, nick, updated_at, leaf_updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (room) DO UPDATE SET kind = excluded.kind, status = excluded.status, group_state = excluded.group_state,
           last_seq = excluded.last_seq, join_epoch = excluded.join_epoch, needs_self_update = excluded.needs_self_update,
           auto_join = excluded.auto_join, nick = excluded.nick, updated_at = excluded.updated_at, leaf_updated_at = excluded.leaf_updated_at`,
        [
          r.room,
          r.kind ?? null,
          r.status,
          r.groupState ?? null,
          r.lastSeq,
          r.joinEpoch,
          r.needsSelfUpdate ? 1 : 0,
          r.autoJoin ? 1 : 0,
          r.nick ?? null,
          now(),
          r.leafUpdatedAt,
        ],
      );
      for (const s of w.seen ?? []) {
        await sql.run("INSERT OR IGNORE INTO seen (room, sender, content_id, seq) VALUES (?, ?, ?, ?)", [r.room, s.sender, s.contentId, s.seq]);
      }
      for (const o of w.outbox ?? []) await applyOutbox(sql, r.room, o);
      for (const ref of w.deleteKeyPackages ?? []) await sql.run("DELETE FROM key_packages WHERE ref = ?", [ref]);
    });
  }

  /**
   * Deletes everything kept for a room: its group state and cursor, its
   * outbox and its dedup entries, in one transaction (a destroyed room,
   * docs/protocol.md §6.10: clients delete their group state).
   */
  async deleteRoom(room: string): Promise<void> {
    await this.db.transaction(async (sql) => {
      await sql.run("DELETE FROM rooms WHERE room = ?", [room]);
      await sql.run("DELETE FROM outbox WHERE room = ?", [room]);
      await sql.run("DELETE FROM seen WHERE room = ?", [room]);
    });
  }

  async hasSeen(room: string, sender: string, contentId: string): Promise<boolean> {
    const r = await this.db.get<{ one: number }>("SELECT 1 AS one FROM seen WHERE room = ? AND sender = ? AND content_id = ?", [room, sender, contentId]);
    return r !== undefined;
  }

  // ---------------------------------------------------------------- outbox

  async outboxAdd(room: string, contentId: string, content: string): Promise<void> {
    await this.db.run("INSERT INTO outbox (room, content_id, content, status, attempts, created_at) VALUES (?, ?, ?, 'queued', 0, ?)", [
      room,
      contentId,
      content,
      now(),
    ]);
  }

  async outboxGet(room: string, contentId: string): Promise<OutboxRecord | undefined> {
    const r = await this.db.get<OutboxRow>("SELECT * FROM outbox WHERE room = ? AND content_id = ?", [room, contentId]);
    return r && toOutbox(r);
  }

  /** Messages not yet accepted by the service (queued or sent), oldest first. */
  async outboxPending(room: string): Promise<OutboxRecord[]> {
    return (
      await this.db.all<OutboxRow>("SELECT * FROM outbox WHERE room = ? AND status IN ('queued', 'sent') ORDER BY created_at, rowid", [room])
    ).map(toOutbox);
  }

  async outboxUpdate(room: string, u: OutboxUpdate): Promise<void> {
    await this.db.transaction((sql) => applyOutbox(sql, room, u));
  }

  // ---------------------------------------------------------------- pins (§10.3)

  /** Trust on first use of (jid, device) -> signature key. */
  async pin(jid: string, device: string, signatureKey: Uint8Array): Promise<PinResult> {
    return this.db.transaction(async (sql) => {
      const r = await sql.get<{ signature_key: Uint8Array }>("SELECT signature_key FROM pins WHERE jid = ? AND device = ?", [jid, device]);
      if (r === undefined) {
        await sql.run("INSERT INTO pins (jid, device, signature_key, first_seen) VALUES (?, ?, ?, ?)", [jid, device, signatureKey, now()]);
        return "new";
      }
      return Buffer.compare(Buffer.from(r.signature_key), Buffer.from(signatureKey)) === 0 ? "same" : "changed";
    });
  }
}

async function applyOutbox(sql: Sql, room: string, o: OutboxUpdate): Promise<void> {
  const accepted = o.status === "accepted" || o.status === "failed";
  await sql.run(
    `UPDATE outbox SET status = ?, epoch = COALESCE(?, epoch), seq = COALESCE(?, seq), stanza_id = COALESCE(?, stanza_id),
       attempts = attempts + ?, content = CASE WHEN ? THEN '' ELSE content END
     WHERE room = ? AND content_id = ?`,
    [o.status, o.epoch ?? null, o.seq ?? null, o.stanzaId ?? null, o.incrementAttempts ? 1 : 0, accepted ? 1 : 0, room, o.contentId],
  );
}
