/** HKDF (RFC 5869) built once on top of a provider's HMAC. */
import { fail } from "../errors.js";
import type { HashFns, KdfFns } from "./provider.js";

export function makeKdf(hash: HashFns): KdfFns {
  const nh = hash.size;
  const zeroSalt = new Uint8Array(nh);
  return {
    nh,
    // §2.2: PRK = HMAC-Hash(salt, IKM); an absent salt is HashLen zero bytes.
    extract: (salt, ikm) => hash.mac(salt.length === 0 ? zeroSalt : salt, ikm),
    // §2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), L <= 255*HashLen.
    expand(prk, info, length) {
      if (!Number.isInteger(length) || length < 0 || length > 255 * nh) {
        fail("InvalidValue", `HKDF-Expand length ${length} (max ${255 * nh})`);
      }
      if (length === 0) return new Uint8Array(0);
      if (length <= nh) {
        // One block, T(1) = HMAC(PRK, info | 0x01): all that MLS's and HPKE's derivations need (L <= Nh).
        const input = new Uint8Array(info.length + 1);
        input.set(info, 0);
        input[info.length] = 1;
        const t = hash.mac(prk, input);
        return length === nh ? t : t.slice(0, length);
      }
      const out = new Uint8Array(length);
      const input = new Uint8Array(nh + info.length + 1);
      let t: Uint8Array = new Uint8Array(0);
      for (let i = 1, pos = 0; pos < length; i++) {
        // T(i-1) | info | i, where T(0) is empty.
        const start = i === 1 ? nh : 0;
        input.set(t, 0);
        input.set(info, nh);
        input[input.length - 1] = i;
        t = hash.mac(prk, input.subarray(start));
        const n = Math.min(nh, length - pos);
        out.set(n === nh ? t : t.subarray(0, n), pos);
        pos += n;
      }
      return out;
    },
  };
}
