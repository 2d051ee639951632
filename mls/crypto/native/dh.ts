/** X25519/X448 (RFC 7748) and NIST-curve ECDH on node:crypto. */
import { diffieHellman } from "node:crypto";
import type { DhPrimitive } from "../primitives.js";
import type { DhGroup } from "../suites.js";
import { u8 } from "./bytes.js";
import { ecPrivateKey, ecPublicKey, ecPublicOf, okpPrivateKey, okpPublicKey, okpPublicOf } from "./keys.js";

export function nativeDh(group: DhGroup): DhPrimitive {
  if (group === "X25519" || group === "X448") {
    return {
      // OpenSSL fails the derivation when the result is all-zero (RFC 7748 §6).
      dh: (sk, pk) =>
        u8(diffieHellman({ privateKey: okpPrivateKey(group, sk), publicKey: okpPublicKey(group, pk) })),
      publicKey: (sk) => okpPublicOf(group, sk),
    };
  }
  return {
    // KeyObjects with diffieHellman() are about twice as fast as ECDH.computeSecret for P-384/P-521.
    // Importing the public key checks that it is on the curve; the result is the x-coordinate,
    // left-padded to the field size.
    dh: (sk, pk) => u8(diffieHellman({ privateKey: ecPrivateKey(group, sk), publicKey: ecPublicKey(group, pk) })),
    // Fresh keys are random scalars imported like any other (DhKem.generateKeyPair), not
    // generateKeyPairSync(): in Node 20, exporting a key made by it can deadlock when the GC
    // collects the key-generation job at that moment (both take the key's mutex).
    publicKey: (sk) => ecPublicOf(group, sk),
  };
}
