import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { encode } from "../../../mls/codec/writer.js";
import { encodeGroupContext } from "../../../mls/messages/group-context.js";
import { externalKeyPair, keySchedule, mlsExporter } from "../../../mls/schedule/key-schedule.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

function expectBytes(what: string, got: Uint8Array, want: Uint8Array): void {
  if (!bytesEqual(got, want)) throw new Error(`${what}: got ${toHex(got)}, expected ${toHex(want)}`);
}

/** key-schedule.json: every epoch's GroupContext and key schedule outputs, chained through init_secret. */
const check: VectorCheck = {
  file: "key-schedule.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cipherSuite = e.num("cipher_suite");
    const cs = provider.suite(cipherSuite);
    const groupId = e.hex("group_id");
    let initSecret = e.hex("initial_init_secret");
    e.entries("epochs").forEach((ep, i) => {
      const at = `epoch ${i}`;
      const context = encode(encodeGroupContext, {
        version: 1,
        cipherSuite,
        groupId,
        epoch: BigInt(i),
        treeHash: ep.hex("tree_hash"),
        confirmedTranscriptHash: ep.hex("confirmed_transcript_hash"),
        extensions: [],
      });
      expectBytes(`${at} group_context`, context, ep.hex("group_context"));

      const { joinerSecret, welcomeSecret, epochSecrets: s } = keySchedule(
        cs,
        initSecret,
        ep.hex("commit_secret"),
        ep.hex("psk_secret"),
        context,
      );
      expectBytes(`${at} joiner_secret`, joinerSecret, ep.hex("joiner_secret"));
      expectBytes(`${at} welcome_secret`, welcomeSecret, ep.hex("welcome_secret"));
      expectBytes(`${at} init_secret`, s.initSecret, ep.hex("init_secret"));
      expectBytes(`${at} sender_data_secret`, s.senderDataSecret, ep.hex("sender_data_secret"));
      expectBytes(`${at} encryption_secret`, s.encryptionSecret, ep.hex("encryption_secret"));
      expectBytes(`${at} exporter_secret`, s.exporterSecret, ep.hex("exporter_secret"));
      expectBytes(`${at} epoch_authenticator`, s.epochAuthenticator, ep.hex("epoch_authenticator"));
      expectBytes(`${at} external_secret`, s.externalSecret, ep.hex("external_secret"));
      expectBytes(`${at} confirmation_key`, s.confirmationKey, ep.hex("confirmation_key"));
      expectBytes(`${at} membership_key`, s.membershipKey, ep.hex("membership_key"));
      expectBytes(`${at} resumption_psk`, s.resumptionPsk, ep.hex("resumption_psk"));

      expectBytes(`${at} external_pub`, externalKeyPair(cs, s.externalSecret).publicKey, ep.hex("external_pub"));

      // The label is a string (README); its text happens to look like hex.
      const x = ep.obj_("exporter");
      const exported = mlsExporter(cs, s.exporterSecret, x.str("label"), x.hex("context"), x.num("length"));
      expectBytes(`${at} exporter.secret`, exported, x.hex("secret"));

      initSecret = s.initSecret;
    });
  },
};
export default check;
