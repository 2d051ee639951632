// A small promise wrapper around one `sqlite3` connection.
//
// One connection means one transaction at a time, and any statement issued
// while a transaction is open runs *inside* it. So every statement goes
// through one FIFO lock:
//   - run/get/all/exec outside a transaction take the lock for one statement;
//   - transaction(fn) takes it for BEGIN IMMEDIATE ... COMMIT/ROLLBACK, and
//     statements issued from inside `fn` (same async context, tracked with
//     AsyncLocalStorage) run without waiting, as part of the transaction;
//   - transaction() from inside `fn` rejects with "nested_transaction"
//     (SQLite has no nested BEGIN, and waiting for the lock would deadlock).
// Work that `fn` leaves running after it settles is no longer part of the
// transaction: its statements take the lock like any other.

import { AsyncLocalStorage } from "node:async_hooks";
import sqlite3 from "sqlite3";

import { KeyedLock } from "../../keyed-lock.js";
import { StoreError } from "../errors.js";
import { Checkpointer } from "./checkpointer.js";

export type SqlValue = string | number | bigint | null | Uint8Array;
export type SqlParams = readonly SqlValue[];

export interface RunResult {
  changes: number;
  lastID: number;
}

export interface OpenOptions {
  /** How long a statement waits for another process's lock (PRAGMA busy_timeout). Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * WAL checkpoints from a second connection every this many ms instead of
   * inside the commits (checkpointer.ts). Default 1000; 0 leaves SQLite's
   * automatic checkpoints. Not for ":memory:".
   */
  checkpointIntervalMs?: number;
}

interface TxScope {
  db: SqliteDb;
  active: boolean;
}

const scope = new AsyncLocalStorage<TxScope>();
/** The one key of the connection's lock. */
const CONNECTION = "connection";
/**
 * Prepared statements kept for run(): more distinct texts than the store
 * issues (its multi-row INSERTs have up to 64 shapes), so the hot ones stay.
 */
const PREPARED_MAX = 256;

function wrap(e: unknown, what: string): StoreError {
  if (e instanceof StoreError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new StoreError("io", `${what}: ${msg}`, { cause: e });
}

export class SqliteDb {
  /** The connection's FIFO lock (one key). */
  private readonly lock = new KeyedLock();
  private closed = false;
  /** Background WAL checkpoints (undefined: SQLite's automatic ones). */
  private checkpointer: Checkpointer | undefined;
  /**
   * run()'s statements by SQL text, least recently used first. A one-off
   * db.run() prepares, steps and finalizes: three trips to SQLite's thread
   * instead of one, on every message's path. Only run() is cached: its
   * statements end in SQLITE_DONE, while a kept SELECT stopped after its first
   * row would hold a read snapshot open and keep the WAL from being reset.
   */
  private readonly prepared = new Map<string, Promise<sqlite3.Statement>>();

  private constructor(
    private readonly db: sqlite3.Database,
    readonly path: string,
  ) {}

  /** Opens (creating if needed) and sets the connection pragmas: WAL, synchronous=FULL, foreign keys, busy timeout. */
  static async open(path: string, options: OpenOptions = {}): Promise<SqliteDb> {
    const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (err) =>
        err ? reject(wrap(err, `cannot open database '${path}'`)) : resolve(d),
      );
    });
    const db = new SqliteDb(raw, path);
    try {
      const busy = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
      await db.exec(`PRAGMA busy_timeout = ${busy}`);
      // WAL: readers do not block the writer. ":memory:" stays in "memory" mode.
      await db.get("PRAGMA journal_mode = WAL");
      // FULL: with WAL, each COMMIT is fsynced before it returns, so a
      // resolved write survives a power cut (NORMAL could lose the last ones).
      await db.exec("PRAGMA synchronous = FULL");
      await db.exec("PRAGMA foreign_keys = ON");
      const interval = options.checkpointIntervalMs ?? 1000;
      if (interval > 0 && path !== ":memory:" && path !== "") {
        db.checkpointer = await Checkpointer.open(path, interval, busy);
        await db.exec("PRAGMA wal_autocheckpoint = 0");
      }
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
    return db;
  }

  /** One checkpoint now, from the background connection (undefined without one); for tests and diagnostics. */
  checkpoint(): Promise<{ busy: number; log: number; checkpointed: number }> | undefined {
    return this.checkpointer?.checkpoint();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True when called from inside a transaction of this connection. */
  get inTransaction(): boolean {
    const s = scope.getStore();
    return s !== undefined && s.db === this && s.active;
  }

  run(sql: string, params: SqlParams = []): Promise<RunResult> {
    return this.statement(sql, async () => {
      const stmt = await this.preparedStatement(sql);
      // Every run binds its parameters (or resets) first, so a kept statement runs as new.
      return new Promise<RunResult>((resolve, reject) => {
        stmt.run(params as unknown[], function (this: sqlite3.RunResult, err: Error | null) {
          if (err) reject(err);
          else resolve({ changes: this.changes, lastID: this.lastID });
        });
      });
    });
  }

  /** run()'s statement for `sql`: kept, or prepared now (a failed prepare is not kept). */
  private preparedStatement(sql: string): Promise<sqlite3.Statement> {
    let p = this.prepared.get(sql);
    if (p !== undefined) {
      this.prepared.delete(sql);
      this.prepared.set(sql, p);
      return p;
    }
    const made = new Promise<sqlite3.Statement>((resolve, reject) => {
      const stmt: sqlite3.Statement = this.db.prepare(sql, (err: Error | null) => (err ? reject(err) : resolve(stmt)));
    });
    p = made;
    this.prepared.set(sql, p);
    made.catch(() => {
      if (this.prepared.get(sql) === made) this.prepared.delete(sql);
    });
    if (this.prepared.size > PREPARED_MAX) {
      const [oldest, stmt] = this.prepared.entries().next().value!;
      this.prepared.delete(oldest);
      // Finalized after the runs already queued on it.
      stmt.then((st) => st.finalize(() => undefined), () => undefined);
    }
    return p;
  }

  get<T>(sql: string, params: SqlParams = []): Promise<T | undefined> {
    return this.statement(sql, () =>
      new Promise<T | undefined>((resolve, reject) => {
        this.db.get(sql, params as unknown[], (err: Error | null, row: T | undefined) => (err ? reject(err) : resolve(row)));
      }),
    );
  }

  all<T>(sql: string, params: SqlParams = []): Promise<T[]> {
    return this.statement(sql, () =>
      new Promise<T[]>((resolve, reject) => {
        this.db.all(sql, params as unknown[], (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
      }),
    );
  }

  /** Runs one or more statements without parameters. */
  exec(sql: string): Promise<void> {
    return this.statement(sql, () =>
      new Promise<void>((resolve, reject) => {
        this.db.exec(sql, (err: Error | null) => (err ? reject(err) : resolve()));
      }),
    );
  }

  /**
   * BEGIN IMMEDIATE; fn(); COMMIT. On rejection: ROLLBACK and the rejection
   * is passed on. Transactions are serialized on the connection.
   *
   * `durable: false` commits with synchronous=NORMAL: in WAL mode the commit
   * is appended to the log but not fsynced; the next FULL commit's fsync
   * covers it (the WAL is one append-only file). The connection is back to
   * FULL before the lock is released, so no other write is affected.
   */
  async transaction<T>(fn: () => Promise<T>, options: { durable?: boolean } = {}): Promise<T> {
    const current = scope.getStore();
    if (current !== undefined && current.db === this && current.active) {
      throw new StoreError("nested_transaction", "transaction() called inside a transaction (transactions do not nest)");
    }
    this.assertOpen();
    const s: TxScope = { db: this, active: true };
    const durable = options.durable ?? true;
    return this.lock.run(CONNECTION, async () => {
      try {
        this.assertOpen();
        // PRAGMA synchronous cannot change inside a transaction: around it, under the lock.
        if (!durable) await this.raw("PRAGMA synchronous = NORMAL", "PRAGMA synchronous");
        return await scope.run(s, async () => {
          await this.raw("BEGIN IMMEDIATE", "BEGIN IMMEDIATE");
          let result: T;
          try {
            result = await fn();
          } catch (e) {
            await this.raw("ROLLBACK", "ROLLBACK").catch(() => undefined);
            throw e;
          }
          try {
            await this.raw("COMMIT", "COMMIT");
          } catch (e) {
            await this.raw("ROLLBACK", "ROLLBACK").catch(() => undefined);
            throw e;
          }
          return result;
        });
      } finally {
        s.active = false;
        if (!durable && !this.closed) await this.raw("PRAGMA synchronous = FULL", "PRAGMA synchronous");
      }
    });
  }

  /** Waits for running work, then closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.lock.run(CONNECTION, async () => {
      if (this.closed) return;
      this.closed = true;
      // The checkpointer first: the main connection, closing last, checkpoints what is left.
      await this.checkpointer?.close();
      // SQLite does not close a connection with statements left unfinalized.
      await Promise.all(
        [...this.prepared.values()].map((p) =>
          p.then((s) => new Promise<void>((r) => s.finalize(() => r()))).catch(() => undefined),
        ),
      );
      this.prepared.clear();
      await new Promise<void>((resolve, reject) => this.db.close((err) => (err ? reject(wrap(err, "close")) : resolve())));
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError("closed", `the store '${this.path}' is closed`);
  }

  private raw(sql: string, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.db.exec(sql, (err: Error | null) => (err ? reject(wrap(err, what)) : resolve()));
    });
  }

  private async statement<T>(sql: string, op: () => Promise<T>): Promise<T> {
    const what = sql.replace(/\s+/g, " ").trim().slice(0, 80);
    if (this.inTransaction) {
      try {
        return await op();
      } catch (e) {
        throw wrap(e, what);
      }
    }
    this.assertOpen();
    return this.lock.run(CONNECTION, async () => {
      this.assertOpen();
      try {
        return await op();
      } catch (e) {
        throw wrap(e, what);
      }
    });
  }
}
