/**
 * MLS benchmark: this project's library and ts-mls 2.0 side by side, cipher
 * suite 1 (X25519, AES-128-GCM, SHA-256, Ed25519).
 *
 *   npm run bench:mls [-- --sizes 100,1000 --quick --json --shapes sparse,full --no-vectors --no-ts-mls]
 *
 * Rows: the official test-vector suite (same files and entries on both
 * sides), then for each group size and tree shape (sparse: right after a bulk
 * add; full: every node that can be non-blank is) the cost of a path commit,
 * an add, a remove (each created and processed), a join from a Welcome,
 * protecting and unprotecting 1 KiB, and the memory of one member's state.
 * Each row has a floor: the public-key operations it inherently needs, at the
 * native cost measured at the start of the run (bench/mls/primitives.ts).
 *
 * Progress goes to stderr; stdout has the table (or the JSON with --json).
 * ts-mls runs in a child process per (size, shape) (bench/mls/tsmls-child.ts):
 * an operation running past --ts-kill-s seconds stops it, and its remaining
 * rows are reported as skipped.
 */
import { fork } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { nativeProvider } from "../../mls/node.js";
import { directPath, copath, isAncestorOrSelf, leafRange } from "../../mls/tree/math.js";
import { parseToolArgs, usageError } from "../cli.js";
import { prepare, decodeMsg, type Member, type Prepared, type Shape } from "./fixture.js";
import { oursImpl } from "./ours.js";
import { describeFloor, floorMs, measurePrimitives, type FloorCount, type PrimitiveCosts } from "./primitives.js";
import { median, OPS, runScenario, type MemberInput, type OpName, type OpResult, type ScenarioArtifacts, type ScenarioInput } from "./scenario.js";
import { runVectorRow, type VectorRow } from "./vectors.js";

const USAGE =
  "usage: npm run bench:mls -- [--sizes 100,1000,10000] [--shapes sparse,full] [--quick] [--json] [--no-vectors] [--no-ts-mls]\n" +
  "         [--ts-kill-s 150]   stop ts-mls when one step runs longer (below 10,000 members)\n" +
  "         [--ts-patient]      at 10,000 members too (default there: stop after 90 s, report as skipped past 60 s)";
const args = parseToolArgs("bench:mls", USAGE, {
  options: {
    sizes: { type: "string" },
    shapes: { type: "string", default: "sparse,full" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "no-vectors": { type: "boolean", default: false },
    "no-ts-mls": { type: "boolean", default: false },
    "ts-kill-s": { type: "string", default: "150" },
    "ts-patient": { type: "boolean", default: false },
  },
  strict: true,
});
const quick = args.quick;
const sizes = (args.sizes ?? (quick ? "100,1000" : "100,1000,10000")).split(",").map((s) => Number(s.trim()));
const shapes = args.shapes.split(",").map((s) => s.trim()) as Shape[];
if (sizes.some((n) => !Number.isInteger(n) || n < 8) || shapes.some((s) => s !== "sparse" && s !== "full")) {
  usageError("bench:mls", "--sizes takes integers >= 8, --shapes sparse and/or full", USAGE);
}
const killMs = Number(args["ts-kill-s"]) * 1000;
/** A single run above this stops that operation's repetitions (and, at 10,000 members, is reported as skipped for ts-mls). */
const LONG_MS = 60_000;
/** At 10,000 members ts-mls steps (setup included) are stopped after this, unless --ts-patient. */
const KILL_10K_MS = 90_000;

const cs = nativeProvider.suite(1);
const log = (s: string) => process.stderr.write(`[bench:mls ${elapsed()}] ${s}\n`);
const start = performance.now();
const elapsed = () => `${((performance.now() - start) / 1000).toFixed(0)}s`;
const loads: string[] = [];
const noteLoad = (where: string) => loads.push(`${where}: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

export interface Row {
  operation: string;
  groupSize: number | null;
  treeShape: Shape | null;
  oursMs: number | null;
  tsMlsMs: number | null;
  ratio: number | null;
  floorMs: number | null;
  floorRatio: number | null;
  note: string;
}

function reps(n: number, lib: "ours" | "ts"): { reps: number; warmup: number; joinReps?: number } {
  // Many repetitions where they are cheap: on a shared machine single runs vary several-fold.
  if (lib === "ours") {
    if (n <= 100) return quick ? { reps: 9, warmup: 2 } : { reps: 25, warmup: 3 };
    if (n <= 1000) return quick ? { reps: 5, warmup: 1 } : { reps: 15, warmup: 2 };
    return quick ? { reps: 3, warmup: 1 } : { reps: 11, warmup: 1, joinReps: 5 };
  }
  if (n <= 100) return quick ? { reps: 3, warmup: 1 } : { reps: 9, warmup: 1 };
  if (n <= 1000) return quick ? { reps: 2, warmup: 1 } : { reps: 5, warmup: 1 };
  return { reps: 1, warmup: 0 };
}

function memberInput(m: Member): MemberInput {
  return {
    kpBytes: m.kpBytes,
    initPrivateKey: m.priv.initPrivateKey,
    encryptionPrivateKey: m.priv.encryptionPrivateKey,
    signaturePrivateKey: m.priv.signaturePrivateKey,
  };
}

function scenarioInput(p: Prepared, r: { reps: number; warmup: number; joinReps?: number }): ScenarioInput {
  return {
    n: p.n,
    shape: p.shape,
    welcome: p.welcome,
    creator: p.creator,
    a: memberInput(p.memberA),
    b: memberInput(p.memberB),
    d: memberInput(p.memberD),
    removed: p.removed,
    reps: r.reps,
    warmup: r.warmup,
    joinReps: r.joinReps,
    longMs: LONG_MS,
  };
}

// ---------------------------------------------------------------- floors

/** Filtered direct path of leaf `a` when the members are `isMember`, and how many of its nodes lie at or above the LCA with `b`. */
function pathShape(n: number, a: number, b: number, isMember: (l: number) => boolean): { fdp: number; above: number } {
  let leafCount = 1;
  while (leafCount < n) leafCount *= 2;
  const dp = directPath(a * 2, leafCount);
  const cp = copath(a * 2, leafCount);
  let fdp = 0;
  let above = 0;
  for (let k = 0; k < dp.length; k++) {
    const [lo, hi] = leafRange(cp[k]!);
    let nonEmpty = false;
    for (let l = lo; l < hi && !nonEmpty; l++) nonEmpty = l < n && isMember(l);
    if (!nonEmpty) continue;
    fdp++;
    if (isAncestorOrSelf(dp[k]!, b * 2)) above++;
  }
  return { fdp, above };
}

interface PathCounts {
  nodes: number;
  ciphertexts: number;
  bytes: number;
}

function pathCounts(commitBytes: Uint8Array): PathCounts {
  const m = decodeMsg(commitBytes);
  if (m.wireFormat !== "mls_public_message" || m.publicMessage.content.contentType !== "commit") throw new Error("not a public commit");
  const path = m.publicMessage.content.commit.path;
  return {
    nodes: path?.nodes.length ?? 0,
    ciphertexts: path?.nodes.reduce((s, x) => s + x.encryptedPathSecret.length, 0) ?? 0,
    bytes: commitBytes.length,
  };
}

const SMALL = 200; // a leaf node TBS, a GroupInfo without the tree, a small commit

function floors(p: Prepared, art: ScenarioArtifacts): Record<OpName, FloorCount | undefined> {
  const all = (l: number) => l < p.n;
  const process = pathShape(p.n, p.slotA, p.slotB, all);
  const path = pathCounts(art.pathCommit);
  const remove = pathCounts(art.removeCommit);
  const removeShape = pathShape(p.n, p.slotA, p.slotB, (l) => l !== p.removed);
  const add = art.addCommit.length;
  const welcome = art.addWelcome.length;
  const app = art.protected.length;
  const create = (c: PathCounts): FloorCount => ({
    deriveKeyPair: c.nodes,
    generateKeyPair: 1,
    seal: c.ciphertexts,
    sign: [SMALL, c.bytes, SMALL],
    hashBytes: 2 * c.bytes,
  });
  const receive = (c: PathCounts, above: number): FloorCount => ({
    open: 1,
    deriveKeyPair: above,
    verifyWarm: [c.bytes, SMALL],
    hashBytes: 2 * c.bytes,
  });
  if (process.fdp !== path.nodes) log(`warning: path of ${path.nodes} nodes, filtered direct path of ${process.fdp}`);
  return {
    "commit+path create": create(path),
    "commit+path process": receive(path, process.above),
    // The seal's HPKE info is the encrypted GroupInfo (§12.4.3.1): hashed once, for all new members.
    "add create": { verifyCold: 2, seal: 1, sign: [add, welcome], hashBytes: 2 * add + welcome },
    "add process": { verifyWarm: [add], verifyCold: 2, hashBytes: 2 * add },
    "remove create": create(remove),
    "remove process": receive(remove, removeShape.above),
    "join (Welcome)": { open: 1, verifyWarm: [welcome], verifyCold: p.n + 1, hashBytes: welcome },
    "protect 1KiB": { sign: [app] },
    "unprotect 1KiB": { verifyWarm: [app] },
    "memory (MB)": undefined,
  };
}

// ---------------------------------------------------------------- ts-mls child

interface TsOutcome {
  rows: Map<OpName, OpResult>;
  skipped?: string;
  setupMs?: number;
}

function runTsMls(input: ScenarioInput, warm: ScenarioInput): Promise<TsOutcome> {
  return new Promise((resolve) => {
    const rows = new Map<OpName, OpResult>();
    const child = fork(new URL("./tsmls-child.ts", import.meta.url).pathname, [], {
      serialization: "advanced",
      execArgv: process.execArgv,
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    let current = "start";
    let timer: NodeJS.Timeout | undefined;
    const limit = input.n >= 10000 && !args["ts-patient"] ? KILL_10K_MS : killMs;
    let done = false;
    const finish = (o: Omit<TsOutcome, "rows">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ rows, ...o });
    };
    const arm = () => {
      clearTimeout(timer);
      // The warm-up group and process start-up: generous.
      const ms = current === "start" ? Math.max(limit, 120_000) : limit;
      timer = setTimeout(() => {
        log(`ts-mls ${input.n} ${input.shape}: "${current}" still running after ${(ms / 1000).toFixed(0)} s, stopped`);
        child.kill("SIGKILL");
        finish({ skipped: `ts-mls skipped: "${current}" ran over ${(ms / 1000).toFixed(0)} s (stopped)` });
      }, ms);
    };
    arm();
    child.on("message", (m: { type: string; op?: string; row?: OpResult; setupMs?: number; message?: string }) => {
      if (m.type === "started") {
        current = m.op!;
        if (current.startsWith("setup")) log(`  ts-mls ${current}`);
        arm();
      } else if (m.type === "row") {
        rows.set(m.row!.op, m.row!);
        log(`  ts-mls ${m.row!.op}: ${fmt(median(m.row!.samples))}`);
      } else if (m.type === "done") finish({ setupMs: m.setupMs });
      else if (m.type === "error") {
        log(`ts-mls ${input.n} ${input.shape} failed in "${current}": ${m.message}`);
        finish({ skipped: `ts-mls failed in "${current}": ${m.message?.split("\n")[0]}` });
      }
    });
    child.on("exit", (code) => finish({ skipped: `ts-mls child exited (${code}) in "${current}"` }));
    child.send({ warm, input });
  });
}

// ---------------------------------------------------------------- main

function fmt(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-";
  if (x >= 1000) return x.toFixed(0);
  if (x >= 100) return x.toFixed(1);
  return x.toFixed(digits);
}

async function main(): Promise<void> {
  noteLoad("start");
  log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  log("measuring native primitive costs");
  const primsStart = measurePrimitives(cs, quick ? 150 : 300);
  const rows: Row[] = [];
  const floorCounts = new Map<Row, FloorCount>();

  let vector: VectorRow | undefined;
  if (!args["no-vectors"]) {
    vector = await runVectorRow({ quick, tsMls: !args["no-ts-mls"], log });
    rows.push(vector.row);
    noteLoad("after vectors");
  }

  // Warm-up group for each implementation (JIT), unreported.
  const warmInputs = new Map<Shape, ScenarioInput>();
  for (const shape of shapes) warmInputs.set(shape, scenarioInput(prepare(cs, 16, shape), { reps: 2, warmup: 1 }));
  for (const w of warmInputs.values()) await runScenario(oursImpl(cs), w, () => {});

  for (const n of sizes) {
    for (const shape of shapes) {
      log(`${n} members, ${shape}: building the group`);
      const p = prepare(cs, n, shape);
      log(`  built in ${(p.buildMs / 1000).toFixed(1)} s`);
      const ours = new Map<OpName, OpResult>();
      const art = await runScenario(oursImpl(cs), scenarioInput(p, reps(n, "ours")), (r) => {
        ours.set(r.op, r);
        log(`  ours ${r.op}: ${fmt(median(r.samples))}`);
      });
      noteLoad(`after ours ${n} ${shape}`);
      let ts: TsOutcome | undefined;
      if (!args["no-ts-mls"]) {
        log(`  ts-mls (child process)`);
        ts = await runTsMls(scenarioInput(p, reps(n, "ts")), warmInputs.get(shape)!);
        noteLoad(`after ts-mls ${n} ${shape}`);
      }
      const fl = floors(p, art);
      for (const op of OPS) {
        const o = ours.get(op)!;
        const t = ts?.rows.get(op);
        const oursV = median(o.samples);
        let tsV: number | null = t ? median(t.samples) : null;
        const notes: string[] = [];
        const f = fl[op];
        const floorV = f ? floorMs(f, primsStart) : null;
        if (f) notes.push(describeFloor(f));
        if (op !== "memory (MB)") {
          const mins = [fmt(Math.min(...o.samples))];
          if (t?.samples.length) mins.push(fmt(Math.min(...t.samples)));
          notes.push(`min ${mins.join("/")} of ${o.samples.length}${t ? `/${t.samples.length}` : ""} runs`);
        }
        if (op === "memory (MB)") notes.push("values in MB: heap+external retained by one joined state");
        if (o.note) notes.push(`ours: ${o.note}`);
        if (t?.note) notes.push(`ts-mls: ${t.note}`);
        if (t && n >= 10000 && t.samples.some((x) => x > LONG_MS)) {
          notes.push(`ts-mls skipped at 10,000: a single run took ${(Math.max(...t.samples) / 1000).toFixed(0)} s (> 60 s)`);
          tsV = null;
        }
        if (!t && ts?.skipped) notes.push(ts.skipped);
        if (args["no-ts-mls"]) notes.push("ts-mls not run (--no-ts-mls)");
        if (op.startsWith("remove") && t) notes.push("ts-mls sends a single Remove without UpdatePath (not RFC 9420 §12.4 conformant): less work");
        const row: Row = {
          operation: op,
          groupSize: n,
          treeShape: shape,
          oursMs: oursV,
          tsMlsMs: tsV,
          ratio: tsV !== null && tsV > 0 ? oursV / tsV : null,
          floorMs: floorV,
          floorRatio: floorV ? oursV / floorV : null,
          note: notes.join("; "),
        };
        rows.push(row);
        if (f) floorCounts.set(row, f);
      }
    }
  }
  noteLoad("end");
  // Primitive costs again: the floor uses each primitive's best figure of the two (the machine may be shared).
  log("measuring native primitive costs again");
  const prims = minCosts(primsStart, measurePrimitives(cs, quick ? 150 : 300));
  for (const r of rows) {
    const f = floorCounts.get(r);
    if (f) {
      r.floorMs = floorMs(f, prims);
      r.floorRatio = r.oursMs !== null ? r.oursMs / r.floorMs : null;
    }
  }
  const goals = evaluateGoals(rows);
  if (args.json) {
    console.log(JSON.stringify({ rows, goals, primitives: prims, load: loads, seconds: (performance.now() - start) / 1000 }, null, 1));
  } else {
    printTable(rows, prims, goals, vector);
  }
}

interface Goal {
  goal: string;
  status: "PASS" | "MISS" | "N/A";
  detail: string;
}

function evaluateGoals(rows: Row[]): Goal[] {
  const goals: Goal[] = [];
  const v = rows.find((r) => r.groupSize === null);
  goals.push(
    v?.ratio != null
      ? { goal: "vector suite: ours <= 0.2x ts-mls", status: v.ratio <= 0.2 ? "PASS" : "MISS", detail: `ratio ${v.ratio.toFixed(3)}` }
      : { goal: "vector suite: ours <= 0.2x ts-mls", status: "N/A", detail: "not measured" },
  );
  const at1k = rows.filter((r) => r.groupSize === 1000 && r.operation !== "memory (MB)");
  const measured = at1k.filter((r) => r.ratio !== null);
  const slow = measured.filter((r) => r.ratio! > 0.1);
  goals.push(
    measured.length === 0
      ? { goal: "every row at 1,000 members >= 10x faster than ts-mls", status: "N/A", detail: "not measured" }
      : {
          goal: "every row at 1,000 members >= 10x faster than ts-mls",
          status: slow.length === 0 ? "PASS" : "MISS",
          detail:
            (slow.length === 0 ? `all ${measured.length} rows` : slow.map((r) => `${r.operation} ${r.treeShape} ${(1 / r.ratio!).toFixed(1)}x`).join(", ")) +
            (measured.length < at1k.length ? ` (${at1k.length - measured.length} rows without ts-mls figure)` : "") +
            " (memory row not a speed row)",
        },
  );
  const withFloor = rows.filter((r) => r.floorRatio !== null);
  const over = withFloor.filter((r) => r.floorRatio! > 3);
  goals.push({
    goal: "every row within 3x of its floor",
    status: over.length === 0 ? "PASS" : "MISS",
    detail:
      over.length === 0
        ? `all ${withFloor.length} rows`
        : `${over.length}/${withFloor.length} over: ` + over.map((r) => `${r.operation} ${r.groupSize} ${r.treeShape} ${r.floorRatio!.toFixed(1)}x`).join(", "),
  });
  for (const [op, limit] of [
    ["commit+path create", 15],
    ["commit+path process", 5],
  ] as const) {
    const r = rows.find((x) => x.groupSize === 10000 && x.treeShape === "full" && x.operation === op);
    goals.push(
      r?.oursMs != null
        ? { goal: `10,000 full: ${op} <= ${limit} ms`, status: r.oursMs <= limit ? "PASS" : "MISS", detail: `${fmt(r.oursMs)} ms` }
        : { goal: `10,000 full: ${op} <= ${limit} ms`, status: "N/A", detail: "10,000 full not run" },
    );
  }
  return goals;
}

function printTable(rows: Row[], prims: PrimitiveCosts, goals: Goal[], vector: VectorRow | undefined): void {
  const out: string[] = [];
  out.push(`MLS benchmark, suite 1 (X25519/AES-128-GCM/SHA-256/Ed25519), node ${process.version}, ${cpus().length} CPUs; ${(performance.now() - start) / 1000 | 0} s`);
  out.push(`load average (1/5/15 min): ${loads.join(" | ")}`);
  out.push(
    `native primitives (µs): DH ${us(prims.dh)}, DeriveKeyPair ${us(prims.deriveKeyPair)}, keygen ${us(prims.generateKeyPair)}, ` +
      `HPKE seal ${us(prims.hpkeSeal)}, open ${us(prims.hpkeOpen)}, Ed25519 sign ${us(prims.sign)}, verify ${us(prims.verifyWarm)} ` +
      `(new key ${us(prims.verifyCold)}), +sign ${(prims.signPerByte * 1e6).toFixed(2)} ns/B, +verify ${(prims.verifyPerByte * 1e6).toFixed(2)} ns/B, SHA-256 ${(prims.sha256PerByte * 1e6).toFixed(2)} ns/B`,
  );
  out.push("");
  const head = ["operation", "N", "shape", "ours ms", "ts-mls ms", "ratio", "floor ms", "ours/floor", "note"];
  const cells = rows.map((r) => [
    r.operation,
    r.groupSize === null ? "-" : String(r.groupSize),
    r.treeShape ?? "-",
    fmt(r.oursMs),
    fmt(r.tsMlsMs),
    r.ratio === null ? "-" : r.ratio.toFixed(3),
    fmt(r.floorMs),
    r.floorRatio === null ? "-" : r.floorRatio.toFixed(1),
    r.note,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (i === 8 ? 0 : c[i]!.length))));
  const line = (c: string[]) => c.map((x, i) => (i === 8 ? x : i < 3 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ");
  out.push(line(head));
  out.push(widths.map((w, i) => "-".repeat(i === 8 ? 4 : w)).join("  "));
  for (const c of cells) out.push(line(c));
  out.push("");
  out.push("ratio = ours / ts-mls (below 1: ours faster). floor = inherent public-key operations at native cost (DKP = DeriveKeyPair).");
  if (vector) for (const l of vector.details) out.push(l);
  out.push("");
  out.push("goals:");
  for (const g of goals) out.push(`  ${g.status.padEnd(4)}  ${g.goal}: ${g.detail}`);
  console.log(out.join("\n"));
}

function minCosts(a: PrimitiveCosts, b: PrimitiveCosts): PrimitiveCosts {
  const out = { ...a };
  for (const k of Object.keys(a) as (keyof PrimitiveCosts)[]) out[k] = Math.min(a[k], b[k]);
  return out;
}

function us(ms: number): string {
  return (ms * 1000).toFixed(0);
}

await main();
