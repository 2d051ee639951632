/**
 * The measured operations, written once for both implementations: an `Impl`
 * adapts one library (ours: bench/mls/ours.ts, ts-mls: bench/mls/tsmls.ts).
 * Everything crossing an Impl is bytes (MLSMessage encodings), so both sides
 * do the same work: encoding the messages they create, decoding those they
 * receive.
 */
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { decode, decodeMLSMessage, deserializeGroup, encode, encodeMLSMessage, nativeProvider, type MLSMessage } from "../../mls/node.js";

/** Keys of a member, as raw bytes both libraries accept (RFC 9420 §5.1.1 encodings). */
export interface MemberInput {
  readonly kpBytes: Uint8Array;
  readonly initPrivateKey: Uint8Array;
  readonly encryptionPrivateKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
}

/** What a scenario needs, as plain data (it is sent to the ts-mls child process as is). */
export interface ScenarioInput {
  readonly n: number;
  readonly shape: "sparse" | "full";
  /** Sparse: the Welcome of the creator's bulk add, A and B among the added. */
  readonly welcome?: Uint8Array | undefined;
  /** Full: the creator's serialized state (our library), A's and B's leaves still blank. */
  readonly creator?: Uint8Array | undefined;
  readonly a: MemberInput;
  readonly b: MemberInput;
  readonly d: MemberInput;
  readonly removed: number;
  readonly reps: number;
  readonly warmup: number;
  /** Repetitions of the join row (default `reps`): a join costs seconds at 10,000 members. */
  readonly joinReps?: number | undefined;
  /** A single run longer than this stops the repetitions of that operation. */
  readonly longMs: number;
}

export interface Created {
  readonly commit: Uint8Array;
  readonly welcome?: Uint8Array | undefined;
}

export interface Impl<S> {
  readonly name: string;
  join(welcome: Uint8Array, m: MemberInput): Promise<S>;
  /** Creates a commit (with a path when it has no proposal); the state is left as it was. */
  commit(s: S, o: { add?: Uint8Array; remove?: number }): Promise<Created & { next(): Promise<S> }>;
  /** Drops whatever a `commit` left pending. */
  discard(s: S): void;
  /** Processes a message, returning the next state (may be `s` itself, mutated). */
  process(s: S, message: Uint8Array): Promise<S>;
  /** An independent copy of `s` ready to process a message as `s` would (not timed). */
  fork(s: S): Promise<S>;
  protect(s: S, data: Uint8Array): Promise<{ message: Uint8Array; next: S }>;
  epochAuthenticator(s: S): Uint8Array;
  /** Before each timed run (untimed): drop what a previous run of the same input left in caches. */
  beforeRun?(): void;
}

export type OpName =
  | "commit+path create"
  | "commit+path process"
  | "add create"
  | "add process"
  | "remove create"
  | "remove process"
  | "join (Welcome)"
  | "protect 1KiB"
  | "unprotect 1KiB"
  | "memory (MB)";

/** Runs of the application-message rows (at least): each takes well under a millisecond. */
const APP_REPS = 101;
const APP_WARMUP = 30;
/** Pause after collecting the receivers' garbage, for the collector's background threads. */
const SETTLE_MS = 300;

export const OPS: readonly OpName[] = [
  "commit+path create",
  "commit+path process",
  "add create",
  "add process",
  "remove create",
  "remove process",
  "join (Welcome)",
  "protect 1KiB",
  "unprotect 1KiB",
  "memory (MB)",
];

export interface OpResult {
  readonly op: OpName;
  /** Milliseconds per run (MB for the memory row). */
  readonly samples: number[];
  readonly note?: string;
}

export interface ScenarioArtifacts {
  readonly pathCommit: Uint8Array;
  readonly addCommit: Uint8Array;
  readonly addWelcome: Uint8Array;
  readonly removeCommit: Uint8Array;
  readonly protected: Uint8Array;
  readonly setupMs: number;
}

let gcFn: (() => void) | undefined;
/** global.gc, enabled at run time when node was not started with --expose-gc. */
export function gc(): void {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    }
  }
  gcFn();
  gcFn();
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function usedBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/**
 * A and B in the group of `input`: sparse, both join from the bulk-add
 * Welcome; full, the creator adds A, A commits with a path, the creator adds
 * B, B commits with a path (see fixture.ts).
 */
export async function setupMembers<S>(impl: Impl<S>, input: ScenarioInput, started?: (step: string) => void): Promise<{ A: S; B: S }> {
  let A: S;
  let B: S;
  const step = started ?? (() => {});
  if (input.shape === "sparse") {
    step("setup: A joins");
    A = await impl.join(input.welcome!, input.a);
    step("setup: B joins");
    B = await impl.join(input.welcome!, input.b);
  } else {
    // The rest of the group is the creator C, in our library whichever library A and B run.
    const C = deserializeGroup(nativeProvider, input.creator!);
    const kp = (m: MemberInput) => {
      const k = decode(decodeMLSMessage, m.kpBytes);
      if (k.wireFormat !== "mls_key_package") throw new Error("not a KeyPackage");
      return k.keyPackage;
    };
    const bytes = (m: MLSMessage | undefined) => encode(encodeMLSMessage, m!);
    const addA = C.commit({ add: [kp(input.a)] });
    C.mergePendingCommit();
    step("setup: A joins");
    A = await impl.join(bytes(addA.welcome), input.a);
    step("setup: A commits");
    const ca = await impl.commit(A, {});
    A = await ca.next();
    C.process(decode(decodeMLSMessage, ca.commit));
    const addB = C.commit({ add: [kp(input.b)] });
    C.mergePendingCommit();
    step("setup: A processes the add of B");
    A = await impl.process(A, bytes(addB.commit));
    step("setup: B joins");
    B = await impl.join(bytes(addB.welcome), input.b);
    step("setup: B commits");
    const cb = await impl.commit(B, {});
    B = await cb.next();
    step("setup: A processes B's commit");
    A = await impl.process(A, cb.commit);
  }
  return { A, B };
}

/**
 * Runs every operation of one (size, shape) against `impl`. `report` gets each
 * row as soon as it is measured (the ts-mls child streams them to the parent).
 */
export async function runScenario<S>(
  impl: Impl<S>,
  input: ScenarioInput,
  report: (r: OpResult) => void,
  started?: (op: string) => void,
): Promise<ScenarioArtifacts> {
  const t0 = performance.now();
  let { A, B } = await setupMembers(impl, input, started);
  if (!same(impl.epochAuthenticator(A), impl.epochAuthenticator(B))) throw new Error(`${impl.name}: A and B disagree after setup`);
  const setupMs = performance.now() - t0;

  /** Times `run` (warm-up runs first), stopping early after a run longer than longMs. */
  const measure = async (op: OpName, run: () => Promise<unknown>, reps = input.reps, warmup = input.warmup): Promise<void> => {
    started?.(op);
    const samples: number[] = [];
    let note: string | undefined;
    for (let i = 0; i < warmup + reps; i++) {
      impl.beforeRun?.();
      const s = performance.now();
      await run();
      const ms = performance.now() - s;
      if (i >= warmup) samples.push(ms);
      if (ms > input.longMs) {
        if (i < warmup) samples.push(ms);
        note = `${samples.length} run(s) only: one took ${(ms / 1000).toFixed(1)} s`;
        break;
      }
    }
    report({ op, samples, ...(note ? { note } : {}) });
  };

  // Commit with an UpdatePath (no proposal), created from the same state each time.
  let pathCommit: Created | undefined;
  await measure("commit+path create", async () => {
    pathCommit = await impl.commit(A, {});
    impl.discard(A);
  });
  // Receivers: B's state forked once per run before the runs start, so that neither the
  // cloning nor the collection of its garbage falls inside a timed run (a member does not
  // clone its state to process a commit). Earlier receivers are collected between rows.
  const measureReceive = async (op: OpName, msg: () => Uint8Array): Promise<void> => {
    gc();
    const receivers: S[] = [];
    for (let i = 0; i < input.warmup + input.reps; i++) receivers.push(await impl.fork(B));
    // The forks' garbage is collected, and the collector's background sweeping done, before the
    // runs (at 10,000 members the forks are ~400 MB: timed runs right after it were 2-5x slower).
    gc();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    let k = 0;
    await measure(op, () => impl.process(receivers[k++]!, msg()));
  };
  await measureReceive("commit+path process", () => pathCommit!.commit);

  let add: Created | undefined;
  await measure("add create", async () => {
    add = await impl.commit(A, { add: input.d.kpBytes });
    impl.discard(A);
  });
  await measureReceive("add process", () => add!.commit);

  let remove: Created | undefined;
  await measure("remove create", async () => {
    remove = await impl.commit(A, { remove: input.removed });
    impl.discard(A);
  });
  await measureReceive("remove process", () => remove!.commit);
  gc();

  const welcome = add!.welcome;
  if (welcome === undefined) throw new Error(`${impl.name}: the add commit has no Welcome`);
  await measure("join (Welcome)", () => impl.join(welcome, input.d), input.joinReps ?? input.reps);

  // Application messages: A protects a run of them, B unprotects them in order. A sender's
  // code is warm after its first messages: these sub-millisecond rows run more times.
  const data = new Uint8Array(1024).fill(7);
  const messages: Uint8Array[] = [];
  const appReps = Math.max(input.reps, APP_REPS);
  const appWarmup = Math.max(input.warmup, APP_WARMUP);
  await measure(
    "protect 1KiB",
    async () => {
      const r = await impl.protect(A, data);
      A = r.next;
      messages.push(r.message);
    },
    appReps,
    appWarmup,
  );
  let k = 0;
  await measure(
    "unprotect 1KiB",
    async () => {
      B = await impl.process(B, messages[k++]!);
    },
    appReps,
    appWarmup,
  );

  // Resident memory of one member's state: heap (and off-heap buffers) retained by a fresh join.
  started?.("memory (MB)");
  const mem: number[] = [];
  mem.push(await retainedMB(() => impl.join(welcome, input.d), Math.max(2, Math.min(3, input.reps))));
  report({ op: "memory (MB)", samples: mem });

  return {
    pathCommit: pathCommit!.commit,
    addCommit: add!.commit,
    addWelcome: welcome,
    removeCommit: remove!.commit,
    protected: messages[0]!,
    setupMs,
  };
}

/**
 * MB retained per value `build` returns, holding `k` of them at once. (One at
 * a time is unreliable: a suspended async frame or a resolved promise may keep
 * the previous value alive across the measurement.)
 */
async function retainedMB(build: () => Promise<unknown>, k: number): Promise<number> {
  await new Promise((r) => setImmediate(r));
  gc();
  const before = usedBytes();
  const held: unknown[] = [];
  for (let i = 0; i < k; i++) held.push(await build());
  gc();
  const mb = (usedBytes() - before) / 1e6 / k;
  if (held.length !== k) throw new Error("unreachable");
  return mb;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
