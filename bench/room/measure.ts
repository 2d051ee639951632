// One timed phase of the room benchmark: a sender sends prepared groupchat
// stanzas (at a steady rate, or all at once), every member connection records
// when each one arrives. Then: throughput, latency percentiles, CPU per process.

import { startTagAttr, type WireClient } from "./wire.js";

export interface PhaseInput {
  readonly receivers: readonly WireClient[];
  readonly sender: WireClient;
  /** Serialized stanzas; stanza i has id `${prefix}${i}`. */
  readonly stanzas: readonly string[];
  readonly prefix: string;
  /** Messages per second; undefined: as fast as the sender's socket takes them. */
  readonly rate: number | undefined;
  /** Give up waiting for arrivals after this long past the last send. */
  readonly drainTimeoutMs: number;
  /** Receivers (by index) whose raw message stanzas are kept (decryption check). */
  readonly keep?: ReadonlySet<number>;
}

export interface PhaseTimes {
  readonly sendAt: Float64Array;
  /** arrivals[receiver][message]: performance.now() at arrival, NaN if it never came. */
  readonly arrivals: Float64Array[];
  /** Raw stanzas kept for the receivers in `keep`, by receiver index, in arrival order. */
  readonly kept: Map<number, string[]>;
  readonly timedOut: boolean;
}

export interface PhaseStats {
  readonly messages: number;
  readonly receivers: number;
  /** Messages that reached every receiver's connection. */
  readonly complete: number;
  /** Deliveries (message, receiver) that never arrived. */
  readonly missing: number;
  /** First send to the last complete message's last arrival. */
  readonly durationMs: number;
  /** Complete messages per second over durationMs. */
  readonly throughput: number;
  /** Delivered stanzas per second (complete * receivers / duration). */
  readonly stanzasPerSecond: number;
  /** Latency send -> arrival, over every (message, receiver) delivery, ms. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runPhase(p: PhaseInput): Promise<PhaseTimes> {
  const n = p.stanzas.length;
  const sendAt = new Float64Array(n).fill(NaN);
  const arrivals = p.receivers.map(() => new Float64Array(n).fill(NaN));
  const kept = new Map<number, string[]>();
  let arrived = 0;
  const total = n * p.receivers.length;
  const offs = p.receivers.map((r, k) => {
    const row = arrivals[k]!;
    const keep = p.keep?.has(k) ? [] as string[] : undefined;
    if (keep) kept.set(k, keep);
    return r.onStanza((raw, at) => {
      if (!raw.startsWith("<message")) return;
      const id = startTagAttr(raw, "id");
      if (id === undefined || !id.startsWith(p.prefix)) return;
      const i = Number(id.slice(p.prefix.length));
      if (!(i >= 0 && i < n) || !Number.isNaN(row[i]!)) return;
      row[i] = at;
      arrived++;
      keep?.push(raw);
    });
  });

  const t0 = performance.now();
  if (p.rate === undefined) {
    for (let i = 0; i < n; i++) {
      sendAt[i] = performance.now();
      p.sender.send(p.stanzas[i]!);
    }
  } else {
    const interval = 1000 / p.rate;
    let i = 0;
    while (i < n) {
      const now = performance.now();
      // Every message whose time has come (a late timer sends the backlog at once).
      while (i < n && t0 + i * interval <= now) {
        sendAt[i] = performance.now();
        p.sender.send(p.stanzas[i]!);
        i++;
      }
      if (i < n) await sleep(Math.max(0, t0 + i * interval - performance.now()));
    }
  }
  const lastSend = performance.now();
  let timedOut = false;
  while (arrived < total) {
    if (performance.now() - lastSend > p.drainTimeoutMs) {
      timedOut = true;
      break;
    }
    await sleep(10);
  }
  for (const off of offs) off();
  return { sendAt, arrivals, kept, timedOut };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function phaseStats(t: PhaseTimes): PhaseStats {
  const n = t.sendAt.length;
  const receivers = t.arrivals.length;
  const lat = new Float64Array(n * receivers);
  let m = 0;
  let missing = 0;
  let complete = 0;
  let lastComplete = -Infinity;
  for (let i = 0; i < n; i++) {
    let done = true;
    let last = -Infinity;
    for (let k = 0; k < receivers; k++) {
      const a = t.arrivals[k]![i]!;
      if (Number.isNaN(a)) {
        done = false;
        missing++;
        continue;
      }
      lat[m++] = a - t.sendAt[i]!;
      if (a > last) last = a;
    }
    if (done) {
      complete++;
      if (last > lastComplete) lastComplete = last;
    }
  }
  const sorted = lat.subarray(0, m).sort();
  const durationMs = complete > 0 ? lastComplete - t.sendAt[0]! : NaN;
  return {
    messages: n,
    receivers,
    complete,
    missing,
    durationMs,
    throughput: complete > 0 ? (complete * 1000) / durationMs : 0,
    stanzasPerSecond: complete > 0 ? (complete * receivers * 1000) / durationMs : 0,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: m > 0 ? sorted[m - 1]! : NaN,
  };
}
