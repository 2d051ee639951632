// Group commit for application entries of the room log (§6.7: stored, then
// fanned out).
//
// Each accepted application message must be durable before its fan-out, and
// an fsync per message caps a room at one message per fsync: when the disk
// slows down (15-27 ms fsyncs on a shared VM), a busy room queues. Here the
// DS numbers the entry under the room's lock and hands it over without
// waiting; everything handed over while a write is running goes to disk in the
// next transaction, with one fsync. Each entry's promise settles when its
// transaction has committed (or failed), and entries of one room settle in
// seq order (batches are written one after the other, in order).
//
// A failure must not leave a hole in a room's seq numbers: when a batch fails
// it is retried entry by entry (so that one bad entry, e.g. of a room deleted
// meanwhile, fails alone), and once an entry of a room fails, that room's
// later entries still queued fail too (they were numbered after it);
// `onFailed` then tells the DS to reload those rooms (their next seq) from the
// store.

import type { LogEntry, Store } from "../store/index.js";

interface Pending {
  readonly entry: LogEntry;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class LogWriter {
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  /** Per room: settles once every entry handed over so far for it has settled. */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly onFailed: (rooms: ReadonlySet<string>) => void,
  ) {}

  /** Queues `entry` for the next transaction; resolves once it is durable. */
  append(entry: LogEntry): Promise<void> {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.queue.push({ entry, resolve, reject });
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(entry.room, settled);
    void settled.then(() => {
      if (this.tails.get(entry.room) === settled) this.tails.delete(entry.room);
    });
    this.kick();
    return done;
  }

  /** Settles once every entry handed over so far for `room` is stored or failed. */
  idle(room: string): Promise<void> {
    return this.tails.get(room) ?? Promise.resolve();
  }

  /** Settles once everything handed over so far is stored or failed. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      while (this.queue.length > 0) await this.write(this.queue.splice(0));
    })().finally(() => {
      this.flushing = undefined;
      // An entry handed over between the loop's last look and this callback.
      if (this.queue.length > 0) this.kick();
    });
  }

  private async write(batch: Pending[]): Promise<void> {
    try {
      // One statement for the batch (one round trip to SQLite's thread, one commit).
      await this.store.appendEntries(batch.map((p) => p.entry));
      for (const p of batch) p.resolve();
      return;
    } catch {
      // Entry by entry below: only what cannot be written fails.
    }
    const failed = new Set<string>();
    for (const p of batch) {
      if (failed.has(p.entry.room)) {
        p.reject(new Error(`an earlier entry of ${p.entry.room} could not be stored`));
        continue;
      }
      try {
        await this.store.appendEntry(p.entry);
        p.resolve();
      } catch (e) {
        failed.add(p.entry.room);
        p.reject(e);
      }
    }
    if (failed.size === 0) return;
    this.queue = this.queue.filter((p) => {
      if (!failed.has(p.entry.room)) return true;
      p.reject(new Error(`an earlier entry of ${p.entry.room} could not be stored`));
      return false;
    });
    this.onFailed(failed);
  }
}
