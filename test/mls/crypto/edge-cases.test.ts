/**
 * Known-bad and borderline inputs: both providers must give the same,
 * documented answer (MlsError code or false), never another exception.
 */
import { ed25519, ED25519_TORSION_SUBGROUP } from "@noble/curves/ed25519.js";
import { ed448 } from "@noble/curves/ed448.js";
import { p256 } from "@noble/curves/nist.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { concatBytes, fromHex, toHex, utf8Bytes } from "../../../mls/codec/bytes.js";
import { NIST } from "../../../mls/crypto/curves.js";
import { isAcceptableEdPublicKey } from "../../../mls/crypto/eddsa.js";
import { createKem } from "../../../mls/crypto/hpke.js";
import { KEMS } from "../../../mls/crypto/suites.js";
import { isMlsError, type MlsErrorCode } from "../../../mls/errors.js";
import { PROVIDERS } from "./providers.js";

function code(f: () => unknown): MlsErrorCode | "ok" | "other" {
  try {
    f();
    return "ok";
  } catch (e) {
    return isMlsError(e) ? e.code : "other";
  }
}

const E = new Uint8Array(0);
const MSG = utf8Bytes("edge case");

/** Minimal DER of SEQUENCE { INTEGER r, INTEGER s } for short (< 128 byte) contents. */
function derInt(v: bigint): Uint8Array {
  let hex = v.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = "00" + hex;
  const b = fromHex(hex);
  return concatBytes(new Uint8Array([0x02, b.length]), b);
}
function der(...parts: Uint8Array[]): Uint8Array {
  const body = concatBytes(...parts);
  return concatBytes(new Uint8Array([0x30, body.length]), body);
}
function parseDer(sig: Uint8Array): [bigint, bigint] {
  const rl = sig[3]!;
  const r = BigInt("0x" + toHex(sig.subarray(4, 4 + rl)));
  const sl = sig[5 + rl]!;
  const s = BigInt("0x" + toHex(sig.subarray(6 + rl, 6 + rl + sl)));
  return [r, s];
}

describe.each(PROVIDERS)("edge cases ($name)", ({ provider, prims }) => {
  describe("X25519 / X448", () => {
    const cs1 = provider.suite(1);
    const cs4 = provider.suite(4);
    const x25519LowOrder = [
      "0000000000000000000000000000000000000000000000000000000000000000", // 0
      "0100000000000000000000000000000000000000000000000000000000000000", // 1
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-1
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p+1, non-canonical 1
    ];
    it.each(x25519LowOrder)("low-order X25519 public key %s is InvalidKey", (hex) => {
      expect(code(() => cs1.hpke.seal(fromHex(hex), E, E, MSG))).toBe("InvalidKey");
      const kp = cs1.kem.generateKeyPair();
      expect(code(() => cs1.hpke.open(kp.privateKey, fromHex(hex), E, E, new Uint8Array(32)))).toBe("InvalidKey");
    });

    it("low-order X448 public keys are InvalidKey", () => {
      for (const hex of ["00".repeat(56), "01" + "00".repeat(55), "fe" + "ff".repeat(27) + "fe" + "ff".repeat(27)]) {
        expect(code(() => cs4.hpke.seal(fromHex(hex), E, E, MSG))).toBe("InvalidKey");
      }
    });

    it("wrong key lengths are InvalidKey", () => {
      expect(code(() => cs1.hpke.seal(new Uint8Array(31).fill(9), E, E, MSG))).toBe("InvalidKey");
      expect(code(() => cs1.kem.publicKey(new Uint8Array(33)))).toBe("InvalidKey");
      expect(code(() => cs4.kem.publicKey(new Uint8Array(32)))).toBe("InvalidKey");
    });

    it("the high bit of an X25519 u-coordinate is ignored (RFC 7748 §5)", () => {
      const kem = createKem(prims, KEMS.X25519);
      const a = kem.generateKeyPair();
      const b = kem.generateKeyPair();
      const high = b.publicKey.slice();
      high[31] |= 0x80;
      expect(toHex(kem.dh(a.privateKey, high))).toBe(toHex(kem.dh(a.privateKey, b.publicKey)));
    });
  });

  describe("NIST curves", () => {
    const cs2 = provider.suite(2);
    const cs5 = provider.suite(5);
    const good = cs2.kem.generateKeyPair();

    it("points that are compressed, hybrid, off-curve or out of range are InvalidKey", () => {
      const compressed = p256.Point.fromBytes(good.publicKey).toBytes(true);
      const hybrid = good.publicKey.slice();
      hybrid[0] = 0x06 | (good.publicKey[64]! & 1);
      const offCurve = good.publicKey.slice();
      offCurve[64] ^= 1;
      const xTooBig = concatBytes(new Uint8Array([4]), new Uint8Array(64).fill(0xff));
      for (const pk of [compressed, hybrid, offCurve, xTooBig, new Uint8Array(65)]) {
        expect(code(() => cs2.hpke.seal(pk, E, E, MSG))).toBe("InvalidKey");
        expect(code(() => cs2.hpke.open(good.privateKey, pk, E, E, new Uint8Array(16)))).toBe("InvalidKey");
        expect(cs2.signature.verify(pk, MSG, new Uint8Array(70))).toBe(false);
      }
    });

    // P-384 and P-521 public keys are imported through DER SubjectPublicKeyInfo, P-256 through JWK: both must refuse.
    it.each([
      [7, 97],
      [5, 133],
    ])("suite %i: off-curve, truncated and all-zero points are InvalidKey", (suite, npk) => {
      const cs = provider.suite(suite);
      const kp = cs.kem.generateKeyPair();
      const offCurve = kp.publicKey.slice();
      offCurve[npk - 1] ^= 1;
      const zero = new Uint8Array(npk);
      zero[0] = 4;
      for (const pk of [offCurve, zero, kp.publicKey.subarray(0, npk - 1)]) {
        expect(code(() => cs.hpke.seal(pk, E, E, MSG))).toBe("InvalidKey");
        expect(code(() => cs.hpke.open(kp.privateKey, pk, E, E, new Uint8Array(16)))).toBe("InvalidKey");
        expect(cs.signature.verify(pk, MSG, new Uint8Array(70))).toBe(false);
      }
      const ct = cs.hpke.seal(kp.publicKey, E, E, MSG);
      expect(cs.hpke.open(kp.privateKey, ct.enc, E, E, ct.ciphertext)).toEqual(MSG);
    });

    it("scalars 0, n and above are InvalidKey; n-1 is valid", () => {
      const n = NIST["P-256"].order;
      const nMinus1 = n.slice();
      nMinus1[31] -= 1;
      for (const sk of [new Uint8Array(32), n, new Uint8Array(32).fill(0xff)]) {
        expect(code(() => cs2.kem.publicKey(sk))).toBe("InvalidKey");
        expect(code(() => cs2.signature.sign(sk, MSG))).toBe("InvalidKey");
        expect(code(() => cs2.hpke.open(sk, good.publicKey, E, E, new Uint8Array(16)))).toBe("InvalidKey");
      }
      expect(cs2.kem.publicKey(nMinus1)).toHaveLength(65);
      const pk = cs2.signature.publicKey(nMinus1);
      expect(cs2.signature.verify(pk, MSG, cs2.signature.sign(nMinus1, MSG))).toBe(true);
    });

    it("P-521 private keys without their leading zero byte are accepted (as in the MLS vectors)", () => {
      let kp = cs5.kem.generateKeyPair();
      while (kp.privateKey[0] !== 0) kp = cs5.kem.generateKeyPair();
      const short = kp.privateKey.subarray(1);
      expect(toHex(cs5.kem.publicKey(short))).toBe(toHex(kp.publicKey));
      const sealed = cs5.hpke.seal(kp.publicKey, E, E, MSG);
      expect(toHex(cs5.hpke.open(short, sealed.enc, E, E, sealed.ciphertext))).toBe(toHex(MSG));
      expect(toHex(cs5.signature.publicKey(short))).toBe(toHex(cs5.signature.publicKey(kp.privateKey)));
      expect(code(() => cs5.kem.publicKey(concatBytes(new Uint8Array(1), kp.privateKey)))).toBe("InvalidKey");
    });

    it("ECDSA: high-S is accepted; non-DER, zero and out-of-range values are rejected", () => {
      const kp = cs2.signature.generateKeyPair();
      const sig = cs2.signature.sign(kp.privateKey, MSG);
      const [r, s] = parseDer(sig);
      const n = p256.Point.Fn.ORDER;
      const verify = (sg: Uint8Array): boolean => cs2.signature.verify(kp.publicKey, MSG, sg);
      expect(verify(der(derInt(r), derInt(s)))).toBe(true);
      expect(verify(der(derInt(r), derInt(n - s)))).toBe(true); // high-S (OpenSSL accepts it)
      expect(verify(concatBytes(sig, new Uint8Array([0])))).toBe(false); // trailing byte
      const rBytes = derInt(r).subarray(2);
      const padded = concatBytes(new Uint8Array([0x02, rBytes.length + 1, 0]), rBytes);
      expect(verify(der(padded, derInt(s)))).toBe(false); // non-minimal INTEGER
      const body = concatBytes(derInt(r), derInt(s));
      expect(verify(concatBytes(new Uint8Array([0x30, 0x81, body.length]), body))).toBe(false); // long-form length
      expect(verify(der(derInt(0n), derInt(s)))).toBe(false);
      expect(verify(der(derInt(r), derInt(0n)))).toBe(false);
      expect(verify(der(derInt(r + n), derInt(s)))).toBe(false);
      expect(verify(fromHex(toHex(numberBytes(r, 32)) + toHex(numberBytes(s, 32))))).toBe(false); // raw r||s
    });
  });

  describe("EdDSA", () => {
    const cs1 = provider.suite(1);
    const cs4 = provider.suite(4);
    const L = ed25519.Point.Fn.ORDER;

    it("small-order and non-canonical Ed25519 public keys never verify", () => {
      const anySig = concatBytes(fromHex("01" + "00".repeat(31)), new Uint8Array(32)); // R = identity, S = 0
      for (const t of ED25519_TORSION_SUBGROUP) {
        expect(cs1.signature.verify(fromHex(t), MSG, anySig)).toBe(false);
        // The same small-order point with the sign bit flipped (x = 0 points decode either way in OpenSSL).
        const flipped = fromHex(t);
        flipped[31] ^= 0x80;
        expect(cs1.signature.verify(flipped, MSG, anySig)).toBe(false);
      }
      const nonCanonical = fromHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"); // y = p+1
      expect(cs1.signature.verify(nonCanonical, MSG, anySig)).toBe(false);
    });

    it("S >= L is rejected", () => {
      const kp = cs1.signature.generateKeyPair();
      const sig = cs1.signature.sign(kp.privateKey, MSG);
      const s = bytesToNumberLE(sig.subarray(32));
      const big = concatBytes(sig.subarray(0, 32), numberToBytesLE(s + L, 32));
      expect(cs1.signature.verify(kp.publicKey, MSG, sig)).toBe(true);
      expect(cs1.signature.verify(kp.publicKey, MSG, big)).toBe(false);
    });

    it("mixed-order keys: the cofactorless equation decides, as in OpenSSL", () => {
      // A' = A + T (T of order 8); signatures made with A's scalar satisfy the cofactored
      // equation always, the cofactorless one only when [k]T = 0.
      const seed = cs1.randomBytes(32);
      const { scalar } = ed25519.utils.getExtendedPublicKey(seed);
      const T = ed25519.Point.fromBytes(fromHex(ED25519_TORSION_SUBGROUP[1]!));
      const A2 = ed25519.Point.BASE.multiply(scalar).add(T).toBytes();
      let cofactoredOnly = 0;
      for (let i = 0; i < 16; i++) {
        const msg = utf8Bytes(`message ${i}`);
        const rr = ed25519.Point.Fn.create(bytesToNumberLE(cs1.randomBytes(64)));
        const R = ed25519.Point.BASE.multiply(rr).toBytes();
        const k = ed25519.Point.Fn.create(bytesToNumberLE(sha512(concatBytes(R, A2, msg))));
        const S = ed25519.Point.Fn.create(rr + k * scalar);
        const sig = concatBytes(R, numberToBytesLE(S, 32));
        const cofactored = ed25519.verify(sig, msg, A2, { zip215: false });
        const ours = cs1.signature.verify(A2, msg, sig);
        expect(cofactored).toBe(true);
        expect(ours).toBe(k % 8n === 0n);
        if (!ours) cofactoredOnly++;
      }
      expect(cofactoredOnly).toBeGreaterThan(0);
    });

    it("small-order Ed448 public keys never verify", () => {
      const anySig = concatBytes(fromHex("01" + "00".repeat(56)), new Uint8Array(57));
      for (const y of ["01" + "00".repeat(56), "fe" + "ff".repeat(27) + "fe" + "ff".repeat(27) + "00", "00".repeat(57)]) {
        expect(cs4.signature.verify(fromHex(y), MSG, anySig)).toBe(false);
      }
      const kp = cs4.signature.generateKeyPair();
      expect(cs4.signature.verify(kp.publicKey, MSG, cs4.signature.sign(kp.privateKey, MSG))).toBe(true);
      expect(ed448.verify(cs4.signature.sign(kp.privateKey, MSG), MSG, kp.publicKey)).toBe(true);
    });
  });

  describe("AEAD and KDF", () => {
    const cs = provider.suite(1);

    it("rejects bad key/nonce lengths and short or tampered ciphertexts", () => {
      const k = new Uint8Array(16);
      const n = new Uint8Array(12);
      expect(code(() => cs.aead.seal(new Uint8Array(15), n, E, MSG))).toBe("InvalidKey");
      expect(code(() => cs.aead.seal(k, new Uint8Array(11), E, MSG))).toBe("InvalidValue");
      expect(code(() => cs.aead.open(k, n, E, new Uint8Array(15)))).toBe("DecryptionFailed");
      const ct = cs.aead.seal(k, n, E, MSG);
      ct[ct.length - 1] ^= 1;
      expect(code(() => cs.aead.open(k, n, E, ct))).toBe("DecryptionFailed");
      expect(toHex(cs.aead.open(k, n, E, cs.aead.seal(k, n, E, E)))).toBe("");
    });

    it("HKDF matches RFC 5869 test cases 1 and 3", () => {
      const ikm = new Uint8Array(22).fill(0x0b);
      const prk1 = cs.kdf.extract(fromHex("000102030405060708090a0b0c"), ikm);
      expect(toHex(prk1)).toBe("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
      expect(toHex(cs.kdf.expand(prk1, fromHex("f0f1f2f3f4f5f6f7f8f9"), 42))).toBe(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
      );
      const prk3 = cs.kdf.extract(E, ikm);
      expect(toHex(prk3)).toBe("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
      expect(toHex(cs.kdf.expand(prk3, E, 42))).toBe(
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
      );
      // One block (L <= Nh, the path every MLS derivation takes) is the prefix of the longer output.
      const okm1 = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf";
      for (const l of [1, 12, 16, 31, 32]) expect(toHex(cs.kdf.expand(prk1, fromHex("f0f1f2f3f4f5f6f7f8f9"), l))).toBe(okm1.slice(0, 2 * l));
      expect(cs.kdf.expand(prk1, E, 0)).toHaveLength(0);
      expect(code(() => cs.kdf.expand(prk3, E, 255 * 32 + 1))).toBe("InvalidValue");
      expect(cs.kdf.expand(prk3, E, 255 * 32)).toHaveLength(255 * 32);
    });

    it("randomBytes gives the requested lengths", () => {
      for (const n of [0, 1, 32, 257, 5000, 70000]) expect(cs.randomBytes(n)).toHaveLength(n);
      expect(toHex(cs.randomBytes(32))).not.toBe(toHex(cs.randomBytes(32)));
    });

    it("unknown suites are UnsupportedCipherSuite", () => {
      expect(code(() => provider.suite(0))).toBe("UnsupportedCipherSuite");
      expect(code(() => provider.suite(8))).toBe("UnsupportedCipherSuite");
      expect(provider.suites).toEqual([1, 2, 3, 4, 5, 6, 7]);
    });
  });
});

describe("EdDSA public-key policy", () => {
  it("lists exactly the small-order Ed25519 points", () => {
    for (const t of ED25519_TORSION_SUBGROUP) expect(isAcceptableEdPublicKey("Ed25519", fromHex(t))).toBe(false);
    expect(isAcceptableEdPublicKey("Ed25519", ed25519.getPublicKey(new Uint8Array(32)))).toBe(true);
  });

  it("lists exactly the small-order Ed448 points", () => {
    for (const y of ["01" + "00".repeat(56), "fe" + "ff".repeat(27) + "fe" + "ff".repeat(27) + "00", "00".repeat(57)]) {
      expect(ed448.Point.fromBytes(fromHex(y)).isSmallOrder()).toBe(true);
      expect(isAcceptableEdPublicKey("Ed448", fromHex(y))).toBe(false);
    }
    expect(isAcceptableEdPublicKey("Ed448", ed448.getPublicKey(new Uint8Array(57)))).toBe(true);
  });
});

function numberBytes(v: bigint, len: number): Uint8Array {
  return fromHex(v.toString(16).padStart(len * 2, "0"));
}
