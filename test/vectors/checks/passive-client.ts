import { bytesEqual, bytesKey, toHex } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import type { CryptoProvider } from "../../../mls/crypto/provider.js";
import { decodeMLSMessage } from "../../../mls/framing/messages.js";
import { joinFromWelcome } from "../../../mls/group/join.js";
import { decodeRatchetTree } from "../../../mls/tree/node.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

/**
 * The passive-client files: join from the Welcome through the public API,
 * then process every proposal and commit, checking each epoch authenticator.
 */
export function passiveClientCheck(file: string): VectorCheck {
  return {
    file,
    check(raw: unknown, provider: CryptoProvider) {
      const e = Entry.of(raw);
      const cs = provider.suite(e.num("cipher_suite"));
      const kpMsg = decode(decodeMLSMessage, e.hex("key_package"));
      if (kpMsg.wireFormat !== "mls_key_package") throw new Error("key_package is not an MLSMessage(KeyPackage)");
      const kp = kpMsg.keyPackage;
      const signaturePrivateKey = e.hex("signature_priv");
      const encryptionPrivateKey = e.hex("encryption_priv");
      const initPrivateKey = e.hex("init_priv");
      if (!bytesEqual(cs.signature.publicKey(signaturePrivateKey), kp.leafNode.signatureKey)) throw new Error("signature_priv");
      if (!bytesEqual(cs.kem.publicKey(encryptionPrivateKey), kp.leafNode.encryptionKey)) throw new Error("encryption_priv");
      if (!bytesEqual(cs.kem.publicKey(initPrivateKey), kp.initKey)) throw new Error("init_priv");

      const psks = new Map<string, Uint8Array>();
      for (const p of e.entries("external_psks")) psks.set(bytesKey(p.hex("psk_id")), p.hex("psk"));
      const treeBytes = e.optHex("ratchet_tree");
      const group = joinFromWelcome({
        cs,
        welcome: decode(decodeMLSMessage, e.hex("welcome")),
        keyPackage: kp,
        keyPackagePrivate: { initPrivateKey, encryptionPrivateKey, signaturePrivateKey },
        ratchetTree: treeBytes ? decode(decodeRatchetTree, treeBytes) : undefined,
        options: { resolvePsk: (id) => (id.pskType === "external" ? psks.get(bytesKey(id.pskId)) : undefined) },
      });
      if (!bytesEqual(group.epochAuthenticator, e.hex("initial_epoch_authenticator"))) {
        throw new Error("initial epoch authenticator");
      }
      e.entries("epochs").forEach((epoch, i) => {
        for (const p of epoch.list("proposals")) {
          if (typeof p !== "string") throw new Error("proposal is not hex");
          const r = group.process(decode(decodeMLSMessage, Entry.of({ p }).hex("p")));
          if (r.kind !== "proposal") throw new Error(`epoch ${i}: expected a proposal, got ${r.kind}`);
        }
        const r = group.process(decode(decodeMLSMessage, epoch.hex("commit")));
        if (r.kind !== "commit") throw new Error(`epoch ${i}: expected a commit, got ${r.kind}`);
        const want = epoch.hex("epoch_authenticator");
        if (!bytesEqual(group.epochAuthenticator, want)) {
          throw new Error(`epoch ${i}: epoch authenticator ${toHex(group.epochAuthenticator)} != ${toHex(want)}`);
        }
      });
    },
  };
}
