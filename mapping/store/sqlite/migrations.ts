// Versioned schema migrations for the SQLite store.
//
// Rules:
//  - append only: a migration that has shipped is never edited, renumbered
//    or removed (its name is checked against the database at open);
//  - versions are 1, 2, 3, ... without gaps;
//  - each migration runs in its own transaction together with its row in
//    schema_migrations, so a crash leaves the database at the previous version;
//  - types stay portable to PostgreSQL: INTEGER (0/1 for booleans,
//    milliseconds for times), TEXT (JSON as text), BLOB for bytes.
//
// MLS tables reference rooms(jid) ON DELETE CASCADE, so that deleteRoom()
// removes everything of a room.

import type { SqlParams } from "./db.js";
import { MLS_TABLES } from "./migration-mls.js";

/** What a migration may use: the open transaction's statements. */
export interface MigrationDb {
  exec(sql: string): Promise<void>;
  run(sql: string, params?: SqlParams): Promise<unknown>;
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
}

export interface Migration {
  version: number;
  /** Short, stable description; stored in schema_migrations and checked at open. */
  name: string;
  up(db: MigrationDb): Promise<void>;
}

/** PRAGMA application_id of our databases ("XMBS"), to refuse opening someone else's SQLite file. */
export const APPLICATION_ID = 0x584d4253;

const sql =
  (text: string) =>
  (db: MigrationDb): Promise<void> =>
    db.exec(text);

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "rooms and affiliations",
    up: sql(`
      PRAGMA application_id = ${APPLICATION_ID};

      CREATE TABLE rooms (
        jid               TEXT    PRIMARY KEY,
        kind              TEXT    NOT NULL CHECK (kind IN ('group', 'channel')),
        persistent        INTEGER NOT NULL CHECK (persistent IN (0, 1)),
        name              TEXT    NOT NULL DEFAULT '',
        subject           TEXT    NOT NULL DEFAULT '',
        subject_by        TEXT,
        subject_at        INTEGER,
        config            TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
        -- Logical clock of affiliation changes (per-JID last-writer-wins merges).
        affiliation_clock INTEGER NOT NULL DEFAULT 0 CHECK (affiliation_clock >= 0),
        created_at        INTEGER NOT NULL
      );

      CREATE TABLE affiliations (
        room        TEXT    NOT NULL REFERENCES rooms (jid) ON DELETE CASCADE,
        bare_jid    TEXT    NOT NULL,
        -- 'none' rows are tombstones: the time of a removal matters for merges.
        affiliation TEXT    NOT NULL CHECK (affiliation IN ('owner', 'admin', 'member', 'outcast', 'none')),
        reason      TEXT,
        actor       TEXT,
        clock       INTEGER NOT NULL CHECK (clock > 0),
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (room, bare_jid)
      );

      CREATE INDEX affiliations_by_jid ON affiliations (bare_jid);
    `),
  },
  {
    version: 2,
    name: "mls groups, epochs, log, devices, key packages",
    up: sql(MLS_TABLES),
  },
  {
    version: 3,
    name: "log entries advance the room's next seq",
    // An application message is then one INSERT (one implicit transaction)
    // instead of BEGIN, INSERT, UPDATE, COMMIT: it is on every message's path.
    up: sql(`
      CREATE TRIGGER mls_log_advances_next_seq AFTER INSERT ON mls_log
      BEGIN
        UPDATE mls_groups SET next_seq = MAX(next_seq, NEW.seq + 1) WHERE room = NEW.room;
      END;
    `),
  },
];

/** The schema version this program writes. */
export const LATEST_VERSION = MIGRATIONS.length === 0 ? 0 : (MIGRATIONS[MIGRATIONS.length - 1] as Migration).version;

/** Throws if the list is not 1..n in order (a programming error, caught by the tests). */
export function checkMigrationList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i} has version ${m.version}, expected ${i + 1}`);
    if (!m.name.trim()) throw new Error(`migration ${m.version} has no name`);
  });
}
