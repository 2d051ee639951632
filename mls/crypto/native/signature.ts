/** Ed25519/Ed448 (RFC 8032) and ECDSA with DER signatures on node:crypto. */
import { sign, verify } from "node:crypto";
import { SIGNATURES, type NistCurve } from "../curves.js";
import type { SignaturePrimitive } from "../primitives.js";
import type { SignatureScheme } from "../suites.js";
import { u8 } from "./bytes.js";
import { ecPrivateKey, ecPublicKey, ecPublicOf, okpPrivateKey, okpPublicKey, okpPublicOf } from "./keys.js";

const NODE_HASH = { "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" } as const;

export function nativeSignature(scheme: SignatureScheme): SignaturePrimitive {
  const { curve, hash } = SIGNATURES[scheme];
  if (curve === "Ed25519" || curve === "Ed448") {
    return {
      publicKey: (sk) => okpPublicOf(curve, sk),
      sign: (sk, msg) => u8(sign(null, msg, okpPrivateKey(curve, sk))),
      verify: (pk, msg, sig) => verify(null, msg, okpPublicKey(curve, pk), sig),
    };
  }
  const nist: NistCurve = curve;
  const alg = NODE_HASH[hash!];
  return {
    publicKey: (sk) => ecPublicOf(nist, sk),
    sign: (sk, msg) => u8(sign(alg, msg, { key: ecPrivateKey(nist, sk), dsaEncoding: "der" })),
    verify: (pk, msg, sig) => verify(alg, msg, { key: ecPublicKey(nist, pk), dsaEncoding: "der" }, sig),
  };
}
