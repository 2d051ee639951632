/** AeadFns over a provider's AEAD primitive, with the checks of RFC 5116 / RFC 9180 §7.3. */
import { fail } from "../errors.js";
import type { AeadFns } from "./provider.js";
import { guard, type AeadPrimitive } from "./primitives.js";
import type { AeadParams } from "./suites.js";

export function makeAead(params: AeadParams, prim: AeadPrimitive): AeadFns {
  const { nk, nn, nt, name } = params;
  const check = (key: Uint8Array, nonce: Uint8Array): void => {
    if (key.length !== nk) fail("InvalidKey", `${name} key of ${key.length} bytes, expected ${nk}`);
    if (nonce.length !== nn) fail("InvalidValue", `${name} nonce of ${nonce.length} bytes, expected ${nn}`);
  };
  return {
    nk,
    nn,
    seal(key, nonce, aad, plaintext) {
      check(key, nonce);
      return guard("InvalidValue", `${name} seal`, () => prim.seal(key, nonce, aad, plaintext));
    },
    open(key, nonce, aad, ciphertext) {
      check(key, nonce);
      if (ciphertext.length < nt) fail("DecryptionFailed", `${name} ciphertext shorter than the tag`);
      return guard("DecryptionFailed", `${name} open`, () => prim.open(key, nonce, aad, ciphertext));
    },
  };
}
