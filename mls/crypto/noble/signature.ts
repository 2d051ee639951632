/** Ed25519/Ed448 (RFC 8032) and ECDSA with DER signatures on @noble/curves. */
import { ed25519 } from "@noble/curves/ed25519.js";
import { ed448 } from "@noble/curves/ed448.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import type { SignaturePrimitive } from "../primitives.js";
import { verifyCofactorless } from "./eddsa.js";
import type { SignatureScheme } from "../suites.js";

// p256/p384/p521 prehash with SHA-256/384/512, the suites' hashes (RFC 9420 §5.1.2).
const ECDSA = { "ECDSA-P256": p256, "ECDSA-P384": p384, "ECDSA-P521": p521 } as const;

export function nobleSignature(scheme: SignatureScheme): SignaturePrimitive {
  if (scheme === "Ed25519" || scheme === "Ed448") {
    const c = scheme === "Ed25519" ? ed25519 : ed448;
    return {
      publicKey: (sk) => c.getPublicKey(sk),
      sign: (sk, msg) => c.sign(msg, sk),
      // Cofactorless like OpenSSL, so both providers accept the same signatures.
      verify: (pk, msg, sig) => verifyCofactorless(scheme, pk, msg, sig),
    };
  }
  const c = ECDSA[scheme];
  return {
    publicKey: (sk) => c.getPublicKey(sk, false),
    sign: (sk, msg) => c.sign(msg, sk, { format: "der" }),
    // Accept high-S signatures: OpenSSL and other MLS stacks produce them.
    verify: (pk, msg, sig) => c.verify(sig, msg, pk, { format: "der", lowS: false }),
  };
}
