/**
 * CPU profile of one operation of the MLS benchmark (our library only), with
 * V8's sampling profiler (the one behind `node --cpu-prof`), started and
 * stopped around the measured loop only, so set-up does not show.
 *
 *   npx tsx bench/mls/profile.ts --size 10000 --shape full --op process [--iters 40] [--out FILE.cpuprofile] [--top 30]
 *        [--callers FN [--depth 4]]   (also the call chains leading to FN, DEPTH frames up)
 *   npx tsx bench/mls/profile.ts --op vectors --file treekem.json [--suite 5]
 *
 * ops: create, process, add-create, add-process, remove-create, remove-process,
 * join, protect, unprotect, vectors. Prints self and inclusive time per
 * function; the .cpuprofile opens in Chrome DevTools / speedscope.
 *
 *   npx tsx bench/mls/profile.ts --op process --size 1000 --in-situ
 *
 * --in-situ: no profiler; times the suite's public-key functions (sign,
 * verify, HPKE seal/open, DeriveKeyPair, key generation) where the operation
 * calls them, and sets them beside their hot-loop cost (the floor's figures,
 * bench/mls/primitives.ts): how much of the operation is public-key work, and
 * how much slower those calls are amid the rest (cold caches) than in a loop.
 *
 *   npx tsx bench/mls/profile.ts --op process --size 10000 --alloc [--callers FN]
 *
 * --alloc: V8's sampling heap profiler instead (every 256 bytes, garbage
 * included): KiB allocated per iteration, by allocating function. Fresh
 * memory is where the cold-cache cost of --in-situ comes from.
 */
import { writeFileSync } from "node:fs";
import type { HeapProfiler } from "node:inspector";
import { Session } from "node:inspector/promises";
import { forgetPrivateKeysByContent } from "../../mls/crypto/native/keys.js";
import { nativeProvider, type Group } from "../../mls/node.js";
import { loadCheck, type VectorFile } from "../../test/vectors/checks/index.js";
import { loadVectorFile } from "../../test/vectors/load.js";
import { parseToolArgs, usageError } from "../cli.js";
import { encodeMsg, prepare, type Member, type Shape } from "./fixture.js";
import { oursImpl } from "./ours.js";
import { measurePrimitives } from "./primitives.js";
import { setupMembers, type MemberInput, type ScenarioInput } from "./scenario.js";

const USAGE =
  "usage: npx tsx bench/mls/profile.ts [--op process] [--size 1000] [--shape full|sparse] [--iters N] [--out FILE.cpuprofile] [--top 30]\n" +
  "         [--callers FN [--depth 4]] [--interval 100] [--in-situ | --alloc]\n" +
  "       npx tsx bench/mls/profile.ts --op vectors --file treekem.json [--suite 5]\n" +
  "ops: create, process, add-create, add-process, remove-create, remove-process, join, protect, unprotect, vectors";
const a = parseToolArgs("profile", USAGE, {
  options: {
    size: { type: "string", default: "1000" },
    shape: { type: "string", default: "full" },
    op: { type: "string", default: "process" },
    iters: { type: "string" },
    out: { type: "string" },
    top: { type: "string", default: "30" },
    file: { type: "string" },
    suite: { type: "string" },
    interval: { type: "string", default: "100" },
    callers: { type: "string" },
    depth: { type: "string", default: "4" },
    "in-situ": { type: "boolean", default: false },
    alloc: { type: "boolean", default: false },
  },
});
const OPS = ["create", "process", "add-create", "add-process", "remove-create", "remove-process", "join", "protect", "unprotect", "vectors"];
const cs = nativeProvider.suite(1);
const n = Number(a.size);
const op = a.op;
if (!OPS.includes(op)) usageError("profile", `unknown op ${op}`, USAGE);
if (!Number.isInteger(n) || n < 8) usageError("profile", "--size takes an integer >= 8", USAGE);
if (a.shape !== "full" && a.shape !== "sparse") usageError("profile", "--shape takes full or sparse", USAGE);

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const mi = (m: Member): MemberInput => ({
  kpBytes: m.kpBytes,
  initPrivateKey: m.priv.initPrivateKey,
  encryptionPrivateKey: m.priv.encryptionPrivateKey,
  signaturePrivateKey: m.priv.signaturePrivateKey,
});

async function main(): Promise<void> {
  let run: () => void;
  let iters = Number(a.iters ?? (n >= 10000 ? 20 : 60));
  if (op === "vectors") {
    const file = (a.file ?? "treekem.json") as VectorFile;
    const check = await loadCheck(file);
    const entries = loadVectorFile(file).filter((e) => a.suite === undefined || (e as { cipher_suite?: number }).cipher_suite === Number(a.suite));
    iters = Number(a.iters ?? 1);
    run = () => {
      for (const e of entries) check.check(e, nativeProvider);
    };
  } else {
    const p = prepare(cs, n, a.shape as Shape);
    const impl = oursImpl(cs);
    const input: ScenarioInput = {
      n,
      shape: p.shape,
      welcome: p.welcome,
      creator: p.creator,
      a: mi(p.memberA),
      b: mi(p.memberB),
      d: mi(p.memberD),
      removed: p.removed,
      reps: 1,
      warmup: 0,
      longMs: Infinity,
    };
    const { A, B } = await setupMembers(impl, input);
    const commitFor = (o: { add?: boolean; remove?: boolean }) => {
      const c = A.commit(o.add ? { add: [p.memberD.keyPackage] } : o.remove ? { remove: [p.removed] } : { forcePath: true });
      A.clearPendingCommit();
      return c;
    };
    // Receivers: independent copies of B made before profiling starts.
    const receivers = async (count: number): Promise<Group[]> => {
      const out: Group[] = [];
      for (let i = 0; i < count; i++) out.push(await impl.fork(B));
      return out;
    };
    switch (op) {
      case "create":
        run = () => void commitFor({});
        break;
      case "add-create":
        run = () => void commitFor({ add: true });
        break;
      case "remove-create":
        run = () => void commitFor({ remove: true });
        break;
      case "process":
      case "add-process":
      case "remove-process": {
        const c = encodeMsg(commitFor({ add: op === "add-process", remove: op === "remove-process" }).commit);
        const rs = await receivers(iters + 2);
        let k = 0;
        run = () => void impl.process(rs[k++]!, c);
        break;
      }
      case "join": {
        const w = encodeMsg(commitFor({ add: true }).welcome!);
        iters = Number(a.iters ?? (n >= 10000 ? 3 : 10));
        run = () => void impl.join(w, mi(p.memberD));
        break;
      }
      case "protect": {
        const data = new Uint8Array(1024);
        iters = Number(a.iters ?? 2000);
        run = () => void A.encrypt(data);
        break;
      }
      case "unprotect": {
        const data = new Uint8Array(1024);
        iters = Number(a.iters ?? 2000);
        const msgs = Array.from({ length: iters + 2 }, () => encodeMsg(A.encrypt(data)));
        let k = 0;
        run = () => void impl.process(B, msgs[k++]!);
        break;
      }
      default:
        throw new Error(`unknown op ${op}`);
    }
  }
  run(); // warm
  if (a["in-situ"]) return inSitu(run, iters);
  if (a.alloc) return allocations(run, iters);
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: Number(a.interval) });
  await session.post("Profiler.start");
  const t0 = performance.now();
  measuredLoop(run, iters);
  const ms = performance.now() - t0;
  const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: CpuProfile };
  session.disconnect();
  const out = a.out ?? `/tmp/mls-${op}-${n}-${a.shape}.cpuprofile`;
  writeFileSync(out, JSON.stringify(profile));
  console.log(`${op} ${op === "vectors" ? a.file : `${n} ${a.shape}`}: ${iters} iterations, ${(ms / iters).toFixed(2)} ms each; profile ${out}`);
  summarize(profile, Number(a.top), iters);
}

/** Wraps the suite's public-key functions (outermost calls only) with timers. */
function timePublicKeyCalls(): Map<string, { ms: number; calls: number }> {
  const acc = new Map<string, { ms: number; calls: number }>();
  let depth = 0;
  const wrap = <K extends string>(obj: Record<K, (...x: never[]) => unknown>, name: K, label: string) => {
    const f = obj[name].bind(obj);
    obj[name] = ((...args: never[]) => {
      if (depth > 0) return f(...args);
      depth++;
      const t0 = performance.now();
      try {
        return f(...args);
      } finally {
        depth--;
        const e = acc.get(label) ?? { ms: 0, calls: 0 };
        e.ms += performance.now() - t0;
        e.calls++;
        acc.set(label, e);
      }
    }) as (typeof obj)[K];
  };
  const sig = cs.signature as unknown as Record<"sign" | "verify", (...x: never[]) => unknown>;
  const hpke = cs.hpke as unknown as Record<"seal" | "open", (...x: never[]) => unknown>;
  const kem = cs.kem as unknown as Record<"deriveKeyPair" | "generateKeyPair", (...x: never[]) => unknown>;
  wrap(sig, "sign", "sign");
  wrap(sig, "verify", "verify");
  wrap(hpke, "seal", "HPKE seal");
  wrap(hpke, "open", "HPKE open");
  wrap(kem, "deriveKeyPair", "DeriveKeyPair");
  wrap(kem, "generateKeyPair", "keygen");
  return acc;
}

function inSitu(run: () => void, iters: number): void {
  const hot = measurePrimitives(cs, 300);
  const hotUs: Record<string, number> = {
    sign: hot.sign,
    verify: hot.verifyWarm,
    "HPKE seal": hot.hpkeSeal,
    "HPKE open": hot.hpkeOpen,
    DeriveKeyPair: hot.deriveKeyPair,
    keygen: hot.generateKeyPair,
  };
  const acc = timePublicKeyCalls();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    forgetPrivateKeysByContent();
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  const total = times.reduce((x, y) => x + y, 0);
  let pk = 0;
  for (const e of acc.values()) pk += e.ms;
  console.log(`${op} ${n} ${a.shape}: ${iters} iterations, mean ${(total / iters).toFixed(3)} ms, of which public-key calls ${(pk / iters).toFixed(3)} ms (${((100 * pk) / total).toFixed(0)}%)`);
  for (const [label, e] of acc) {
    const each = (1000 * e.ms) / e.calls;
    const ref = 1000 * hotUs[label]!;
    console.log(`  ${label.padEnd(14)} ${(e.calls / iters).toFixed(1).padStart(6)} per op, ${each.toFixed(0).padStart(5)} µs each here, ${ref.toFixed(0).padStart(4)} µs in a hot loop (${(each / ref).toFixed(1)}x)`);
  }
}

interface HeapNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: HeapNode[];
}

/** Bytes allocated per iteration, by function (and, with --callers, by call chain). */
async function allocations(run: () => void, iters: number): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as HeapProfiler.StartSamplingParameterType);
  measuredLoop(run, iters);
  const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: HeapNode } };
  session.disconnect();
  const self = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  const visit = (node: HeapNode, stack: string[], inLoop: boolean): void => {
    const name = node.callFrame.functionName || "(anonymous)";
    const here = [...stack, name];
    const measured = inLoop || name === "measuredLoop";
    if (measured && node.selfSize > 0) {
      const file = node.callFrame.url.replace(/^file:\/\//, "").replace(/^.*\/work\/main\//, "");
      const k = `${name} ${file || "(native)"}`;
      self.set(k, (self.get(k) ?? 0) + node.selfSize);
      total += node.selfSize;
      if (name === a.callers) {
        const chain = here.slice(-Number(a.depth)).reverse().join(" <- ");
        callers.set(chain, (callers.get(chain) ?? 0) + node.selfSize);
      }
    }
    for (const c of node.children) visit(c, here, measured);
  };
  visit(profile.head, [], false);
  console.log(`${op} ${n} ${a.shape}: ${iters} iterations, ~${(total / iters / 1024).toFixed(1)} KiB allocated per iteration`);
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title} (KiB per iteration)`);
    [...m]
      .sort((x, y) => y[1] - x[1])
      .slice(0, Number(a.top))
      .forEach(([k, v]) => console.log(`${(v / iters / 1024).toFixed(1).padStart(8)}  ${k}`));
  };
  show("allocated by", self);
  if (a.callers) show(`call chains of ${a.callers}`, callers);
}

/** The loop the summary is restricted to (found by name in each sample's stack). */
function measuredLoop(run: () => void, iters: number): void {
  for (let i = 0; i < iters; i++) {
    // Each iteration as the first: no key remembered by content from the previous one (as in bench:mls).
    forgetPrivateKeysByContent();
    run();
  }
}

/** Self time and inclusive time per function (a function counted once per sample however deep it recurses). */
function summarize(p: CpuProfile, top: number, iters: number): void {
  const parent = new Map<number, number>();
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  // tsx's transpiled code has no useful line numbers: function name and file.
  const key = (id: number) => {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^file:\/\//, "").replace(/^.*\/work\/main\//, "");
    return `${f.functionName || "(anonymous)"} ${file || "(native)"}`;
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  let gcMs = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const stack: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(key(cur));
    if (stack[0]!.startsWith("(garbage collector)")) {
      gcMs += dt;
      total += dt;
      self.set(stack[0]!, (self.get(stack[0]!) ?? 0) + dt);
      return;
    }
    const loop = stack.findIndex((k) => k.startsWith("measuredLoop "));
    if (loop < 0) return; // not the measured operation (profiler plumbing, idle)
    const mine = stack.slice(0, loop);
    total += dt;
    self.set(mine[0] ?? "measuredLoop", (self.get(mine[0] ?? "measuredLoop") ?? 0) + dt);
    for (const k of new Set(mine)) incl.set(k, (incl.get(k) ?? 0) + dt);
    if (a.callers) {
      const at = mine.findIndex((k) => k.startsWith(a.callers + " "));
      if (at >= 0) {
        const chain = mine.slice(at, at + Number(a.depth)).map((k) => k.split(" ")[0]).join(" <- ");
        callers.set(chain, (callers.get(chain) ?? 0) + dt);
      }
    }
  });
  console.log(`profiled ${total.toFixed(0)} ms in the operation (${(total / iters).toFixed(2)} ms per iteration), of which GC ${((100 * gcMs) / total).toFixed(1)}%`);
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title} (ms per iteration, % of the operation's samples)`);
    [...m]
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .forEach(([k, v]) => console.log(`${(v / iters).toFixed(3).padStart(9)}  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`));
  };
  show("self time", self);
  show("inclusive time", incl);
  if (a.callers) show(`call chains of ${a.callers}`, callers);
}

await main();
