/**
 * EdDSA verification with the cofactorless equation (RFC 8032 §5.1.7 and
 * §5.2.7 allow it): [S]B = R + [k]A, with S < L and R compared by encoding.
 * This is OpenSSL's rule, so both providers accept exactly the same
 * signatures; noble's own verify is cofactored (see ../eddsa.ts).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { ed448 } from "@noble/curves/ed448.js";
import { bytesToNumberLE, equalBytes } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { shake256 } from "@noble/hashes/sha3.js";
import { concatBytes, utf8Bytes } from "../../codec/bytes.js";

// RFC 8032 §5.2: dom4(0, "") for pure Ed448 with an empty context.
const DOM4 = concatBytes(utf8Bytes("SigEd448"), new Uint8Array([0, 0]));

const CURVES = {
  Ed25519: { c: ed25519, size: 32, k: (r: Uint8Array, a: Uint8Array, m: Uint8Array) => sha512(concatBytes(r, a, m)) },
  Ed448: {
    c: ed448,
    size: 57,
    k: (r: Uint8Array, a: Uint8Array, m: Uint8Array) => shake256(concatBytes(DOM4, r, a, m), { dkLen: 114 }),
  },
} as const;

export function verifyCofactorless(
  curve: "Ed25519" | "Ed448",
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const { c, size, k } = CURVES[curve];
  if (publicKey.length !== size || signature.length !== 2 * size) return false;
  const { Point } = c;
  const r = signature.subarray(0, size);
  const s = bytesToNumberLE(signature.subarray(size));
  if (s >= Point.Fn.ORDER) return false;
  let a;
  try {
    a = Point.fromBytes(publicKey, false); // strict decoding
  } catch {
    return false;
  }
  const h = Point.Fn.create(bytesToNumberLE(k(r, publicKey, message)));
  const rCheck = Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(h));
  return equalBytes(rCheck.toBytes(), r);
}
