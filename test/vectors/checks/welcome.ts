import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { encode } from "../../../mls/codec/writer.js";
import { decodeMLSMessage } from "../../../mls/framing/messages.js";
import { encodeKeyPackage } from "../../../mls/key-packages/key-package.js";
import { encodeGroupContext } from "../../../mls/messages/group-context.js";
import { encodeGroupInfo } from "../../../mls/messages/group-info.js";
import { confirmationTag, deriveWelcomeSecret, keyScheduleFromJoiner } from "../../../mls/schedule/key-schedule.js";
import { pskSecret } from "../../../mls/schedule/psk.js";
import {
  createWelcome,
  decryptGroupInfo,
  decryptGroupSecrets,
  findGroupSecrets,
  makeKeyPackageRef,
  openWelcome,
  verifyGroupInfoSignature,
} from "../../../mls/schedule/welcome.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

/** welcome.json: decrypt the Welcome for the KeyPackage, verify the GroupInfo signature and confirmation tag. */
const check: VectorCheck = {
  file: "welcome.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cs = provider.suite(e.num("cipher_suite"));
    const initPriv = e.hex("init_priv");
    const kpMsg = decode(decodeMLSMessage, e.hex("key_package"));
    if (kpMsg.wireFormat !== "mls_key_package") throw new Error("key_package is not an MLSMessage(KeyPackage)");
    const wMsg = decode(decodeMLSMessage, e.hex("welcome"));
    if (wMsg.wireFormat !== "mls_welcome") throw new Error("welcome is not an MLSMessage(Welcome)");
    const welcome = wMsg.welcome;
    if (welcome.cipherSuite !== cs.id) throw new Error("Welcome cipher suite differs");

    // The entry for our KeyPackage, and its GroupSecrets.
    const ref = makeKeyPackageRef(cs, encode(encodeKeyPackage, kpMsg.keyPackage));
    const entry = findGroupSecrets(welcome, ref);
    const groupSecrets = decryptGroupSecrets(cs, initPriv, welcome.encryptedGroupInfo, entry.encryptedGroupSecrets);
    if (groupSecrets.psks.length !== 0) throw new Error("the vector's Welcome lists PSKs");

    // The GroupInfo under the welcome key (no PSKs: psk_secret is all zeros).
    const psk = pskSecret(cs, []);
    const groupInfo = decryptGroupInfo(cs, deriveWelcomeSecret(cs, groupSecrets.joinerSecret, psk), welcome.encryptedGroupInfo);
    verifyGroupInfoSignature(cs, e.hex("signer_pub"), groupInfo);

    // The confirmation tag from the joiner's key schedule.
    const context = encode(encodeGroupContext, groupInfo.groupContext);
    const { welcomeSecret, epochSecrets } = keyScheduleFromJoiner(cs, groupSecrets.joinerSecret, psk, context);
    const tag = confirmationTag(cs, epochSecrets.confirmationKey, groupInfo.groupContext.confirmedTranscriptHash);
    if (!bytesEqual(tag, groupInfo.confirmationTag)) {
      throw new Error(`confirmation_tag: got ${toHex(tag)}, expected ${toHex(groupInfo.confirmationTag)}`);
    }

    // The library's one-call path agrees, and so does a Welcome built by the inverse operations.
    const opened = openWelcome(cs, welcome, ref, initPriv, (ids) => pskSecret(cs, ids.map(() => { throw new Error("PSK"); })));
    if (!bytesEqual(opened.epochSecrets.epochAuthenticator, epochSecrets.epochAuthenticator)) throw new Error("openWelcome differs");
    const again = createWelcome(cs, welcomeSecret, groupInfo, [
      { keyPackageRef: ref, initKey: kpMsg.keyPackage.initKey, groupSecrets },
    ]);
    const reopened = openWelcome(cs, again, ref, initPriv, () => psk);
    if (!bytesEqual(encode(encodeGroupInfo, reopened.groupInfo), encode(encodeGroupInfo, groupInfo))) {
      throw new Error("re-encrypted Welcome does not round-trip");
    }
  },
};
export default check;
