// The MLS sub-interfaces on SQLite (tables of migration 2, see migrations.ts).
//
// node-sqlite3 binds a JavaScript bigint as NULL, so uint64 values (seq,
// epoch) are bound as numbers, which is exact up to 2^53: far beyond what a
// room reaches. Blobs come back as Buffers and are returned as Uint8Arrays.

import { StoreError } from "../errors.js";
import type { MlsStoreTx } from "../mls-store.js";
import type {
  ClaimedKeyPackage,
  CursorMove,
  DeviceEntry,
  DeviceRecord,
  EpochRecord,
  GroupRecord,
  KeyPackageCount,
  LogEntry,
  LogKind,
  MembershipSpan,
  NewKeyPackage,
  PendingProposalRecord,
} from "../mls-types.js";
import type { SqliteDb, SqlValue } from "./db.js";

/** bigint -> number for binding; refuses values that would lose precision. */
function n(v: bigint): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new StoreError("invalid", `value ${v} out of range`);
  return Number(v);
}

function bytes(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new StoreError("io", "expected a blob");
  return new Uint8Array(v);
}

interface DeviceRow {
  bare_jid: string;
  device_id: string;
  retired: number;
  last_jid: string | null;
  registered_at: number;
  last_seen: number;
}

interface GroupRow {
  room: string;
  group_id: Uint8Array;
  cipher_suite: number;
  epoch: number;
  epoch_id: Uint8Array;
  state: Uint8Array;
  group_info: Uint8Array;
  removal_epoch: number;
  next_seq: number;
  bound_at: number;
}

interface EpochRow {
  room: string;
  epoch_id: Uint8Array;
  epoch: number;
  parent_id: Uint8Array | null;
  commit_seq: number | null;
  created_at: number;
}

interface LogRow {
  room: string;
  seq: number;
  kind: string;
  epoch: number;
  stanza_id: string;
  client_id: string | null;
  origin_id: string | null;
  sender_jid: string | null;
  sender_device: string | null;
  sender_nick: string | null;
  payload: Uint8Array;
  welcome: Uint8Array | null;
  ratchet_tree: Uint8Array | null;
  created_at: number;
}

interface SpanRow {
  room: string;
  bare_jid: string;
  device_id: string;
  from_seq: number;
  via_welcome: number;
  app_until_seq: number | null;
  until_seq: number | null;
}

interface PendingRow {
  room: string;
  seq: number;
  ref: Uint8Array;
  kind: string;
  bare_jid: string;
  device_id: string;
  leaf: number | null;
  key_package_ref: Uint8Array | null;
}

const LOG_COLUMNS =
  "l.room, l.seq, l.kind, l.epoch, l.stanza_id, l.client_id, l.origin_id, l.sender_jid, l.sender_device, l.sender_nick, l.payload, l.welcome, l.ratchet_tree, l.created_at";

function toDevice(r: DeviceRow): DeviceRecord {
  const d: DeviceRecord = {
    bareJid: r.bare_jid,
    deviceId: r.device_id,
    retired: r.retired === 1,
    registeredAt: r.registered_at,
    lastSeen: r.last_seen,
  };
  if (r.last_jid !== null) d.lastJid = r.last_jid;
  return d;
}

function toGroup(r: GroupRow): GroupRecord {
  return {
    room: r.room,
    groupId: bytes(r.group_id),
    cipherSuite: r.cipher_suite,
    epoch: BigInt(r.epoch),
    epochId: bytes(r.epoch_id),
    state: bytes(r.state),
    groupInfo: bytes(r.group_info),
    removalEpoch: BigInt(r.removal_epoch),
    nextSeq: BigInt(r.next_seq),
    boundAt: r.bound_at,
  };
}

function toEpoch(r: EpochRow): EpochRecord {
  const e: EpochRecord = { room: r.room, epochId: bytes(r.epoch_id), epoch: BigInt(r.epoch), createdAt: r.created_at };
  if (r.parent_id !== null) e.parentId = bytes(r.parent_id);
  if (r.commit_seq !== null) e.commitSeq = BigInt(r.commit_seq);
  return e;
}

function toEntry(r: LogRow): LogEntry {
  const e: LogEntry = {
    room: r.room,
    seq: BigInt(r.seq),
    kind: r.kind as LogKind,
    epoch: BigInt(r.epoch),
    stanzaId: r.stanza_id,
    payload: bytes(r.payload),
    createdAt: r.created_at,
  };
  if (r.client_id !== null) e.clientId = r.client_id;
  if (r.origin_id !== null) e.originId = r.origin_id;
  if (r.sender_jid !== null) e.senderJid = r.sender_jid;
  if (r.sender_device !== null) e.senderDevice = r.sender_device;
  if (r.sender_nick !== null) e.senderNick = r.sender_nick;
  if (r.welcome !== null) e.welcome = bytes(r.welcome);
  if (r.ratchet_tree !== null) e.ratchetTree = bytes(r.ratchet_tree);
  return e;
}

function toSpan(r: SpanRow): MembershipSpan {
  const s: MembershipSpan = {
    room: r.room,
    bareJid: r.bare_jid,
    deviceId: r.device_id,
    fromSeq: BigInt(r.from_seq),
    viaWelcome: r.via_welcome === 1,
  };
  if (r.app_until_seq !== null) s.appUntilSeq = BigInt(r.app_until_seq);
  if (r.until_seq !== null) s.untilSeq = BigInt(r.until_seq);
  return s;
}

function toPending(r: PendingRow): PendingProposalRecord {
  const p: PendingProposalRecord = {
    room: r.room,
    seq: BigInt(r.seq),
    ref: bytes(r.ref),
    kind: r.kind as "add" | "remove",
    bareJid: r.bare_jid,
    deviceId: r.device_id,
  };
  if (r.leaf !== null) p.leaf = r.leaf;
  if (r.key_package_ref !== null) p.keyPackageRef = bytes(r.key_package_ref);
  return p;
}

function isConstraint(e: unknown): boolean {
  return e instanceof Error && /SQLITE_CONSTRAINT/.test(e.message + String((e as { cause?: unknown }).cause ?? ""));
}

export class MlsSqliteOps implements MlsStoreTx {
  constructor(protected readonly db: SqliteDb) {}

  /** Runs fn in the current transaction, or in a new one. */
  protected atomic<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.inTransaction ? fn() : this.db.transaction(fn);
  }

  // --- devices ---------------------------------------------------------------

  async getDevice(bareJid: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const r = await this.db.get<DeviceRow>("SELECT * FROM mls_devices WHERE bare_jid = ? AND device_id = ?", [bareJid, deviceId]);
    return r && toDevice(r);
  }

  async getDevices(keys: readonly { readonly bareJid: string; readonly deviceId: string }[]): Promise<DeviceRecord[]> {
    const out: DeviceRecord[] = [];
    // 400 pairs (800 parameters) per statement, well under SQLite's limit.
    for (let i = 0; i < keys.length; i += 400) {
      const chunk = keys.slice(i, i + 400);
      const rows = await this.db.all<DeviceRow>(
        `SELECT * FROM mls_devices WHERE (bare_jid, device_id) IN (VALUES ${chunk.map(() => "(?, ?)").join(", ")})`,
        chunk.flatMap((k) => [k.bareJid, k.deviceId]),
      );
      out.push(...rows.map(toDevice));
    }
    return out;
  }

  async listDevices(bareJid: string): Promise<DeviceRecord[]> {
    const rows = await this.db.all<DeviceRow>("SELECT * FROM mls_devices WHERE bare_jid = ? ORDER BY device_id", [bareJid]);
    return rows.map(toDevice);
  }

  async listMemberDevices(room: string): Promise<DeviceRecord[]> {
    const rows = await this.db.all<DeviceRow>(
      `SELECT d.* FROM affiliations a JOIN mls_devices d ON d.bare_jid = a.bare_jid
        WHERE a.room = ? AND a.affiliation IN ('owner', 'admin', 'member') AND d.retired = 0
        ORDER BY d.bare_jid, d.device_id`,
      [room],
    );
    return rows.map(toDevice);
  }

  async saveDevice(d: DeviceRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO mls_devices (bare_jid, device_id, retired, last_jid, registered_at, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (bare_jid, device_id) DO UPDATE SET
         retired = excluded.retired, last_jid = excluded.last_jid, last_seen = excluded.last_seen`,
      [d.bareJid, d.deviceId, d.retired ? 1 : 0, d.lastJid ?? null, d.registeredAt, d.lastSeen],
    );
  }

  // --- KeyPackages -------------------------------------------------------------

  async addKeyPackages(bareJid: string, deviceId: string, packages: readonly NewKeyPackage[], replace: boolean, now: number): Promise<void> {
    await this.atomic(async () => {
      if (replace) {
        await this.db.run(
          "DELETE FROM mls_key_packages WHERE bare_jid = ? AND device_id = ? AND last_resort = 0 AND reserved_room IS NULL",
          [bareJid, deviceId],
        );
      }
      if (packages.some((p) => p.lastResort)) {
        await this.db.run("DELETE FROM mls_key_packages WHERE bare_jid = ? AND device_id = ? AND last_resort = 1", [bareJid, deviceId]);
      }
      for (const p of packages) {
        try {
          await this.db.run(
            `INSERT INTO mls_key_packages (ref, bare_jid, device_id, data, last_resort, not_after, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
            [p.ref, bareJid, deviceId, p.data, p.lastResort ? 1 : 0, p.notAfter, now],
          );
        } catch (e) {
          if (isConstraint(e)) throw new StoreError("exists", "KeyPackage already stored", { cause: e });
          throw e;
        }
      }
    });
  }

  async countKeyPackages(bareJid: string, deviceId: string): Promise<KeyPackageCount> {
    const r = await this.db.get<{ available: number; last: number }>(
      `SELECT COALESCE(SUM(last_resort = 0 AND reserved_room IS NULL), 0) AS available,
              COALESCE(SUM(last_resort = 1), 0) AS last
         FROM mls_key_packages WHERE bare_jid = ? AND device_id = ?`,
      [bareJid, deviceId],
    );
    return { available: r?.available ?? 0, lastResort: (r?.last ?? 0) > 0 };
  }

  async hasKeyPackage(ref: Uint8Array): Promise<boolean> {
    return (await this.db.get("SELECT 1 FROM mls_key_packages WHERE ref = ?", [ref])) !== undefined;
  }

  async claimKeyPackage(bareJid: string, deviceId: string, room: string, minNotAfter: number): Promise<ClaimedKeyPackage | undefined> {
    return this.atomic(async () => {
      const pick = await this.db.get<{ ref: Uint8Array; data: Uint8Array; last_resort: number }>(
        `SELECT ref, data, last_resort FROM mls_key_packages
          WHERE bare_jid = ? AND device_id = ? AND reserved_room IS NULL AND not_after >= ?
          ORDER BY last_resort ASC, created_at ASC, rowid ASC LIMIT 1`,
        [bareJid, deviceId, minNotAfter],
      );
      if (!pick) return undefined;
      if (pick.last_resort === 0) {
        await this.db.run("UPDATE mls_key_packages SET reserved_room = ? WHERE ref = ?", [room, pick.ref]);
      }
      return { ref: bytes(pick.ref), data: bytes(pick.data), lastResort: pick.last_resort === 1 };
    });
  }

  async deleteKeyPackage(ref: Uint8Array): Promise<void> {
    await this.db.run("DELETE FROM mls_key_packages WHERE ref = ? AND last_resort = 0", [ref]);
  }

  async releaseKeyPackage(ref: Uint8Array): Promise<void> {
    await this.db.run("UPDATE mls_key_packages SET reserved_room = NULL WHERE ref = ?", [ref]);
  }

  async deleteDeviceKeyPackages(bareJid: string, deviceId: string): Promise<void> {
    await this.db.run("DELETE FROM mls_key_packages WHERE bare_jid = ? AND device_id = ?", [bareJid, deviceId]);
  }

  async deleteExpiredKeyPackages(nowSeconds: number): Promise<number> {
    const r = await this.db.run("DELETE FROM mls_key_packages WHERE not_after < ?", [nowSeconds]);
    return r.changes;
  }

  // --- groups and epochs ----------------------------------------------------------

  async getGroup(room: string): Promise<GroupRecord | undefined> {
    const r = await this.db.get<GroupRow>("SELECT * FROM mls_groups WHERE room = ?", [room]);
    return r && toGroup(r);
  }

  async groupIdInUse(groupId: Uint8Array): Promise<boolean> {
    return (await this.db.get("SELECT 1 FROM mls_groups WHERE group_id = ?", [groupId])) !== undefined;
  }

  async createGroup(g: GroupRecord, genesis: EpochRecord): Promise<void> {
    await this.atomic(async () => {
      try {
        await this.db.run(
          `INSERT INTO mls_groups (room, group_id, cipher_suite, epoch, epoch_id, state, group_info, removal_epoch, next_seq, bound_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [g.room, g.groupId, g.cipherSuite, n(g.epoch), g.epochId, g.state, g.groupInfo, n(g.removalEpoch), n(g.nextSeq), g.boundAt],
        );
      } catch (e) {
        if (isConstraint(e)) throw new StoreError("exists", "room already bound or group id in use", { cause: e });
        throw e;
      }
      await this.addEpoch(genesis);
    });
  }

  async saveGroup(g: GroupRecord): Promise<void> {
    const r = await this.db.run(
      `UPDATE mls_groups SET epoch = ?, epoch_id = ?, state = ?, group_info = ?, removal_epoch = ?, next_seq = ? WHERE room = ?`,
      [n(g.epoch), g.epochId, g.state, g.groupInfo, n(g.removalEpoch), n(g.nextSeq), g.room],
    );
    if (r.changes === 0) throw new StoreError("not_found", `room '${g.room}' is not bound`);
  }

  async addEpoch(e: EpochRecord): Promise<void> {
    try {
      await this.db.run(
        "INSERT INTO mls_epochs (room, epoch_id, epoch, parent_id, commit_seq, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [e.room, e.epochId, n(e.epoch), e.parentId ?? null, e.commitSeq === undefined ? null : n(e.commitSeq), e.createdAt],
      );
    } catch (err) {
      if (isConstraint(err)) throw new StoreError("exists", `epoch ${e.epoch} of '${e.room}' already exists`, { cause: err });
      throw err;
    }
  }

  async listEpochs(room: string): Promise<EpochRecord[]> {
    const rows = await this.db.all<EpochRow>("SELECT * FROM mls_epochs WHERE room = ? ORDER BY epoch", [room]);
    return rows.map(toEpoch);
  }

  // --- the log -----------------------------------------------------------------------

  async appendEntry(e: LogEntry): Promise<void> {
    await this.appendEntries([e]);
  }

  async appendEntries(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // 14 parameters a row: 64 rows stay far below SQLite's limit. More than that is a transaction of
    // several statements; up to it, one statement (atomic on its own), one commit, one round trip.
    if (entries.length > 64 && !this.db.inTransaction) return this.atomic(() => this.appendEntries(entries));
    for (let i = 0; i < entries.length; i += 64) {
      const chunk = entries.slice(i, i + 64);
      try {
        await this.db.run(
          `INSERT INTO mls_log (room, seq, kind, epoch, stanza_id, client_id, origin_id, sender_jid, sender_device, sender_nick,
                                payload, welcome, ratchet_tree, created_at)
           VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
          chunk.flatMap((e): SqlValue[] => [
            e.room,
            n(e.seq),
            e.kind,
            n(e.epoch),
            e.stanzaId,
            e.clientId ?? null,
            e.originId ?? null,
            e.senderJid ?? null,
            e.senderDevice ?? null,
            e.senderNick ?? null,
            e.payload,
            e.welcome ?? null,
            e.ratchetTree ?? null,
            e.createdAt,
          ]),
        );
      } catch (err) {
        if (isConstraint(err)) {
          const which = chunk.length === 1 ? `entry ${chunk[0]!.seq} of '${chunk[0]!.room}'` : `one of ${chunk.length} entries`;
          throw new StoreError("exists", `${which} already exists`, { cause: err });
        }
        throw err;
      }
    }
  }

  async getEntry(room: string, seq: bigint): Promise<LogEntry | undefined> {
    const r = await this.db.get<LogRow>(`SELECT ${LOG_COLUMNS} FROM mls_log l WHERE l.room = ? AND l.seq = ?`, [room, n(seq)]);
    return r && toEntry(r);
  }

  async oldestSeq(room: string): Promise<bigint | undefined> {
    const r = await this.db.get<{ s: number | null }>("SELECT MIN(seq) AS s FROM mls_log WHERE room = ?", [room]);
    return r?.s == null ? undefined : BigInt(r.s);
  }

  async entriesFor(room: string, bareJid: string, deviceId: string, afterSeq: bigint, limit: number): Promise<DeviceEntry[]> {
    const rows = await this.db.all<LogRow & { as_welcome: number }>(
      `SELECT ${LOG_COLUMNS}, (s.via_welcome = 1 AND l.seq = s.from_seq) AS as_welcome
         FROM mls_log l
         JOIN mls_spans s ON s.room = l.room AND s.bare_jid = ? AND s.device_id = ?
        WHERE l.room = ? AND l.seq > ?
          AND l.seq >= s.from_seq
          AND (s.until_seq IS NULL OR l.seq <= s.until_seq)
          AND (l.kind <> 'application' OR s.app_until_seq IS NULL OR l.seq < s.app_until_seq)
        ORDER BY l.seq
        LIMIT ?`,
      [bareJid, deviceId, room, n(afterSeq), limit],
    );
    return rows.map((r) => ({ ...toEntry(r), asWelcome: r.as_welcome === 1 }));
  }

  async pruneLog(room: string, before: number): Promise<number> {
    const r = await this.db.run("DELETE FROM mls_log WHERE room = ? AND created_at < ?", [room, before]);
    return r.changes;
  }

  // --- who receives what --------------------------------------------------------------

  async openSpan(s: MembershipSpan): Promise<void> {
    await this.atomic(async () => {
      // A device has one open span per room: a new one replaces a stale open one.
      await this.db.run(
        "UPDATE mls_spans SET until_seq = ? WHERE room = ? AND bare_jid = ? AND device_id = ? AND until_seq IS NULL",
        [Math.max(0, n(s.fromSeq) - 1), s.room, s.bareJid, s.deviceId],
      );
      await this.db.run(
        `INSERT INTO mls_spans (room, bare_jid, device_id, from_seq, via_welcome, app_until_seq, until_seq) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (room, bare_jid, device_id, from_seq) DO UPDATE SET
           via_welcome = excluded.via_welcome, app_until_seq = excluded.app_until_seq, until_seq = excluded.until_seq`,
        [
          s.room,
          s.bareJid,
          s.deviceId,
          n(s.fromSeq),
          s.viaWelcome ? 1 : 0,
          s.appUntilSeq === undefined ? null : n(s.appUntilSeq),
          s.untilSeq === undefined ? null : n(s.untilSeq),
        ],
      );
    });
  }

  async closeSpanForApplication(room: string, bareJid: string, deviceId: string, seq: bigint): Promise<void> {
    await this.db.run(
      `UPDATE mls_spans SET app_until_seq = ?
        WHERE room = ? AND bare_jid = ? AND device_id = ? AND until_seq IS NULL AND app_until_seq IS NULL`,
      [n(seq), room, bareJid, deviceId],
    );
  }

  async closeSpan(room: string, bareJid: string, deviceId: string, seq: bigint): Promise<void> {
    await this.db.run(
      "UPDATE mls_spans SET until_seq = ? WHERE room = ? AND bare_jid = ? AND device_id = ? AND until_seq IS NULL",
      [n(seq), room, bareJid, deviceId],
    );
  }

  async reopenSpanForApplication(room: string, bareJid: string, deviceId: string): Promise<void> {
    await this.db.run(
      "UPDATE mls_spans SET app_until_seq = NULL WHERE room = ? AND bare_jid = ? AND device_id = ? AND until_seq IS NULL",
      [room, bareJid, deviceId],
    );
  }

  async listSpans(room: string, bareJid: string, deviceId: string): Promise<MembershipSpan[]> {
    const rows = await this.db.all<SpanRow>(
      "SELECT * FROM mls_spans WHERE room = ? AND bare_jid = ? AND device_id = ? ORDER BY from_seq",
      [room, bareJid, deviceId],
    );
    return rows.map(toSpan);
  }

  async getCursor(room: string, bareJid: string, deviceId: string): Promise<bigint> {
    const r = await this.db.get<{ delivered_seq: number }>(
      "SELECT delivered_seq FROM mls_cursors WHERE room = ? AND bare_jid = ? AND device_id = ?",
      [room, bareJid, deviceId],
    );
    return BigInt(r?.delivered_seq ?? 0);
  }

  async advanceCursors(moves: readonly CursorMove[]): Promise<void> {
    // 200 rows (800 parameters) per statement, well under SQLite's limit.
    for (let i = 0; i < moves.length; i += 200) {
      const chunk = moves.slice(i, i + 200);
      await this.db.run(
        `INSERT INTO mls_cursors (room, bare_jid, device_id, delivered_seq)
         SELECT v.column1, v.column2, v.column3, v.column4 FROM (VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")}) AS v
          WHERE EXISTS (SELECT 1 FROM rooms r WHERE r.jid = v.column1)
         ON CONFLICT (room, bare_jid, device_id) DO UPDATE SET delivered_seq = MAX(delivered_seq, excluded.delivered_seq)`,
        chunk.flatMap((m) => [m.room, m.bareJid, m.deviceId, n(m.seq)]),
      );
    }
  }

  async listPending(room: string): Promise<PendingProposalRecord[]> {
    const rows = await this.db.all<PendingRow>("SELECT * FROM mls_pending WHERE room = ? ORDER BY seq", [room]);
    return rows.map(toPending);
  }

  async addPending(p: PendingProposalRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO mls_pending (room, seq, ref, kind, bare_jid, device_id, leaf, key_package_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [p.room, n(p.seq), p.ref, p.kind, p.bareJid, p.deviceId, p.leaf ?? null, p.keyPackageRef ?? null],
    );
  }

  async clearPending(room: string): Promise<void> {
    await this.db.run("DELETE FROM mls_pending WHERE room = ?", [room]);
  }

  // --- meta -----------------------------------------------------------------------------

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const r = await this.db.get<{ value: Uint8Array }>("SELECT value FROM service_meta WHERE key = ?", [key]);
    return r && bytes(r.value);
  }

  async setMeta(key: string, value: Uint8Array): Promise<void> {
    await this.db.run(
      "INSERT INTO service_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [key, value],
    );
  }
}


