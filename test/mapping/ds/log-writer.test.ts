// Group commit of application entries (mapping/ds/log-writer.ts), on a store
// double whose transactions wait for the test to let them finish.
import { describe, expect, it } from "vitest";

import { LogWriter } from "../../../mapping/ds/log-writer.js";
import type { LogEntry, Store } from "../../../mapping/store/index.js";

function entry(room: string, seq: number): LogEntry {
  return {
    room,
    seq: BigInt(seq),
    kind: "application",
    epoch: 1n,
    stanzaId: `${room}-${seq}`,
    payload: new Uint8Array([seq]),
    senderJid: "a@example.org",
    senderDevice: "d",
    createdAt: 0,
  };
}

class SlowStore {
  written: string[] = [];
  /** Batch writes (appendEntries calls). */
  transactions = 0;
  failing = (_e: LogEntry) => false;
  private gates: Array<() => void> = [];

  async appendEntry(e: LogEntry): Promise<void> {
    if (this.failing(e)) throw new Error(`cannot store ${e.room} ${e.seq}`);
    this.written.push(`${e.room}:${e.seq}`);
  }

  /** All or nothing, once the test lets it run. */
  async appendEntries(entries: readonly LogEntry[]): Promise<void> {
    this.transactions++;
    await new Promise<void>((r) => this.gates.push(r));
    const bad = entries.find((e) => this.failing(e));
    if (bad) throw new Error(`cannot store ${bad.room} ${bad.seq}`);
    for (const e of entries) this.written.push(`${e.room}:${e.seq}`);
  }

  /** Lets the waiting batch write run. */
  release(): void {
    this.gates.shift()?.();
  }

  get waiting(): number {
    return this.gates.length;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe("LogWriter", () => {
  it("writes what arrives during a write in the next transaction, in order", async () => {
    const store = new SlowStore();
    const w = new LogWriter(store as unknown as Store, () => {});
    const p1 = w.append(entry("r", 1));
    const p2 = w.append(entry("r", 2));
    const p3 = w.append(entry("s", 1));
    await tick();
    expect(store.transactions).toBe(1);
    store.release();
    await p1;
    await tick();
    // e2 and s1 arrived while the first transaction ran... or with it: either way all are written, in order.
    while (store.waiting > 0) {
      store.release();
      await tick();
    }
    await Promise.all([p2, p3]);
    expect(store.written).toEqual(["r:1", "r:2", "s:1"]);
    expect(store.transactions).toBeLessThanOrEqual(2);
  });

  it("an entry handed over as the last write finishes is still written", async () => {
    // Hand the second entry over 0..8 microtasks after the first is stored: one of them lands
    // between the flush loop's last look at the queue and the end of the flush.
    for (let depth = 0; depth <= 8; depth++) {
      const store = new SlowStore();
      const w = new LogWriter(store as unknown as Store, () => {});
      let late: Promise<void> | undefined;
      let p: Promise<void> = w.append(entry("r", 1));
      for (let i = 0; i < depth; i++) p = p.then(() => undefined);
      const first = p.then(() => {
        late = w.append(entry("r", 2));
      });
      await tick();
      store.release();
      await first;
      for (let i = 0; i < 20 && store.waiting === 0; i++) await tick();
      store.release();
      const settled = await Promise.race([late!.then(() => "written"), new Promise((r) => setTimeout(() => r("stuck"), 500))]);
      expect(`${depth}: ${String(settled)}`).toBe(`${depth}: written`);
      expect(store.written).toEqual(["r:1", "r:2"]);
    }
  });

  it("a failed entry fails alone, then its room's later entries; other rooms are written; the DS hears of the room", async () => {
    const store = new SlowStore();
    const failed: string[][] = [];
    const w = new LogWriter(store as unknown as Store, (rooms) => failed.push([...rooms]));
    store.failing = (e) => e.room === "r" && e.seq === 2n;
    const ps = [entry("r", 1), entry("r", 2), entry("s", 1), entry("r", 3)].map((e) => w.append(e));
    let done = false;
    const outcomes = Promise.allSettled(ps).finally(() => (done = true));
    // r:1 alone, then a batch of the three others, which fails as a whole and is written entry by entry.
    while (!done) {
      store.release();
      await tick();
    }
    const [r1, r2, s1, r3] = await outcomes;
    expect(r1.status).toBe("fulfilled");
    expect(r2).toMatchObject({ status: "rejected", reason: { message: "cannot store r 2" } });
    expect(s1.status).toBe("fulfilled");
    expect(r3).toMatchObject({ status: "rejected", reason: { message: expect.stringMatching(/earlier entry of r/) as unknown } });
    expect(store.written).toEqual(["r:1", "s:1"]);
    expect(failed).toEqual([["r"]]);
    await w.idle("r");
  });
});
