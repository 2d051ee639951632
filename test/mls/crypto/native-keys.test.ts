// The native provider remembers imported private keys by array identity and
// by content (mls/crypto/native/keys.ts). Whatever array a key arrives in,
// and however an array is changed in place, results follow the bytes: the
// portable provider, which caches nothing, is the reference.

import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { forgetPrivateKeysByContent } from "../../../mls/crypto/native/keys.js";
import { nativePrimitives } from "../../../mls/crypto/native/primitives.js";
import { noblePrimitives } from "../../../mls/crypto/noble/primitives.js";
import type { DhGroup } from "../../../mls/crypto/suites.js";

// X25519 clamps; NIST scalars below the order (a leading zero byte keeps them there).
const SIZES: Record<"X25519" | "P-256" | "P-384", number> = { X25519: 32, "P-256": 32, "P-384": 48 };

function scalar(group: keyof typeof SIZES, seed: Uint8Array): Uint8Array {
  const sk = seed.slice(0, SIZES[group]);
  if (group !== "X25519") {
    sk[0] = 0;
    sk[sk.length - 1] |= 1; // never zero
  }
  return sk;
}

describe("native private-key caches", () => {
  for (const group of Object.keys(SIZES) as (keyof typeof SIZES)[]) {
    it(`${group}: copies, in-place changes and forgetting never give a stale key`, () => {
      const native = nativePrimitives.dh(group as DhGroup);
      const noble = noblePrimitives.dh(group as DhGroup);
      const peer = noble.publicKey(scalar(group, new Uint8Array(48).fill(7)));
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 48, maxLength: 48 }), fc.uint8Array({ minLength: 48, maxLength: 48 }), fc.boolean(), (a, b, forget) => {
          const ka = scalar(group, a);
          const kb = scalar(group, b);
          const expectA = { pub: noble.publicKey(ka), dh: noble.dh(ka, peer) };
          const expectB = { pub: noble.publicKey(kb), dh: noble.dh(kb, peer) };
          // The key, then a copy of it (found by content).
          expect(native.publicKey(ka)).toEqual(expectA.pub);
          expect(native.dh(ka.slice(), peer)).toEqual(expectA.dh);
          if (forget) forgetPrivateKeysByContent();
          // The same array changed in place to another key, then back.
          const arr = ka.slice();
          expect(native.dh(arr, peer)).toEqual(expectA.dh);
          arr.set(kb);
          expect(native.dh(arr, peer)).toEqual(expectB.dh);
          expect(native.publicKey(arr)).toEqual(expectB.pub);
          arr.set(ka);
          expect(native.publicKey(arr)).toEqual(expectA.pub);
        }),
        { numRuns: group === "P-384" ? 15 : 40 },
      );
    });
  }
});
