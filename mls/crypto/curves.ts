/**
 * Curve constants needed above the providers: key and signature sizes,
 * NIST group orders (RFC 9180 §7.1.3) and scalar/point format checks.
 */
import { fromHex } from "../codec/bytes.js";
import type { HashName } from "./provider.js";
import type { DhGroup, SignatureScheme } from "./suites.js";

export type NistCurve = "P-256" | "P-384" | "P-521";

export interface NistParams {
  /** Bytes of a scalar / of one field coordinate. */
  readonly size: 32 | 48 | 66;
  /** Group order, big-endian, `size` bytes. */
  readonly order: Uint8Array;
  /** Applied to the first byte of DeriveKeyPair candidates (RFC 9180 §7.1.3). */
  readonly bitmask: number;
}

export const NIST: Readonly<Record<NistCurve, NistParams>> = {
  "P-256": {
    size: 32,
    order: fromHex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
    bitmask: 0xff,
  },
  "P-384": {
    size: 48,
    order: fromHex(
      "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    ),
    bitmask: 0xff,
  },
  "P-521": {
    size: 66,
    order: fromHex(
      "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" +
        "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    ),
    bitmask: 0x01,
  },
};

export function isNist(group: string): group is NistCurve {
  return group === "P-256" || group === "P-384" || group === "P-521";
}

/** True when `s` (big-endian, exactly the curve's scalar size) is in [1, order-1]. */
export function isValidScalar(curve: NistCurve, s: Uint8Array): boolean {
  const { size, order } = NIST[curve];
  if (s.length !== size) return false;
  let nonZero = 0;
  // Lexicographic compare with the order (same length, big-endian).
  let cmp = 0;
  for (let i = 0; i < size; i++) {
    nonZero |= s[i]!;
    if (cmp === 0 && s[i] !== order[i]) cmp = s[i]! < order[i]! ? -1 : 1;
  }
  return nonZero !== 0 && cmp < 0;
}

const padded = new WeakMap<Uint8Array, Uint8Array>();

/**
 * A NIST private key as a fixed-size scalar in [1, n-1], or undefined.
 * Keys shorter than the scalar size are left-padded with zeros: some MLS
 * implementations drop leading zero bytes, and the official test vectors
 * contain such 65-byte P-521 keys. The padded copy is memoized by array
 * identity so that providers' per-key caches keep hitting.
 */
export function normalizeScalar(curve: NistCurve, s: Uint8Array): Uint8Array | undefined {
  const { size } = NIST[curve];
  if (s.length === size) return isValidScalar(curve, s) ? s : undefined;
  if (s.length === 0 || s.length > size) return undefined;
  let p = padded.get(s);
  if (p === undefined || !endsWith(p, s)) {
    p = new Uint8Array(size);
    p.set(s, size - s.length);
    padded.set(s, p);
  }
  return isValidScalar(curve, p) ? p : undefined;
}

function endsWith(p: Uint8Array, s: Uint8Array): boolean {
  const off = p.length - s.length;
  let d = 0;
  for (let i = 0; i < s.length; i++) d |= p[off + i]! ^ s[i]!;
  return d === 0;
}

/** Shape check of an uncompressed SEC1 point (0x04 || X || Y); on-curve checks are the provider's. */
export function isUncompressedPoint(curve: NistCurve, p: Uint8Array): boolean {
  return p.length === 1 + 2 * NIST[curve].size && p[0] === 0x04;
}

/** Sizes of DH keys (RFC 9180 §7.1). */
export const DH_SIZES: Readonly<Record<DhGroup, { readonly npk: number; readonly nsk: number }>> = {
  X25519: { npk: 32, nsk: 32 },
  X448: { npk: 56, nsk: 56 },
  "P-256": { npk: 65, nsk: 32 },
  "P-384": { npk: 97, nsk: 48 },
  "P-521": { npk: 133, nsk: 66 },
};

export interface SignatureParams {
  readonly curve: "Ed25519" | "Ed448" | NistCurve;
  /** Private key length (EdDSA seed or ECDSA scalar). */
  readonly nsk: number;
  /** Public key length (raw EdDSA key or uncompressed SEC1 point). */
  readonly npk: number;
  /** Exact EdDSA signature length; for DER-encoded ECDSA, undefined. */
  readonly nsig: number | undefined;
  /** ECDSA message hash (RFC 9420 §5.1.2 uses the suite's hash). */
  readonly hash: HashName | undefined;
}

export const SIGNATURES: Readonly<Record<SignatureScheme, SignatureParams>> = {
  Ed25519: { curve: "Ed25519", nsk: 32, npk: 32, nsig: 64, hash: undefined },
  Ed448: { curve: "Ed448", nsk: 57, npk: 57, nsig: 114, hash: undefined },
  "ECDSA-P256": { curve: "P-256", nsk: 32, npk: 65, nsig: undefined, hash: "SHA-256" },
  "ECDSA-P384": { curve: "P-384", nsk: 48, npk: 97, nsig: undefined, hash: "SHA-384" },
  "ECDSA-P521": { curve: "P-521", nsk: 66, npk: 133, nsig: undefined, hash: "SHA-512" },
};

/**
 * A uniformly random scalar in [1, n-1]: rejection sampling with the same
 * bitmask as DeriveKeyPair (RFC 9180 §7.1.3).
 */
export function randomScalar(curve: NistCurve, randomBytes: (n: number) => Uint8Array): Uint8Array {
  const { size, bitmask } = NIST[curve];
  for (;;) {
    const s = randomBytes(size);
    s[0] &= bitmask;
    if (isValidScalar(curve, s)) return s;
  }
}
