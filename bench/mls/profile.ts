/**
 * CPU profile of one operation of the MLS benchmark (our library only), with
 * V8's sampling profiler (the one behind `node --cpu-prof`), started and
 * stopped around the measured loop only, so set-up does not show.
 *
 *   npx tsx bench/mls/profile.ts --size 10000 --shape full --op process [--iters 40] [--out FILE.cpuprofile] [--top 30]
 *   npx tsx bench/mls/profile.ts --op vectors --file treekem.json [--suite 5]
 *
 * ops: create, process, add-create, add-process, remove-create, remove-process,
 * join, protect, unprotect, vectors. Prints self and inclusive time per
 * function; the .cpuprofile opens in Chrome DevTools / speedscope.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import { forgetPrivateKeysByContent } from "../../mls/crypto/native/keys.js";
import { nativeProvider, type Group } from "../../mls/node.js";
import { loadCheck, type VectorFile } from "../../test/vectors/checks/index.js";
import { loadVectorFile } from "../../test/vectors/load.js";
import { encodeMsg, prepare, type Member, type Shape } from "./fixture.js";
import { oursImpl } from "./ours.js";
import { setupMembers, type MemberInput, type ScenarioInput } from "./scenario.js";

const { values: a } = parseArgs({
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
  },
});
const cs = nativeProvider.suite(1);
const n = Number(a.size);
const op = a.op!;

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
        const chain = mine.slice(at, at + Number(process.env.CHAIN ?? 4)).map((k) => k.split(" ")[0]).join(" <- ");
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
