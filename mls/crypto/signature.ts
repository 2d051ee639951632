/**
 * SignatureFns over a provider's signature primitive: key format checks
 * (RFC 9420 §5.1.1), key generation, and the never-throwing verify.
 */
import { fail } from "../errors.js";
import { isUncompressedPoint, normalizeScalar, randomScalar, SIGNATURES } from "./curves.js";
import { isAcceptableEdPublicKey } from "./eddsa.js";
import type { SignatureFns } from "./provider.js";
import { guard, type SignaturePrimitive } from "./primitives.js";
import type { SignatureScheme } from "./suites.js";

export function makeSignature(
  scheme: SignatureScheme,
  prim: SignaturePrimitive,
  randomBytes: (n: number) => Uint8Array,
): SignatureFns {
  const { curve, nsk, npk, nsig } = SIGNATURES[scheme];
  const ecdsa = curve === "P-256" || curve === "P-384" || curve === "P-521";

  /** The private key as the primitive expects it (ECDSA: fixed-size scalar in [1, n-1], see normalizeScalar). */
  const privateKey = (sk: Uint8Array): Uint8Array => {
    if (ecdsa) return normalizeScalar(curve, sk) ?? fail("InvalidKey", `${scheme} private key invalid or out of range`);
    if (sk.length !== nsk) fail("InvalidKey", `${scheme} private key of ${sk.length} bytes, expected ${nsk}`);
    return sk;
  };
  const publicKey = (sk: Uint8Array): Uint8Array => {
    const k = privateKey(sk);
    return guard("InvalidKey", `${scheme} public key`, () => prim.publicKey(k));
  };

  return {
    name: scheme,
    generateKeyPair() {
      const sk = ecdsa ? randomScalar(curve, randomBytes) : randomBytes(nsk);
      return { privateKey: sk, publicKey: publicKey(sk) };
    },
    publicKey,
    sign(sk, message) {
      const k = privateKey(sk);
      return guard("InvalidKey", `${scheme} sign`, () => prim.sign(k, message));
    },
    verify(pk, message, signature) {
      if (pk.length !== npk) return false;
      if (ecdsa ? !isUncompressedPoint(curve, pk) : !isAcceptableEdPublicKey(curve, pk)) return false;
      if (nsig !== undefined && signature.length !== nsig) return false;
      try {
        return prim.verify(pk, message, signature) === true;
      } catch {
        return false;
      }
    },
  };
}
