import { nativeProvider, encode, encodeMLSMessage } from "../../mls/node.js";
import { forgetPrivateKeysByContent } from "../../mls/crypto/native/keys.js";
import { prepare } from "./fixture.js";
import { oursImpl } from "./ours.js";
import { setupMembers, type MemberInput } from "./scenario.js";
const cs = nativeProvider.suite(1);
console.log("same suite object:", cs === nativeProvider.suite(1));
const n = Number(process.argv[2] ?? 1000);
const p = prepare(cs, n, "full");
const impl = oursImpl(cs);
const mi = (m: any): MemberInput => ({ kpBytes: m.kpBytes, initPrivateKey: m.priv.initPrivateKey, encryptionPrivateKey: m.priv.encryptionPrivateKey, signaturePrivateKey: m.priv.signaturePrivateKey });
const { A, B } = await setupMembers(impl, { n, shape: p.shape, welcome: p.welcome, creator: p.creator, a: mi(p.memberA), b: mi(p.memberB), d: mi(p.memberD), removed: p.removed, reps: 1, warmup: 0, longMs: Infinity });
const c = A.commit({ forcePath: true });
A.clearPendingCommit();
const bytes = encode(encodeMLSMessage, c.commit);
const acc = new Map<string, { t: number; n: number }>();
let depth = 0;
function wrap(obj: any, name: string, label: string) {
  const f = obj[name].bind(obj);
  obj[name] = (...args: unknown[]) => {
    if (depth > 0) return f(...args);
    depth++;
    const t0 = performance.now();
    try { return f(...args); } finally {
      depth--;
      const e = acc.get(label) ?? { t: 0, n: 0 };
      e.t += performance.now() - t0; e.n++; acc.set(label, e);
    }
  };
}
wrap(cs.signature, "verify", "verify");
wrap(cs.hpke, "open", "hpke.open");
wrap(cs.kem, "deriveKeyPair", "DKP");
wrap(cs.hash, "mac", "hmac");
wrap(cs.hash, "digest", "digest");
const N = 200;
const rs = [];
for (let i = 0; i < N; i++) rs.push(await impl.fork(B));
(globalThis as any).gc?.();
await new Promise((r) => setTimeout(r, 500));
for (let i = 0; i < 20; i++) { await impl.process(rs.pop()!, bytes); }
acc.clear();
const ts: number[] = [];
for (const r of rs) {
  forgetPrivateKeysByContent();
  const t0 = performance.now();
  await impl.process(r, bytes);
  ts.push(performance.now() - t0);
}
ts.sort((a, b) => a - b);
const k = rs.length;
console.log(`process ${n}: median ${ts[k >> 1]!.toFixed(3)} mean ${(ts.reduce((a, b) => a + b) / k).toFixed(3)} ms`);
for (const [l, e] of acc) console.log(l.padEnd(10), (e.t / k * 1000).toFixed(0), "µs/op", (e.n / k).toFixed(1), "calls/op", (e.t / e.n * 1000).toFixed(1), "µs each");
