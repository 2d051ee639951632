/**
 * Native cost of the public-key primitives (and of hashing large messages),
 * measured in the benchmark's own run, for the floor column.
 *
 * Every figure goes through this project's native provider (node:crypto /
 * OpenSSL), suite 1 (X25519, Ed25519, SHA-256, AES-128-GCM).
 */
import { createKem } from "../../mls/crypto/hpke.js";
import { nativePrimitives } from "../../mls/crypto/native/primitives.js";
import { suiteParams } from "../../mls/crypto/suites.js";
import type { CipherSuite } from "../../mls/node.js";

export interface PrimitiveCosts {
  /** X25519 DH, private key already imported. */
  readonly dh: number;
  /** DHKEM DeriveKeyPair (RFC 9180 §7.1.3) from fresh input keying material. */
  readonly deriveKeyPair: number;
  /** Fresh X25519 key pair (a leaf's new encryption key). */
  readonly generateKeyPair: number;
  /** HPKE base-mode seal of a 32-byte secret, a different recipient each time. */
  readonly hpkeSeal: number;
  /** HPKE base-mode open, the recipient key in use already. */
  readonly hpkeOpen: number;
  /** Ed25519 signature of a ~100-byte message (the member's key in use already). */
  readonly sign: number;
  /** Ed25519 verification of a ~100-byte message, a key seen before. */
  readonly verifyWarm: number;
  /** Ed25519 verification, a key not seen before (e.g. each leaf of a tree being joined). */
  readonly verifyCold: number;
  /** Extra cost per byte of message for Ed25519 sign and verify (its SHA-512 passes). */
  readonly signPerByte: number;
  readonly verifyPerByte: number;
  /** SHA-256 per byte (transcript hash, membership tag over a large commit). */
  readonly sha256PerByte: number;
  readonly measureMs: number;
}

/**
 * Milliseconds per call of `f`: the best of five runs of about `budgetMs`/5
 * each (the machine may be shared: the best run is the closest to the
 * primitive's own cost).
 */
export function timeOp(f: (i: number) => unknown, budgetMs: number): number {
  for (let i = 0; i < 20; i++) f(i);
  let best = Infinity;
  let n = 0;
  for (let run = 0; run < 5; run++) {
    let k = 0;
    const start = performance.now();
    let now = start;
    while (now - start < budgetMs / 5) {
      for (let i = 0; i < 5; i++) f(n + i);
      n += 5;
      k += 5;
      now = performance.now();
    }
    best = Math.min(best, (now - start) / k);
  }
  return best;
}

export function measurePrimitives(cs: CipherSuite, budgetMs: number): PrimitiveCosts {
  const t0 = performance.now();
  const kem = createKem(nativePrimitives, suiteParams(cs.id).kem);
  const a = kem.generateKeyPair();
  const b = kem.generateKeyPair();
  const pool = Array.from({ length: 1024 }, () => kem.generateKeyPair().publicKey);
  const sig = cs.signature.generateKeyPair();
  const msg = cs.randomBytes(100);
  const signature = cs.signature.sign(sig.privateKey, msg);
  // More signers than the provider's public-key cache (512) holds: every verification imports its key.
  const signers = Array.from({ length: 1500 }, () => {
    const k = cs.signature.generateKeyPair();
    return { pub: k.publicKey, sig: cs.signature.sign(k.privateKey, msg) };
  });
  const info = cs.randomBytes(100);
  const secret = cs.randomBytes(32);
  const empty = new Uint8Array(0);
  const sealed = cs.hpke.seal(b.publicKey, info, empty, secret);
  const big = cs.randomBytes(1 << 20);
  const bigSig = cs.signature.sign(sig.privateKey, big);
  const bigBudget = Math.max(budgetMs, 150);
  const sign = timeOp(() => cs.signature.sign(sig.privateKey, msg), budgetMs);
  const verifyWarm = timeOp(() => cs.signature.verify(sig.publicKey, msg, signature), budgetMs);
  const signBig = timeOp(() => cs.signature.sign(sig.privateKey, big), bigBudget);
  const verifyBig = timeOp(() => cs.signature.verify(sig.publicKey, big, bigSig), bigBudget);
  const sha = timeOp(() => cs.hash.digest(big), bigBudget);
  return {
    dh: timeOp(() => kem.dh(a.privateKey, b.publicKey), budgetMs),
    deriveKeyPair: timeOp(() => cs.kem.deriveKeyPair(cs.randomBytes(32)), budgetMs),
    generateKeyPair: timeOp(() => cs.kem.generateKeyPair(), budgetMs),
    hpkeSeal: timeOp((i) => cs.hpke.seal(pool[i % pool.length]!, info, empty, secret), budgetMs),
    hpkeOpen: timeOp(() => cs.hpke.open(b.privateKey, sealed.enc, info, empty, sealed.ciphertext), budgetMs),
    sign,
    verifyWarm,
    verifyCold: timeOp((i) => {
      const s = signers[i % signers.length]!;
      return cs.signature.verify(s.pub, msg, s.sig);
    }, budgetMs),
    signPerByte: Math.max(0, (signBig - sign) / big.length),
    verifyPerByte: Math.max(0, (verifyBig - verifyWarm) / big.length),
    sha256PerByte: sha / big.length,
    measureMs: performance.now() - t0,
  };
}

/** Public-key operations an MLS operation inherently needs, and their cost at native speed. */
export interface FloorCount {
  deriveKeyPair?: number;
  generateKeyPair?: number;
  seal?: number;
  open?: number;
  /** Sizes (bytes) of the messages signed. */
  sign?: number[];
  /** Sizes of messages verified under keys in use (sender, committer). */
  verifyWarm?: number[];
  /** Number of small messages verified under keys not seen before (leaves, KeyPackages). */
  verifyCold?: number;
  /** Bytes hashed with SHA-256 beyond the signatures (transcript hash, membership tag). */
  hashBytes?: number;
}

export function floorMs(c: FloorCount, p: PrimitiveCosts): number {
  let t = 0;
  t += (c.deriveKeyPair ?? 0) * p.deriveKeyPair;
  t += (c.generateKeyPair ?? 0) * p.generateKeyPair;
  t += (c.seal ?? 0) * p.hpkeSeal;
  t += (c.open ?? 0) * p.hpkeOpen;
  for (const size of c.sign ?? []) t += p.sign + Math.max(0, size - 100) * p.signPerByte;
  for (const size of c.verifyWarm ?? []) t += p.verifyWarm + Math.max(0, size - 100) * p.verifyPerByte;
  t += (c.verifyCold ?? 0) * p.verifyCold;
  t += (c.hashBytes ?? 0) * p.sha256PerByte;
  return t;
}

function kb(n: number): string {
  return n < 4096 ? "" : n < 1 << 20 ? `(${(n / 1024).toFixed(0)}KiB)` : `(${(n / (1 << 20)).toFixed(1)}MiB)`;
}

export function describeFloor(c: FloorCount): string {
  const parts: string[] = [];
  if (c.deriveKeyPair) parts.push(`${c.deriveKeyPair} DKP`);
  if (c.generateKeyPair) parts.push(`${c.generateKeyPair} keygen`);
  if (c.seal) parts.push(`${c.seal} seal`);
  if (c.open) parts.push(`${c.open} open`);
  if (c.sign?.length) parts.push(`${c.sign.length} sign${c.sign.map(kb).join("")}`);
  const verifies = (c.verifyWarm?.length ?? 0) + (c.verifyCold ?? 0);
  if (verifies) parts.push(`${verifies} verify${(c.verifyWarm ?? []).map(kb).join("")}`);
  if (c.hashBytes && c.hashBytes >= 4096) parts.push(`sha256${kb(c.hashBytes)}`);
  return parts.join(" + ");
}
