/**
 * Per-operation cost of the crypto providers.
 *   npx tsx bench/crypto/run.ts [--ms 300] [--suites 1,2]
 * "warm" reuses the same private-key array (the native provider caches its
 * KeyObject); "cold" passes a fresh copy each time (key import included).
 */
import { createKem } from "../../mls/crypto/hpke.js";
import { nativeProvider } from "../../mls/crypto/native/index.js";
import { nativePrimitives } from "../../mls/crypto/native/primitives.js";
import { nobleProvider } from "../../mls/crypto/noble/index.js";
import { noblePrimitives } from "../../mls/crypto/noble/primitives.js";
import type { CryptoProvider } from "../../mls/crypto/provider.js";
import type { Primitives } from "../../mls/crypto/primitives.js";
import { suiteParams } from "../../mls/crypto/suites.js";
import { parseToolArgs, usageError } from "../cli.js";

const USAGE = "usage: npx tsx bench/crypto/run.ts [--ms 300] [--suites 1,2,3,4,5,6,7]   (time per call of each primitive, both providers)";
const values = parseToolArgs("bench:crypto", USAGE, {
  options: { ms: { type: "string", default: "300" }, suites: { type: "string", default: "1,2,3,4,5,6,7" } },
});
const budgetMs = Number(values.ms);
const suites = values.suites.split(",").map(Number);
if (!(budgetMs > 0) || suites.some((s) => !Number.isInteger(s) || s < 1 || s > 7)) {
  usageError("bench:crypto", "--ms takes a positive number, --suites the suite numbers 1 to 7", USAGE);
}

/** Mean microseconds per call of `f`, run for about `budgetMs`. */
function time(f: () => unknown): number {
  for (let i = 0; i < 20; i++) f();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < budgetMs) {
    for (let i = 0; i < 10; i++) f();
    n += 10;
    now = performance.now();
  }
  return ((now - start) * 1000) / n;
}

function ops(provider: CryptoProvider, prims: Primitives, id: number): Record<string, () => unknown> {
  const cs = provider.suite(id);
  const kem = createKem(prims, suiteParams(id).kem);
  const a = kem.generateKeyPair();
  const b = kem.generateKeyPair();
  const sig = cs.signature.generateKeyPair();
  const msg = cs.randomBytes(100);
  const signature = cs.signature.sign(sig.privateKey, msg);
  const info = cs.randomBytes(32);
  const pt = cs.randomBytes(100);
  const empty = new Uint8Array(0);
  const sealed = cs.hpke.seal(b.publicKey, info, empty, pt);
  const ikm = cs.randomBytes(32);
  return {
    "DH warm": () => kem.dh(a.privateKey, b.publicKey),
    "DH cold": () => kem.dh(a.privateKey.slice(), b.publicKey),
    "sign warm": () => cs.signature.sign(sig.privateKey, msg),
    "sign cold": () => cs.signature.sign(sig.privateKey.slice(), msg),
    verify: () => cs.signature.verify(sig.publicKey, msg, signature),
    "HPKE seal": () => cs.hpke.seal(b.publicKey, info, empty, pt),
    "HPKE open warm": () => cs.hpke.open(b.privateKey, sealed.enc, info, empty, sealed.ciphertext),
    "HPKE open cold": () => cs.hpke.open(b.privateKey.slice(), sealed.enc, info, empty, sealed.ciphertext),
    DeriveKeyPair: () => cs.kem.deriveKeyPair(ikm),
    "ExpandWithLabel-size HKDF": () => cs.kdf.expand(ikm, info, 32),
  };
}

console.log(`µs per operation (${budgetMs} ms per measurement)`);
for (const id of suites) {
  console.log(`\nsuite ${id} ${suiteParams(id).name}`);
  console.log(`${"operation".padEnd(28)} ${"native".padStart(10)} ${"noble".padStart(10)} ${"ratio".padStart(7)}`);
  const nat = ops(nativeProvider, nativePrimitives, id);
  const nob = ops(nobleProvider, noblePrimitives, id);
  for (const name of Object.keys(nat)) {
    const tn = time(nat[name]!);
    const tb = time(nob[name]!);
    console.log(`${name.padEnd(28)} ${tn.toFixed(1).padStart(10)} ${tb.toFixed(1).padStart(10)} ${(tb / tn).toFixed(1).padStart(6)}x`);
  }
}
