/** crypto-basics.json: RFC 9420 §5 and §8 helpers (README-test-vectors.md, "Crypto Basics"). */
import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import {
  decryptWithLabel,
  deriveSecret,
  deriveTreeSecret,
  encryptWithLabel,
  expandWithLabel,
  refHash,
  signWithLabel,
  verifyWithLabel,
} from "../../../mls/crypto/labels.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

function expectBytes(what: string, got: Uint8Array, want: Uint8Array): void {
  if (!bytesEqual(got, want)) throw new Error(`${what}: got ${toHex(got)}, want ${toHex(want)}`);
}

const check: VectorCheck = {
  file: "crypto-basics.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cs = provider.suite(e.num("cipher_suite"));

    const rh = e.obj_("ref_hash");
    expectBytes("ref_hash", refHash(cs, rh.str("label"), rh.hex("value")), rh.hex("out"));

    const ewl = e.obj_("expand_with_label");
    expectBytes(
      "expand_with_label",
      expandWithLabel(cs, ewl.hex("secret"), ewl.str("label"), ewl.hex("context"), ewl.num("length")),
      ewl.hex("out"),
    );

    const ds = e.obj_("derive_secret");
    expectBytes("derive_secret", deriveSecret(cs, ds.hex("secret"), ds.str("label")), ds.hex("out"));

    const dts = e.obj_("derive_tree_secret");
    expectBytes(
      "derive_tree_secret",
      deriveTreeSecret(cs, dts.hex("secret"), dts.str("label"), dts.num("generation"), dts.num("length")),
      dts.hex("out"),
    );

    const swl = e.obj_("sign_with_label");
    const [pub, priv, label, content] = [swl.hex("pub"), swl.hex("priv"), swl.str("label"), swl.hex("content")];
    if (!verifyWithLabel(cs, pub, label, content, swl.hex("signature"))) {
      throw new Error("sign_with_label: the vector's signature does not verify");
    }
    if (!verifyWithLabel(cs, pub, label, content, signWithLabel(cs, priv, label, content))) {
      throw new Error("sign_with_label: a fresh signature does not verify");
    }

    const enc = e.obj_("encrypt_with_label");
    const [epriv, elabel, ctx, pt] = [enc.hex("priv"), enc.str("label"), enc.hex("context"), enc.hex("plaintext")];
    expectBytes(
      "encrypt_with_label (vector)",
      decryptWithLabel(cs, epriv, elabel, ctx, enc.hex("kem_output"), enc.hex("ciphertext")),
      pt,
    );
    const fresh = encryptWithLabel(cs, enc.hex("pub"), elabel, ctx, pt);
    expectBytes(
      "encrypt_with_label (fresh)",
      decryptWithLabel(cs, epriv, elabel, ctx, fresh.kemOutput, fresh.ciphertext),
      pt,
    );
  },
};

export default check;
