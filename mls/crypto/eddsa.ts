/**
 * EdDSA public-key policy shared by all providers (RFC 8032 §5.1.3, §5.2.3).
 *
 * RFC 8032 verifiers differ on edge cases (cofactored vs. cofactorless
 * equation, non-canonical or small-order keys); in a group, members whose
 * verifiers disagree would fork. All providers here therefore implement one
 * rule, that of libsodium: the cofactorless equation [S]B = R + [k]A with
 * S < L and R compared by its encoding (what OpenSSL does), and public keys
 * must be canonical encodings of points that are not of small order
 * (checked here, before any provider sees the key).
 */
import { fromHex } from "../codec/bytes.js";

type EdCurve = "Ed25519" | "Ed448";

/**
 * y-coordinates (little-endian, sign bit cleared) of the small-order points:
 * Ed25519's 8-torsion {1, -1, 0, and two order-8 values}, Ed448's 4-torsion {1, -1, 0}.
 */
const SMALL_ORDER_Y: Record<EdCurve, readonly Uint8Array[]> = {
  Ed25519: [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  ].map(fromHex),
  Ed448: [
    "01" + "00".repeat(56),
    "fe" + "ff".repeat(27) + "fe" + "ff".repeat(27) + "00",
    "00".repeat(57),
  ].map(fromHex),
};

/** Little-endian field prime, as encoded (Ed25519: 2^255-19; Ed448: 2^448-2^224-1, plus the 57th byte). */
const P: Record<EdCurve, Uint8Array> = {
  Ed25519: fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
  Ed448: fromHex("ff".repeat(28) + "fe" + "ff".repeat(27) + "00"),
};

/** Compares little-endian numbers of equal length. */
function lessThanLE(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** The encoded y-coordinate with the sign bit of x cleared. */
function yOf(pk: Uint8Array): Uint8Array {
  const y = pk.slice();
  y[y.length - 1] &= 0x7f;
  return y;
}

/**
 * True when `pk` may be used as an EdDSA verification key: a canonical
 * encoding (y < p; for Ed448 the unused bits of the last byte are zero) of a
 * point not of small order. Whether it is on the curve is the provider's check.
 */
export function isAcceptableEdPublicKey(curve: EdCurve, pk: Uint8Array): boolean {
  if (curve === "Ed448" && (pk[56]! & 0x7f) !== 0) return false;
  const y = yOf(pk);
  if (!lessThanLE(y, P[curve])) return false;
  for (const s of SMALL_ORDER_Y[curve]) {
    let d = 0;
    for (let i = 0; i < s.length; i++) d |= s[i]! ^ y[i]!;
    if (d === 0) return false;
  }
  return true;
}
