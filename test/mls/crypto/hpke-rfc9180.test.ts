/**
 * HPKE base mode against RFC 9180 Appendix A (every base-mode section whose
 * KEM, KDF and AEAD are implemented), with both providers.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { concatBytes, fromHex, toHex, utf8Bytes } from "../../../mls/codec/bytes.js";
import { createHpke, createHpkeInternal } from "../../../mls/crypto/hpke.js";
import { aeadParams, kdfParams, kemParams } from "../../../mls/crypto/suites.js";
import { isMlsError } from "../../../mls/errors.js";
import { PROVIDERS } from "./providers.js";

interface Vector {
  name: string;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  [hex: string]: unknown;
  encryptions: { seq: number; pt: string; aad: string; nonce: string; ct: string }[];
  exports: { exporter_context: string; L: number; exported_value: string }[];
}

const fixture = JSON.parse(readFileSync(new URL("./fixtures/rfc9180-base.json", import.meta.url), "utf8")) as {
  vectors: Vector[];
};
const u16be = (n: number): Uint8Array => new Uint8Array([n >> 8, n & 0xff]);
const h = (v: Vector, k: string): Uint8Array => fromHex(v[k] as string);

describe.each(PROVIDERS)("RFC 9180 base mode ($name)", ({ prims }) => {
  it("covers the MLS combinations", () => {
    const names = fixture.vectors.map((v) => v.name);
    expect(names).toContain("DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM");
    expect(names).toContain("DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305");
    expect(names).toContain("DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM");
    expect(names).toContain("DHKEM(P-521, HKDF-SHA512), HKDF-SHA512, AES-256-GCM");
  });

  for (const v of fixture.vectors) {
    describe(v.name, () => {
      const params = [kemParams(v.kem_id), kdfParams(v.kdf_id), aeadParams(v.aead_id)] as const;
      const ephemeral = () => sender.kem.deriveKeyPair(h(v, "ikmE"));
      const sender = createHpkeInternal(prims, ...params, ephemeral);
      const receiver = createHpke(prims, ...params);

      it("DeriveKeyPair gives pkEm/skEm and pkRm/skRm", () => {
        const e = sender.kem.deriveKeyPair(h(v, "ikmE"));
        expect(toHex(e.privateKey)).toBe(v["skEm"]);
        expect(toHex(e.publicKey)).toBe(v["pkEm"]);
        const r = receiver.kem.deriveKeyPair(h(v, "ikmR"));
        expect(toHex(r.privateKey)).toBe(v["skRm"]);
        expect(toHex(r.publicKey)).toBe(v["pkRm"]);
        expect(toHex(receiver.kem.publicKey(h(v, "skRm")))).toBe(v["pkRm"]);
      });

      it("Encap/Decap give enc and shared_secret", () => {
        const { enc, sharedSecret } = sender.kem.encap(h(v, "pkRm"));
        expect(toHex(enc)).toBe(v["enc"]);
        expect(toHex(sharedSecret)).toBe(v["shared_secret"]);
        expect(toHex(receiver.kem.decap(h(v, "enc"), h(v, "skRm")))).toBe(v["shared_secret"]);
      });

      it("the key schedule gives key, base_nonce and exporter_secret", () => {
        const { ctx } = sender.setupS(h(v, "pkRm"), h(v, "info"));
        expect(toHex(ctx.key)).toBe(v["key"]);
        expect(toHex(ctx.baseNonce)).toBe(v["base_nonce"]);
        expect(toHex(ctx.exporterSecret)).toBe(v["exporter_secret"]);
      });

      it("LabeledExtract over a large input (hashed in parts) is the RFC 9180 §4 definition", () => {
        const suiteId = concatBytes(utf8Bytes("HPKE"), u16be(v.kem_id), u16be(v.kdf_id), u16be(v.aead_id));
        for (const size of [0, 4095, 4096, 20000]) {
          const ikm = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff);
          const direct = sender.labeled.kdf.extract(h(v, "info"), concatBytes(utf8Bytes("HPKE-v1"), suiteId, utf8Bytes("info_hash"), ikm));
          expect(toHex(sender.labeled.extract(h(v, "info"), utf8Bytes("info_hash"), ikm))).toBe(toHex(direct));
          // An info in parts is the info concatenated.
          const parts = [ikm.subarray(0, size >> 1), ikm.subarray(size >> 1)];
          expect(toHex(sender.setupS(h(v, "pkRm"), parts).ctx.key)).toBe(toHex(sender.setupS(h(v, "pkRm"), ikm.slice()).ctx.key));
        }
      });

      it("the sequence of encryptions matches, and decrypts", () => {
        const { enc, ctx } = sender.setupS(h(v, "pkRm"), h(v, "info"));
        expect(toHex(enc)).toBe(v["enc"]);
        const rctx = receiver.setupR(h(v, "enc"), h(v, "skRm"), h(v, "info"));
        let seq = 0;
        for (const e of v.encryptions) {
          // Advance both contexts to the vector's sequence number.
          for (; seq < e.seq; seq++) {
            const ct = ctx.seal(new Uint8Array(0), new Uint8Array(0));
            rctx.open(new Uint8Array(0), ct);
          }
          expect(toHex(ctx.seal(fromHex(e.aad), fromHex(e.pt)))).toBe(e.ct);
          expect(toHex(rctx.open(fromHex(e.aad), fromHex(e.ct)))).toBe(e.pt);
          seq++;
        }
      });

      it("single-shot seal/open at sequence 0", () => {
        const e0 = v.encryptions.find((e) => e.seq === 0)!;
        const sealed = sender.seal(h(v, "pkRm"), h(v, "info"), fromHex(e0.aad), fromHex(e0.pt));
        expect(toHex(sealed.enc)).toBe(v["enc"]);
        expect(toHex(sealed.ciphertext)).toBe(e0.ct);
        const pt = receiver.open(h(v, "skRm"), h(v, "enc"), h(v, "info"), fromHex(e0.aad), fromHex(e0.ct));
        expect(toHex(pt)).toBe(e0.pt);
        // A wrong aad fails authentication.
        let err: unknown;
        try {
          receiver.open(h(v, "skRm"), h(v, "enc"), h(v, "info"), fromHex("00"), fromHex(e0.ct));
        } catch (e) {
          err = e;
        }
        expect(isMlsError(err, "DecryptionFailed")).toBe(true);
      });

      it("exported values match (sender and receiver)", () => {
        for (const x of v.exports) {
          const ctx = fromHex(x.exporter_context);
          const s = sender.sendExport(h(v, "pkRm"), h(v, "info"), ctx, x.L);
          expect(toHex(s.enc)).toBe(v["enc"]);
          expect(toHex(s.secret)).toBe(x.exported_value);
          expect(toHex(receiver.receiveExport(h(v, "skRm"), h(v, "enc"), h(v, "info"), ctx, x.L))).toBe(
            x.exported_value,
          );
        }
      });
    });
  }
});
