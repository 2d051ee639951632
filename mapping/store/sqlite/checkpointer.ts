// WAL checkpoints off the write path.
//
// SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past
// wal_autocheckpoint pages: that commit copies the WAL into the database file
// and fsyncs it, so whatever it carried (an application message, say) waits
// for all of that on a slow disk. Instead the main connection runs with
// wal_autocheckpoint=0, and this second connection runs PASSIVE checkpoints
// on a timer, in its own thread (each sqlite3 connection works on the libuv
// pool): in WAL mode a checkpoint and a write proceed at the same time, a
// PASSIVE one never waits for the writer, and once a checkpoint has copied
// every frame the writer starts the WAL over from its beginning.

import sqlite3 from "sqlite3";

export interface CheckpointResult {
  /** 1 when the checkpoint could not copy everything (a reader or the writer was in the way). */
  readonly busy: number;
  /** Frames in the WAL. */
  readonly log: number;
  /** Frames copied into the database. */
  readonly checkpointed: number;
}

export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly db: sqlite3.Database) {}

  /** Opens the second connection to `path` and checkpoints every `intervalMs`. */
  static async open(path: string, intervalMs: number, busyTimeoutMs: number): Promise<Checkpointer> {
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (err) => (err ? reject(err) : resolve(d)));
    });
    const c = new Checkpointer(db);
    await new Promise<void>((resolve, reject) => db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`, (err) => (err ? reject(err) : resolve())));
    c.timer = setInterval(() => void c.checkpoint().catch(() => undefined), intervalMs);
    c.timer.unref();
    return c;
  }

  /**
   * One PASSIVE checkpoint (runs after the previous one). Failures are left
   * to the next tick: a WAL that is not checkpointed only grows until one
   * succeeds, and closing the main connection checkpoints it too.
   */
  checkpoint(): Promise<CheckpointResult> {
    const next = this.running.then(
      () =>
        new Promise<CheckpointResult>((resolve, reject) => {
          if (this.closed) return reject(new Error("checkpointer closed"));
          this.db.get("PRAGMA wal_checkpoint(PASSIVE)", (err: Error | null, row: CheckpointResult) => (err ? reject(err) : resolve(row)));
        }),
    );
    this.running = next.catch(() => undefined);
    return next;
  }

  /** Stops the timer, waits for a running checkpoint, closes the connection. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    this.closed = true;
    await new Promise<void>((resolve) => this.db.close(() => resolve()));
  }
}
