import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { SecretTree } from "../../../mls/schedule/secret-tree.js";
import { senderDataKeyNonce } from "../../../mls/schedule/sender-data.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

function expectBytes(what: string, got: Uint8Array, want: Uint8Array): void {
  if (!bytesEqual(got, want)) throw new Error(`${what}: got ${toHex(got)}, expected ${toHex(want)}`);
}

/** secret-tree.json: sender data key/nonce, and each listed generation of each leaf's two ratchets. */
const check: VectorCheck = {
  file: "secret-tree.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cs = provider.suite(e.num("cipher_suite"));

    const sd = e.obj_("sender_data");
    const kn = senderDataKeyNonce(cs, sd.hex("sender_data_secret"), sd.hex("ciphertext"));
    expectBytes("sender_data key", kn.key, sd.hex("key"));
    expectBytes("sender_data nonce", kn.nonce, sd.hex("nonce"));

    const leaves = e.list("leaves");
    // Generations jump forward (e.g. 0 then 15): allow the whole range.
    const tree = SecretTree.create(cs, e.hex("encryption_secret"), leaves.length, { maxForwardDistance: 0xffffffff });
    leaves.forEach((list, i) => {
      if (!Array.isArray(list)) throw new Error(`leaves[${i}] is not an array`);
      for (const g of list.map(Entry.of)) {
        const generation = g.num("generation");
        const at = `leaf ${i} generation ${generation}`;
        const hs = tree.keyForGeneration(i, "handshake", generation);
        expectBytes(`${at} handshake_key`, hs.key, g.hex("handshake_key"));
        expectBytes(`${at} handshake_nonce`, hs.nonce, g.hex("handshake_nonce"));
        const app = tree.keyForGeneration(i, "application", generation);
        expectBytes(`${at} application_key`, app.key, g.hex("application_key"));
        expectBytes(`${at} application_nonce`, app.nonce, g.hex("application_nonce"));
      }
    });
  },
};
export default check;
