import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toHex } from "../../../mls/codec/bytes.js";
import { encode } from "../../../mls/codec/writer.js";
import { verifyWithLabel } from "../../../mls/crypto/labels.js";
import { nativeProvider } from "../../../mls/crypto/native/index.js";
import { nobleProvider } from "../../../mls/crypto/noble/index.js";
import { encodeGroupContext, type GroupContext } from "../../../mls/messages/group-context.js";
import { encodeGroupInfo, encodeGroupInfoTBS, groupInfoBytes } from "../../../mls/messages/group-info.js";
import type { GroupSecrets } from "../../../mls/messages/welcome.js";
import { confirmationTag, keySchedule, zeroSecret } from "../../../mls/schedule/key-schedule.js";
import { pskSecret, type ResolvedPsk } from "../../../mls/schedule/psk.js";
import { createWelcome, openWelcome, signGroupInfo, verifyGroupInfoSignature } from "../../../mls/schedule/welcome.js";
import { outcome as code } from "../outcome.js";

const cs = nativeProvider.suite(1);


const psk: ResolvedPsk = {
  id: { pskType: "external", pskId: new Uint8Array([1]), pskNonce: new Uint8Array(32).fill(2) },
  psk: new Uint8Array(32).fill(3),
};

function setup() {
  const context: GroupContext = {
    version: 1,
    cipherSuite: cs.id,
    groupId: new Uint8Array([9, 9]),
    epoch: 1n,
    treeHash: new Uint8Array(32).fill(1),
    confirmedTranscriptHash: new Uint8Array(32).fill(2),
    extensions: [],
  };
  const psks = pskSecret(cs, [psk]);
  const ks = keySchedule(cs, new Uint8Array(32).fill(7), zeroSecret(cs), psks, encode(encodeGroupContext, context));
  const signer = cs.signature.generateKeyPair();
  const groupInfo = signGroupInfo(cs, signer.privateKey, {
    groupContext: context,
    extensions: [],
    confirmationTag: confirmationTag(cs, ks.epochSecrets.confirmationKey, context.confirmedTranscriptHash),
    signer: 0,
  });
  const alice = cs.kem.generateKeyPair();
  const bob = cs.kem.generateKeyPair();
  const secrets: GroupSecrets = { joinerSecret: ks.joinerSecret, psks: [psk.id] };
  const refA = new Uint8Array(32).fill(0xa);
  const refB = new Uint8Array(32).fill(0xb);
  const welcome = createWelcome(cs, ks.welcomeSecret, groupInfo, [
    { keyPackageRef: refA, initKey: alice.publicKey, groupSecrets: secrets },
    { keyPackageRef: refB, initKey: bob.publicKey, groupSecrets: { ...secrets, pathSecret: new Uint8Array(32) } },
  ]);
  const resolve = () => psks;
  return { ks, signer, groupInfo, alice, bob, refA, refB, welcome, resolve };
}

describe("Welcome", () => {
  it("opens for each recipient, with the sender's epoch secrets", () => {
    const s = setup();
    const a = openWelcome(cs, s.welcome, s.refA, s.alice.privateKey, (ids) => {
      expect(ids).toEqual([psk.id]);
      return pskSecret(cs, [psk]);
    });
    expect(a.epochSecrets).toEqual(s.ks.epochSecrets);
    expect(a.groupSecrets.pathSecret).toBeUndefined();
    verifyGroupInfoSignature(cs, s.signer.publicKey, a.groupInfo);
    const b = openWelcome(cs, s.welcome, s.refB, s.bob.privateKey, s.resolve);
    expect(b.groupSecrets.pathSecret).toEqual(new Uint8Array(32));
  });

  it("fails with typed errors", () => {
    const s = setup();
    expect(code(() => openWelcome(cs, s.welcome, new Uint8Array(32), s.alice.privateKey, s.resolve))).toBe("NoMatchingKeyPackage");
    expect(code(() => openWelcome(cs, s.welcome, s.refA, s.bob.privateKey, s.resolve))).toBe("DecryptionFailed");
    expect(code(() => openWelcome(cs, s.welcome, s.refA, s.alice.privateKey, () => zeroSecret(cs)))).toBe("DecryptionFailed");
    expect(code(() => openWelcome(cs, { ...s.welcome, cipherSuite: 2 }, s.refA, s.alice.privateKey, s.resolve))).toBe("InvalidWelcome");
    const other = cs.signature.generateKeyPair();
    expect(code(() => verifyGroupInfoSignature(cs, other.publicKey, s.groupInfo))).toBe("InvalidSignature");
    // A GroupInfo whose confirmation tag does not match the key schedule.
    const forged = createWelcome(cs, s.ks.welcomeSecret, { ...s.groupInfo, confirmationTag: new Uint8Array(32) }, [
      { keyPackageRef: s.refA, initKey: s.alice.publicKey, groupSecrets: { joinerSecret: s.ks.joinerSecret, psks: [psk.id] } },
    ]);
    expect(code(() => openWelcome(cs, forged, s.refA, s.alice.privateKey, s.resolve))).toBe("InvalidConfirmationTag");
    // Any tampered byte of the encrypted GroupInfo.
    for (let i = 0; i < s.welcome.encryptedGroupInfo.length; i += 13) {
      const bad = s.welcome.encryptedGroupInfo.slice();
      bad[i]! ^= 1;
      expect(code(() => openWelcome(cs, { ...s.welcome, encryptedGroupInfo: bad }, s.refA, s.alice.privateKey, s.resolve))).toBe(
        "DecryptionFailed",
      );
    }
  });

  it("a GroupInfo keeps the encoding it was signed with; a large one (a tree) round-trips between providers", () => {
    const s = setup();
    const noble = nobleProvider.suite(1);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 9000 }), { maxLength: 3 }), (datas) => {
        const extensions = datas.map((extensionData, i) => ({ extensionType: 0xff00 + i, extensionData }));
        const gi = signGroupInfo(cs, s.signer.privateKey, { ...s.groupInfo, extensions });
        // The kept bytes are what encoding the fields gives, and the signature covers the TBS.
        expect(toHex(groupInfoBytes(gi))).toBe(toHex(encode(encodeGroupInfo, { ...gi })));
        expect(verifyWithLabel(noble, s.signer.publicKey, "GroupInfoTBS", encode(encodeGroupInfoTBS, gi), gi.signature)).toBe(true);
        verifyGroupInfoSignature(noble, s.signer.publicKey, gi);
        if (datas.some((d) => d.length > 0)) {
          const changed = extensions.map((e) => ({ ...e, extensionData: e.extensionData.map((b) => b ^ 1) }));
          expect(code(() => verifyGroupInfoSignature(cs, s.signer.publicKey, { ...gi, extensions: changed }))).toBe("InvalidSignature");
        }
        // Encrypted GroupInfos over 4096 bytes reach HPKE in parts (labels.ts); the other provider opens them whole.
        const welcome = createWelcome(cs, s.ks.welcomeSecret, gi, [
          { keyPackageRef: s.refA, initKey: s.alice.publicKey, groupSecrets: { joinerSecret: s.ks.joinerSecret, psks: [psk.id] } },
        ]);
        const opened = openWelcome(noble, welcome, s.refA, s.alice.privateKey, () => pskSecret(noble, [psk]));
        expect(toHex(encode(encodeGroupInfo, opened.groupInfo))).toBe(toHex(groupInfoBytes(gi)));
      }),
      { numRuns: 15 },
    );
  });
});
