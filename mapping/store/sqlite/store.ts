// The Store on SQLite (the embedded default).

import { StoreError } from "../errors.js";
import type { AffiliationStore, RoomStore, Store, StoreTx, TransactionOptions } from "../store.js";
import {
  AFFILIATIONS,
  ROOM_KINDS,
  type Affiliation,
  type AffiliationChange,
  type AffiliationRecord,
  type AppliedAffiliationChange,
  type NewRoom,
  type RoomConfig,
  type RoomKind,
  type RoomPatch,
  type RoomRecord,
} from "../types.js";
import { SqliteDb, type SqlValue } from "./db.js";
import { MlsSqliteOps } from "./mls-ops.js";
import { APPLICATION_ID, checkMigrationList, MIGRATIONS, type Migration } from "./migrations.js";

export interface OpenSqliteStoreOptions {
  /** Replaces the migration list (tests only). */
  migrations?: readonly Migration[];
  busyTimeoutMs?: number;
  /** Background WAL checkpoints every this many ms (default 1000; 0: SQLite's automatic ones). See checkpointer.ts. */
  checkpointIntervalMs?: number;
  /** Clock for schema_migrations.applied_at (tests). */
  now?: () => number;
}

/**
 * Opens the database at `path` (":memory:" for a private in-memory one),
 * applies pending migrations, and refuses a database whose schema is newer
 * than this program's.
 */
export async function openSqliteStore(path: string, options: OpenSqliteStoreOptions = {}): Promise<SqliteStore> {
  const migrations = options.migrations ?? MIGRATIONS;
  checkMigrationList(migrations);
  const db = await SqliteDb.open(path, {
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    ...(options.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: options.checkpointIntervalMs } : {}),
  });
  try {
    const version = await migrate(db, migrations, options.now ?? Date.now);
    return new SqliteStore(db, version);
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

interface MigrationRow {
  version: number;
  name: string;
}

async function migrate(db: SqliteDb, migrations: readonly Migration[], now: () => number): Promise<number> {
  const appId = (await db.get<{ application_id: number }>("PRAGMA application_id"))?.application_id ?? 0;
  if (appId !== 0 && appId !== APPLICATION_ID) {
    throw new StoreError(
      "foreign_database",
      `'${db.path}' is an SQLite database of another application (application_id ${appId}); refusing to use it`,
    );
  }
  const hasLog = await db.get("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  if (!hasLog) {
    const other = await db.get<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1",
    );
    if (other) {
      throw new StoreError(
        "foreign_database",
        `'${db.path}' has tables (e.g. '${other.name}') but no schema_migrations table: not a database of this program`,
      );
    }
    await db.transaction(() =>
      db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (" +
          "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
      ),
    );
  }

  const applied = await db.all<MigrationRow>("SELECT version, name FROM schema_migrations ORDER BY version");
  const known = migrations.length;
  const newest = applied.length ? (applied[applied.length - 1] as MigrationRow).version : 0;
  if (newest > known) {
    throw new StoreError(
      "schema_too_new",
      `the database '${db.path}' has schema version ${newest}, but this version of xmpp-mls-bridge knows versions up to ${known}: ` +
        "it was written by a newer release. Run that release (or newer), or restore a backup made before the upgrade.",
    );
  }
  for (const row of applied) {
    const mine = migrations[row.version - 1];
    if (!mine || mine.name !== row.name) {
      throw new StoreError(
        "schema_mismatch",
        `the database '${db.path}' has migration ${row.version} '${row.name}', but this program's migration ${row.version} is ` +
          `'${mine?.name ?? "(none)"}': the database comes from a different line of development`,
      );
    }
  }
  for (const m of migrations.slice(newest)) {
    await db.transaction(async () => {
      await m.up(db);
      await db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [m.version, m.name, now()]);
    });
  }
  return known;
}

// ---------------------------------------------------------------------------
// Rows

interface RoomRow {
  jid: string;
  kind: string;
  persistent: number;
  name: string;
  subject: string;
  subject_by: string | null;
  subject_at: number | null;
  config: string;
  affiliation_clock: number;
  created_at: number;
}

interface AffiliationRow {
  room: string;
  bare_jid: string;
  affiliation: string;
  reason: string | null;
  actor: string | null;
  clock: number;
  updated_at: number;
}

const ROOM_COLUMNS = "jid, kind, persistent, name, subject, subject_by, subject_at, config, affiliation_clock, created_at";
const AFFILIATION_COLUMNS = "room, bare_jid, affiliation, reason, actor, clock, updated_at";

/** Neutral values for config fields missing from stored JSON (older rows, hand edits). */
const CONFIG_FALLBACK: RoomConfig = { description: "", changeSubject: false, publicRoom: false, whois: "anyone" };

function parseConfig(text: string): RoomConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = {};
  }
  const o = (raw !== null && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  return {
    description: typeof o["description"] === "string" ? o["description"] : CONFIG_FALLBACK.description,
    changeSubject: typeof o["changeSubject"] === "boolean" ? o["changeSubject"] : CONFIG_FALLBACK.changeSubject,
    publicRoom: typeof o["publicRoom"] === "boolean" ? o["publicRoom"] : CONFIG_FALLBACK.publicRoom,
    whois: o["whois"] === "moderators" ? "moderators" : "anyone",
  };
}

function toRoom(r: RoomRow): RoomRecord {
  const room: RoomRecord = {
    jid: r.jid,
    kind: r.kind as RoomKind,
    persistent: r.persistent === 1,
    name: r.name,
    subject: r.subject,
    config: parseConfig(r.config),
    affiliationClock: r.affiliation_clock,
    createdAt: r.created_at,
  };
  if (r.subject_by !== null) room.subjectBy = r.subject_by;
  if (r.subject_at !== null) room.subjectAt = r.subject_at;
  return room;
}

function toAffiliation(r: AffiliationRow): AffiliationRecord {
  const a: AffiliationRecord = {
    room: r.room,
    bareJid: r.bare_jid,
    affiliation: r.affiliation as Affiliation,
    clock: r.clock,
    updatedAt: r.updated_at,
  };
  if (r.reason !== null) a.reason = r.reason;
  if (r.actor !== null) a.actor = r.actor;
  return a;
}

function checkKind(kind: RoomKind): void {
  if (!ROOM_KINDS.includes(kind)) throw new StoreError("invalid", `invalid room kind '${String(kind)}'`);
}

function checkAffiliation(a: Affiliation): void {
  if (!AFFILIATIONS.includes(a)) throw new StoreError("invalid", `invalid affiliation '${String(a)}'`);
}

function checkJid(jid: string, what: string): void {
  if (typeof jid !== "string" || jid.length === 0) throw new StoreError("invalid", `${what} must be a non-empty JID`);
}

// ---------------------------------------------------------------------------
// Data methods, on whatever connection state they are called in

class SqliteOps extends MlsSqliteOps implements RoomStore, AffiliationStore {
  async getRoom(jid: string): Promise<RoomRecord | undefined> {
    const row = await this.db.get<RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE jid = ?`, [jid]);
    return row ? toRoom(row) : undefined;
  }

  async listRooms(filter: { kind?: RoomKind; persistent?: boolean } = {}): Promise<RoomRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.kind !== undefined) {
      where.push("kind = ?");
      params.push(filter.kind);
    }
    if (filter.persistent !== undefined) {
      where.push("persistent = ?");
      params.push(filter.persistent ? 1 : 0);
    }
    const rows = await this.db.all<RoomRow>(
      `SELECT ${ROOM_COLUMNS} FROM rooms${where.length ? " WHERE " + where.join(" AND ") : ""} ORDER BY jid`,
      params,
    );
    return rows.map(toRoom);
  }

  async createRoom(room: NewRoom, owner: { bareJid: string; actor?: string }): Promise<{ room: RoomRecord; owner: AffiliationRecord }> {
    checkJid(room.jid, "room");
    checkJid(owner.bareJid, "owner");
    checkKind(room.kind);
    return this.atomic(async () => {
      if (await this.db.get("SELECT 1 FROM rooms WHERE jid = ?", [room.jid])) {
        throw new StoreError("exists", `room '${room.jid}' exists`);
      }
      await this.db.run(
        "INSERT INTO rooms (jid, kind, persistent, name, subject, config, affiliation_clock, created_at) VALUES (?, ?, ?, ?, '', ?, 1, ?)",
        [room.jid, room.kind, room.persistent ? 1 : 0, room.name ?? "", JSON.stringify(room.config), room.createdAt],
      );
      await this.db.run(
        `INSERT INTO affiliations (${AFFILIATION_COLUMNS}) VALUES (?, ?, 'owner', NULL, ?, 1, ?)`,
        [room.jid, owner.bareJid, owner.actor ?? null, room.createdAt],
      );
      const created = await this.getRoom(room.jid);
      const aff = await this.getAffiliation(room.jid, owner.bareJid);
      if (!created || !aff) throw new StoreError("io", `room '${room.jid}' vanished while being created`);
      return { room: created, owner: aff };
    });
  }

  async updateRoom(jid: string, patch: RoomPatch): Promise<RoomRecord> {
    const sets: string[] = [];
    const params: SqlValue[] = [];
    const set = (column: string, value: SqlValue) => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (patch.kind !== undefined) {
      checkKind(patch.kind);
      set("kind", patch.kind);
    }
    if (patch.persistent !== undefined) set("persistent", patch.persistent ? 1 : 0);
    if (patch.name !== undefined) set("name", patch.name);
    if (patch.subject !== undefined) set("subject", patch.subject);
    if (patch.subjectBy !== undefined) set("subject_by", patch.subjectBy);
    if (patch.subjectAt !== undefined) set("subject_at", patch.subjectAt);
    if (patch.config !== undefined) set("config", JSON.stringify(patch.config));
    return this.atomic(async () => {
      if (sets.length > 0) {
        const r = await this.db.run(`UPDATE rooms SET ${sets.join(", ")} WHERE jid = ?`, [...params, jid]);
        if (r.changes === 0) throw new StoreError("not_found", `no room '${jid}'`);
      }
      const room = await this.getRoom(jid);
      if (!room) throw new StoreError("not_found", `no room '${jid}'`);
      return room;
    });
  }

  async deleteRoom(jid: string): Promise<boolean> {
    const r = await this.db.run("DELETE FROM rooms WHERE jid = ?", [jid]);
    return r.changes > 0;
  }

  async getAffiliation(room: string, bareJid: string): Promise<AffiliationRecord | undefined> {
    const row = await this.db.get<AffiliationRow>(
      `SELECT ${AFFILIATION_COLUMNS} FROM affiliations WHERE room = ? AND bare_jid = ?`,
      [room, bareJid],
    );
    return row ? toAffiliation(row) : undefined;
  }

  async listAffiliations(room: string, filter: { affiliation?: Affiliation; includeNone?: boolean } = {}): Promise<AffiliationRecord[]> {
    const where = ["room = ?"];
    const params: SqlValue[] = [room];
    if (filter.affiliation !== undefined) {
      checkAffiliation(filter.affiliation);
      where.push("affiliation = ?");
      params.push(filter.affiliation);
    } else if (!filter.includeNone) {
      where.push("affiliation <> 'none'");
    }
    const rows = await this.db.all<AffiliationRow>(
      `SELECT ${AFFILIATION_COLUMNS} FROM affiliations WHERE ${where.join(" AND ")} ORDER BY bare_jid`,
      params,
    );
    return rows.map(toAffiliation);
  }

  async listAffiliationsOf(bareJid: string): Promise<AffiliationRecord[]> {
    const rows = await this.db.all<AffiliationRow>(
      `SELECT ${AFFILIATION_COLUMNS} FROM affiliations WHERE bare_jid = ? AND affiliation <> 'none' ORDER BY room`,
      [bareJid],
    );
    return rows.map(toAffiliation);
  }

  async setAffiliations(room: string, changes: readonly AffiliationChange[], now: number): Promise<AppliedAffiliationChange[]> {
    for (const c of changes) {
      checkJid(c.bareJid, "affiliation JID");
      checkAffiliation(c.affiliation);
    }
    return this.atomic(async () => {
      const row = await this.db.get<{ affiliation_clock: number }>("SELECT affiliation_clock FROM rooms WHERE jid = ?", [room]);
      if (!row) throw new StoreError("not_found", `no room '${room}'`);
      let clock = row.affiliation_clock;
      const applied: AppliedAffiliationChange[] = [];
      for (const c of changes) {
        const previous = (await this.getAffiliation(room, c.bareJid))?.affiliation ?? "none";
        if (previous === c.affiliation) continue;
        clock += 1;
        await this.db.run(
          `INSERT INTO affiliations (${AFFILIATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (room, bare_jid) DO UPDATE SET
             affiliation = excluded.affiliation, reason = excluded.reason, actor = excluded.actor,
             clock = excluded.clock, updated_at = excluded.updated_at`,
          [room, c.bareJid, c.affiliation, c.reason ?? null, c.actor ?? null, clock, now],
        );
        const record: AffiliationRecord = { room, bareJid: c.bareJid, affiliation: c.affiliation, clock, updatedAt: now };
        if (c.reason !== undefined) record.reason = c.reason;
        if (c.actor !== undefined) record.actor = c.actor;
        applied.push({ previous, record });
      }
      if (clock !== row.affiliation_clock) {
        await this.db.run("UPDATE rooms SET affiliation_clock = ? WHERE jid = ?", [clock, room]);
      }
      return applied;
    });
  }
}

export class SqliteStore extends SqliteOps implements Store {
  constructor(
    db: SqliteDb,
    readonly schemaVersion: number,
  ) {
    super(db);
  }

  get path(): string {
    return this.db.path;
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    // The same data methods serve as the transaction handle: inside `fn`
    // their statements run in the transaction (db.ts tracks the async context).
    return this.db.transaction(() => fn(this), { durable: (options.durability ?? "full") === "full" });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** One WAL checkpoint now from the background connection (undefined when checkpoints are SQLite's automatic ones); tests and diagnostics. */
  checkpoint(): Promise<{ busy: number; log: number; checkpointed: number }> | undefined {
    return this.db.checkpoint();
  }

  /** A connection pragma, for tests and diagnostics ("journal_mode", "synchronous", "foreign_keys"). */
  async pragma(name: "journal_mode" | "synchronous" | "foreign_keys" | "busy_timeout" | "application_id" | "wal_autocheckpoint"): Promise<unknown> {
    const row = await this.db.get<Record<string, unknown>>(`PRAGMA ${name}`);
    return row ? Object.values(row)[0] : undefined;
  }
}
