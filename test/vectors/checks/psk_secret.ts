import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { pskSecret } from "../../../mls/schedule/psk.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

/** psk_secret.json: psk_secret of external PSKs with the given ids and nonces. */
const check: VectorCheck = {
  file: "psk_secret.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cs = provider.suite(e.num("cipher_suite"));
    const psks = e.entries("psks").map((p) => ({
      id: { pskType: "external", pskId: p.hex("psk_id"), pskNonce: p.hex("psk_nonce") } as const,
      psk: p.hex("psk"),
    }));
    const got = pskSecret(cs, psks);
    const want = e.hex("psk_secret");
    if (!bytesEqual(got, want)) throw new Error(`psk_secret: got ${toHex(got)}, expected ${toHex(want)}`);
  },
};
export default check;
