/**
 * Property tests: for every suite, the native and noble providers agree and
 * interoperate, reject tampering, and fail only with the documented errors.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, toHex } from "../../../mls/codec/bytes.js";
import type { CipherSuite } from "../../../mls/crypto/provider.js";
import { SUITES } from "../../../mls/crypto/suites.js";
import { isMlsError, type MlsErrorCode } from "../../../mls/errors.js";
import { PROVIDERS } from "./providers.js";

const [NATIVE, NOBLE] = PROVIDERS.map((p) => p.provider) as [(typeof PROVIDERS)[0]["provider"], (typeof PROVIDERS)[1]["provider"]];

// P-384/P-521 operations cost milliseconds: fewer runs for the 256-bit suites.
const runs = (id: number): number => (id === 5 || id === 7 ? 8 : 20);

const bytes = (max = 200): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 0, maxLength: max });

/** The MlsError code `f` throws, "ok" when it returns, or "other: ..." for any other exception. */
function outcome(f: () => unknown): MlsErrorCode | "ok" | `other: ${string}` {
  try {
    f();
    return "ok";
  } catch (e) {
    if (isMlsError(e)) return e.code;
    return `other: ${String(e)}`;
  }
}

function flip(b: Uint8Array, index: number, bit: number): Uint8Array {
  const c = b.slice();
  c[index % c.length]! ^= 1 << bit % 8;
  return c;
}

describe.each(SUITES.map((s) => [s.id, s.name] as const))("suite %i %s", (id) => {
  const pairs: [string, CipherSuite, CipherSuite][] = [
    ["native -> noble", NATIVE.suite(id), NOBLE.suite(id)],
    ["noble -> native", NOBLE.suite(id), NATIVE.suite(id)],
  ];
  const numRuns = runs(id);

  it("DeriveKeyPair and public keys agree", () => {
    fc.assert(
      fc.property(bytes(80), (ikm) => {
        const a = NATIVE.suite(id).kem.deriveKeyPair(ikm);
        const b = NOBLE.suite(id).kem.deriveKeyPair(ikm);
        expect(toHex(a.privateKey)).toBe(toHex(b.privateKey));
        expect(toHex(a.publicKey)).toBe(toHex(b.publicKey));
        expect(toHex(NOBLE.suite(id).kem.publicKey(a.privateKey))).toBe(toHex(a.publicKey));
      }),
      { numRuns },
    );
  });

  it("hash, MAC, KDF and AEAD agree", () => {
    const [a, b] = [NATIVE.suite(id), NOBLE.suite(id)];
    fc.assert(
      fc.property(bytes(3000), bytes(300), fc.integer({ min: 0, max: 255 * a.kdf.nh }), (data, key, len) => {
        expect(toHex(a.hash.digest(data))).toBe(toHex(b.hash.digest(data)));
        expect(toHex(a.hash.mac(key, data))).toBe(toHex(b.hash.mac(key, data)));
        expect(toHex(a.kdf.extract(key, data))).toBe(toHex(b.kdf.extract(key, data)));
        const prk = a.kdf.extract(key, data);
        expect(toHex(a.kdf.expand(prk, key, len))).toBe(toHex(b.kdf.expand(prk, key, len)));
        const k = a.randomBytes(a.aead.nk);
        const n = a.randomBytes(a.aead.nn);
        const ct = a.aead.seal(k, n, key, data);
        expect(toHex(b.aead.seal(k, n, key, data))).toBe(toHex(ct));
        expect(toHex(b.aead.open(k, n, key, ct))).toBe(toHex(data));
      }),
      { numRuns },
    );
  });

  it.each(pairs)("HPKE seal/open and export interoperate (%s)", (_, from, to) => {
    const recipient = to.kem.generateKeyPair();
    fc.assert(
      fc.property(bytes(), bytes(), bytes(), (info, aad, pt) => {
        const { enc, ciphertext } = from.hpke.seal(recipient.publicKey, info, aad, pt);
        expect(enc.length).toBe(from.kem.nenc);
        expect(ciphertext.length).toBe(pt.length + 16);
        expect(toHex(to.hpke.open(recipient.privateKey, enc, info, aad, ciphertext))).toBe(toHex(pt));
        const x = from.hpke.sendExport(recipient.publicKey, info, aad, 42);
        expect(toHex(to.hpke.receiveExport(recipient.privateKey, x.enc, info, aad, 42))).toBe(toHex(x.secret));
      }),
      { numRuns },
    );
  });

  it.each(pairs)("MAC, HKDF-Extract and HPKE info given in parts equal the concatenated bytes (%s)", (_, from, to) => {
    const recipient = to.kem.generateKeyPair();
    // Parts up to 6000 bytes: past the 4096 where a labeled extract stops concatenating.
    fc.assert(
      fc.property(fc.array(bytes(3000), { maxLength: 4 }), bytes(64), bytes(), (parts, key, pt) => {
        const whole = concatBytes(...parts);
        expect(toHex(from.hash.mac(key, parts))).toBe(toHex(to.hash.mac(key, whole)));
        expect(toHex(from.kdf.extract(key, parts))).toBe(toHex(to.kdf.extract(key, whole)));
        const { enc, ciphertext } = from.hpke.seal(recipient.publicKey, parts, key, pt);
        expect(toHex(to.hpke.open(recipient.privateKey, enc, whole, key, ciphertext))).toBe(toHex(pt));
        const x = to.hpke.sendExport(recipient.publicKey, whole, key, 32);
        expect(toHex(from.hpke.receiveExport(recipient.privateKey, x.enc, parts, key, 32))).toBe(toHex(x.secret));
      }),
      { numRuns: Math.ceil(numRuns / 2) },
    );
  });

  it.each(pairs)("tampered HPKE ciphertexts are rejected (%s)", (_, from, to) => {
    const recipient = to.kem.generateKeyPair();
    fc.assert(
      fc.property(bytes(64), fc.nat(), fc.nat(7), fc.boolean(), (pt, index, bit, inEnc) => {
        const { enc, ciphertext } = from.hpke.seal(recipient.publicKey, new Uint8Array(0), new Uint8Array(0), pt);
        const [e, c] = inEnc ? [flip(enc, index, bit), ciphertext] : [enc, flip(ciphertext, index, bit)];
        const r = outcome(() => to.hpke.open(recipient.privateKey, e, new Uint8Array(0), new Uint8Array(0), c));
        // A flipped enc may still be a valid point (then the AEAD fails) or not (InvalidKey).
        expect(inEnc ? ["DecryptionFailed", "InvalidKey"] : ["DecryptionFailed"]).toContain(r);
      }),
      { numRuns },
    );
  });

  it.each(pairs)("signatures interoperate (%s)", (_, from, to) => {
    const kp = from.signature.generateKeyPair();
    expect(toHex(to.signature.publicKey(kp.privateKey))).toBe(toHex(kp.publicKey));
    fc.assert(
      fc.property(bytes(), (msg) => {
        const sig = from.signature.sign(kp.privateKey, msg);
        expect(to.signature.verify(kp.publicKey, msg, sig)).toBe(true);
        expect(from.signature.verify(kp.publicKey, msg, sig)).toBe(true);
      }),
      { numRuns },
    );
  });

  it.each(pairs)("tampered signatures and messages are rejected (%s)", (_, from, to) => {
    const kp = from.signature.generateKeyPair();
    fc.assert(
      fc.property(bytes(64), fc.nat(), fc.nat(7), fc.boolean(), (msg, index, bit, inSig) => {
        const sig = from.signature.sign(kp.privateKey, msg);
        if (inSig) {
          expect(to.signature.verify(kp.publicKey, msg, flip(sig, index, bit))).toBe(false);
        } else {
          const m = msg.length === 0 ? new Uint8Array([1 << bit]) : flip(msg, index, bit);
          expect(to.signature.verify(kp.publicKey, m, sig)).toBe(false);
        }
      }),
      { numRuns },
    );
  });

  it.each(PROVIDERS)("garbage keys give InvalidKey or false, never another exception ($name)", ({ provider }) => {
    const cs = provider.suite(id);
    const good = cs.kem.generateKeyPair();
    const sig = cs.signature.generateKeyPair();
    const garbage = fc.oneof(
      bytes(140),
      fc.uint8Array({ minLength: cs.kem.npk, maxLength: cs.kem.npk }),
      fc.uint8Array({ minLength: cs.kem.nsk, maxLength: cs.kem.nsk }),
      fc.constantFrom(new Uint8Array(cs.kem.npk), new Uint8Array(cs.kem.nsk).fill(0xff)),
    );
    const e = new Uint8Array(0);
    fc.assert(
      fc.property(garbage, bytes(120), (g, other) => {
        const ok = ["ok", "InvalidKey"];
        expect(ok).toContain(outcome(() => cs.hpke.seal(g, e, e, e)));
        expect(ok).toContain(outcome(() => cs.kem.publicKey(g)));
        expect(ok).toContain(outcome(() => cs.hpke.sendExport(g, e, e, 16)));
        expect(["InvalidKey", "DecryptionFailed"]).toContain(outcome(() => cs.hpke.open(g, good.publicKey, e, e, other)));
        expect(["InvalidKey", "DecryptionFailed"]).toContain(outcome(() => cs.hpke.open(good.privateKey, g, e, e, other)));
        expect(ok).toContain(outcome(() => cs.hpke.receiveExport(good.privateKey, g, e, e, 16)));
        expect(ok).toContain(outcome(() => cs.signature.publicKey(g)));
        expect(ok).toContain(outcome(() => cs.signature.sign(g, other)));
        expect(cs.signature.verify(g, other, other)).toBe(false);
        expect(cs.signature.verify(sig.publicKey, other, g)).toBe(false);
      }),
      { numRuns },
    );
  });
});
