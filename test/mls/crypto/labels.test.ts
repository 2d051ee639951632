/** RFC 9420 §5/§8 helpers: the crypto-basics vectors with both providers, plus bounds. */
import { describe, expect, it } from "vitest";
import { toHex, utf8Bytes } from "../../../mls/codec/bytes.js";
import {
  decryptWithLabel,
  deriveSecret,
  deriveTreeSecret,
  encryptWithLabel,
  encryptWithSharedContext,
  expandWithLabel,
  refHash,
  signWithLabel,
  signWithLabelIn,
  verifyEncodedWithLabel,
  verifyWithLabel,
} from "../../../mls/crypto/labels.js";
import { Writer } from "../../../mls/codec/writer.js";
import { isMlsError } from "../../../mls/errors.js";
import check from "../../vectors/checks/crypto-basics.js";
import { loadVectorFile } from "../../vectors/load.js";
import { PROVIDERS } from "./providers.js";

describe.each(PROVIDERS)("labeled helpers ($name)", ({ provider }) => {
  it("pass every crypto-basics.json entry", () => {
    const entries = loadVectorFile("crypto-basics.json");
    expect(entries).toHaveLength(7);
    for (const e of entries) check.check(e, provider);
  });

  const cs = provider.suite(1);
  const secret = new Uint8Array(32).fill(3);

  it("accept byte-string labels equal to their UTF-8 strings", () => {
    expect(toHex(expandWithLabel(cs, secret, utf8Bytes("key"), new Uint8Array(0), 16))).toBe(
      toHex(expandWithLabel(cs, secret, "key", new Uint8Array(0), 16)),
    );
    expect(toHex(refHash(cs, utf8Bytes("MLS 1.0 Proposal Reference"), secret))).toBe(
      toHex(refHash(cs, "MLS 1.0 Proposal Reference", secret)),
    );
  });

  it("check KDFLabel.length and generation bounds", () => {
    const fails = (f: () => unknown): boolean => {
      try {
        f();
        return false;
      } catch (e) {
        return isMlsError(e, "InvalidValue");
      }
    };
    expect(fails(() => expandWithLabel(cs, secret, "x", new Uint8Array(0), 0x10000))).toBe(true);
    expect(fails(() => expandWithLabel(cs, secret, "x", new Uint8Array(0), -1))).toBe(true);
    expect(fails(() => deriveTreeSecret(cs, secret, "x", 2 ** 32, 16))).toBe(true);
    expect(deriveTreeSecret(cs, secret, "x", 2 ** 32 - 1, 16)).toHaveLength(16);
    expect(deriveSecret(cs, secret, "x")).toHaveLength(32);
  });

  it("bind the label in signatures and encryptions", () => {
    const kp = cs.signature.generateKeyPair();
    const content = utf8Bytes("content");
    const sig = signWithLabel(cs, kp.privateKey, "A", content);
    expect(verifyWithLabel(cs, kp.publicKey, "A", content, sig)).toBe(true);
    expect(verifyWithLabel(cs, kp.publicKey, "B", content, sig)).toBe(false);

    const hk = cs.kem.generateKeyPair();
    const ct = encryptWithLabel(cs, hk.publicKey, "A", content, content);
    expect(toHex(decryptWithLabel(cs, hk.privateKey, "A", content, ct.kemOutput, ct.ciphertext))).toBe(toHex(content));
    let err: unknown;
    try {
      decryptWithLabel(cs, hk.privateKey, "B", content, ct.kemOutput, ct.ciphertext);
    } catch (e) {
      err = e;
    }
    expect(isMlsError(err, "DecryptionFailed")).toBe(true);
  });

  it("EncryptWithLabel and SignWithLabel in place equal their §5.1 definitions, for small and large contents", () => {
    const hk = cs.kem.generateKeyPair();
    const kp = cs.signature.generateKeyPair();
    // EncryptContext and SignContent: struct { opaque label<V>; opaque content<V>; } with label "MLS 1.0 " + Label.
    const labeled = (label: string, content: Uint8Array) => new Writer(8).opaque(utf8Bytes("MLS 1.0 " + label)).opaque(content).finish();
    for (const size of [0, 100, 4095, 4096, 70000]) {
      const context = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff);
      const ct = encryptWithLabel(cs, hk.publicKey, "Welcome", context, utf8Bytes("secrets"));
      const opened = cs.hpke.open(hk.privateKey, ct.kemOutput, labeled("Welcome", context), new Uint8Array(0), ct.ciphertext);
      expect(toHex(opened)).toBe(toHex(utf8Bytes("secrets")));
      const w = new Writer(4).u8(0xee);
      const { signature, contentLength } = signWithLabelIn(cs, kp.privateKey, "GroupInfoTBS", w, () => w.raw(context));
      expect(contentLength).toBe(size);
      expect(cs.signature.verify(kp.publicKey, labeled("GroupInfoTBS", context), signature)).toBe(true);
      expect(verifyEncodedWithLabel(cs, kp.publicKey, "GroupInfoTBS", (w, c: Uint8Array) => w.raw(c), context, signature)).toBe(true);
      expect(toHex(w.viewSince(0).subarray(0, 1))).toBe("ee");
    }
  });

  it("EncryptWithLabel and HPKE follow an array's contents when the caller reuses it with new bytes", () => {
    const hk = cs.kem.generateKeyPair();
    const labeled = (label: string, content: Uint8Array) => new Writer(8).opaque(utf8Bytes("MLS 1.0 " + label)).opaque(content).finish();
    const open = (ct: { kemOutput: Uint8Array; ciphertext: Uint8Array }, info: Uint8Array) =>
      toHex(cs.hpke.open(hk.privateKey, ct.kemOutput, info, new Uint8Array(0), ct.ciphertext));
    for (const size of [32, 5000]) {
      const context = new Uint8Array(size).fill(1);
      const first = encryptWithLabel(cs, hk.publicKey, "Welcome", context, utf8Bytes("one"));
      const firstInfo = labeled("Welcome", context);
      context.fill(2); // the same array, new contents
      const second = encryptWithLabel(cs, hk.publicKey, "Welcome", context, utf8Bytes("two"));
      expect(open(second, labeled("Welcome", context))).toBe(toHex(utf8Bytes("two")));
      expect(toHex(decryptWithLabel(cs, hk.privateKey, "Welcome", context, second.kemOutput, second.ciphertext))).toBe(toHex(utf8Bytes("two")));
      context.fill(1);
      expect(toHex(decryptWithLabel(cs, hk.privateKey, "Welcome", context, first.kemOutput, first.ciphertext))).toBe(toHex(utf8Bytes("one")));
      expect(open(first, firstInfo)).toBe(toHex(utf8Bytes("one")));
    }
    // HPKE itself: one info array sealed to, changed in place, sealed to again.
    const info = new Uint8Array(64).fill(5);
    const a = cs.hpke.seal(hk.publicKey, info, new Uint8Array(0), utf8Bytes("a"));
    const infoA = info.slice();
    info[0] = 6;
    const b = cs.hpke.seal(hk.publicKey, info, new Uint8Array(0), utf8Bytes("b"));
    expect(open({ kemOutput: b.enc, ciphertext: b.ciphertext }, info.slice())).toBe(toHex(utf8Bytes("b")));
    expect(open({ kemOutput: a.enc, ciphertext: a.ciphertext }, infoA)).toBe(toHex(utf8Bytes("a")));
  });

  it("EncryptWithLabel with a shared context gives what each recipient decrypts, under the label asked for", () => {
    const recipients = [cs.kem.generateKeyPair(), cs.kem.generateKeyPair(), cs.kem.generateKeyPair()];
    for (const size of [100, 70000]) {
      const context = Uint8Array.from({ length: size }, (_, i) => (i * 13) & 0xff);
      for (const label of ["Welcome", "UpdatePathNode", "Welcome"]) {
        recipients.forEach((r, i) => {
          const ct = encryptWithSharedContext(cs, r.publicKey, label, context, utf8Bytes(`${label} ${i}`));
          expect(toHex(decryptWithLabel(cs, r.privateKey, label, context, ct.kemOutput, ct.ciphertext))).toBe(toHex(utf8Bytes(`${label} ${i}`)));
          const other = label === "Welcome" ? "UpdatePathNode" : "Welcome";
          expect(() => decryptWithLabel(cs, r.privateKey, other, context, ct.kemOutput, ct.ciphertext)).toThrow();
        });
      }
    }
  });
});
