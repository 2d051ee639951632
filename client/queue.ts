// Small async utilities.

/** Runs tasks one at a time, in submission order. Never call run() from inside a task (deadlock). */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private depth = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    this.depth++;
    const p = this.tail.then(task);
    this.tail = p.then(
      () => void this.depth--,
      () => void this.depth--,
    );
    return p;
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.depth;
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.run(async () => undefined);
  }
}

/** A promise with its resolve/reject exposed. */
export class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  settled = false;
  constructor() {
    this.promise = new Promise<T>((res, rej) => {
      this.resolve = (v) => {
        if (this.settled) return;
        this.settled = true;
        res(v);
      };
      this.reject = (e) => {
        if (this.settled) return;
        this.settled = true;
        rej(e);
      };
    });
    // A rejected deferred that nobody awaits must not become an unhandled rejection.
    this.promise.catch(() => undefined);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
