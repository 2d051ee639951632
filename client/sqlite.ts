// A small promise wrapper around one sqlite3 connection for the client state.
//
// One connection, one FIFO lock: every statement outside a transaction takes
// the lock for itself; `transaction(fn)` takes it for BEGIN IMMEDIATE ...
// COMMIT and hands `fn` a handle whose statements run inside the transaction.

import { chmodSync, closeSync, openSync } from "node:fs";

import sqlite3 from "sqlite3";

import { ClientError } from "./errors.js";
import { SerialQueue } from "./queue.js";

export type SqlValue = string | number | bigint | null | Uint8Array;

export interface Sql {
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
}

function storageError(e: unknown, what: string): ClientError {
  if (e instanceof ClientError) return e;
  return new ClientError("storage", `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

export class SqliteDb implements Sql {
  /** The connection's FIFO lock. */
  private readonly queue = new SerialQueue();
  private closed = false;

  private constructor(private readonly db: sqlite3.Database) {}

  /** Opens (creating with mode 0600) and sets WAL, synchronous=FULL, a busy timeout. */
  static async open(path: string): Promise<SqliteDb> {
    try {
      // Create the file ourselves so that it is 0600 from the start; SQLite gives
      // the -wal and -shm files the permissions of the database file.
      closeSync(openSync(path, "a", 0o600));
      chmodSync(path, 0o600);
    } catch (e) {
      throw storageError(e, `cannot create '${path}'`);
    }
    const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (err) =>
        err ? reject(storageError(err, `cannot open '${path}'`)) : resolve(d),
      );
    });
    const db = new SqliteDb(raw);
    try {
      await db.run("PRAGMA busy_timeout = 5000");
      await db.get("PRAGMA journal_mode = WAL");
      await db.run("PRAGMA synchronous = FULL");
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
    return db;
  }

  private raw(): Sql {
    const db = this.db;
    return {
      run: (sql, params = []) =>
        new Promise<number>((resolve, reject) => {
          db.run(sql, params as unknown[], function (this: sqlite3.RunResult, err: Error | null) {
            if (err) reject(storageError(err, "sqlite"));
            else resolve(this.changes);
          });
        }),
      get: <T>(sql: string, params: readonly SqlValue[] = []) =>
        new Promise<T | undefined>((resolve, reject) => {
          db.get(sql, params as unknown[], (err: Error | null, row: T | undefined) => (err ? reject(storageError(err, "sqlite")) : resolve(row)));
        }),
      all: <T>(sql: string, params: readonly SqlValue[] = []) =>
        new Promise<T[]>((resolve, reject) => {
          db.all(sql, params as unknown[], (err: Error | null, rows: T[]) => (err ? reject(storageError(err, "sqlite")) : resolve(rows)));
        }),
    };
  }

  private async locked<T>(f: (sql: Sql) => Promise<T>): Promise<T> {
    if (this.closed) throw new ClientError("closed", "the state database is closed");
    return this.queue.run(() => f(this.raw()));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.locked((s) => s.run(sql, params));
  }
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.locked((s) => s.get<T>(sql, params));
  }
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.locked((s) => s.all<T>(sql, params));
  }

  /** Runs `fn` in one IMMEDIATE transaction: all or nothing. Do not call other methods of this object from `fn`. */
  transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.locked(async (sql) => {
      await sql.run("BEGIN IMMEDIATE");
      try {
        const out = await fn(sql);
        await sql.run("COMMIT");
        return out;
      } catch (e) {
        await sql.run("ROLLBACK").catch(() => undefined);
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.run(async () => {
      this.closed = true;
      await new Promise<void>((resolve, reject) => this.db.close((err) => (err ? reject(storageError(err, "close")) : resolve())));
    });
  }
}
