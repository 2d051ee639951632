// Malformed and forged stanzas against the real component: each gets the
// stanza error of docs/protocol.md §8.1 (type, RFC 6120 condition, exactly
// one urn:xmpp:mls:0 condition with its attributes), and none changes
// anything: same epoch, same room log, and the room keeps working.

import { randomBytes } from "node:crypto";

import { describe, expect, it } from "vitest";

import { groupOptions, makeKeyPackage } from "../../../client/mls-helpers.js";
import {
  basicCredential,
  decode,
  decodeMLSMessage,
  decodeRatchetTree,
  deserializeGroup,
  encode,
  encodeMLSMessage,
  ExtensionType,
  joinExternal,
  nativeProvider,
  serializeGroup,
  utf8Bytes,
  type MLSMessage,
} from "../../../mls/node.js";
import {
  b64,
  deviceGroupchat,
  deviceIq,
  entriesSeen,
  expectMlsError,
  hex,
  NS_MLS,
  rawIq,
  type World,
  worldPerSuite,
  xml,
  type Device,
  type Element,
} from "./world.js";

const MAX_MESSAGE_BYTES = 4096;
const cs = nativeProvider.suite(1);

function enc(m: MLSMessage): Uint8Array {
  return encode(encodeMLSMessage, m);
}

/** An application message of exactly `size` encoded bytes, encrypted on a copy of a member's state. */
function sizedApplication(state: Uint8Array, size: number): Uint8Array {
  const plain = utf8Bytes("x".repeat(size - 400));
  let aad = 100;
  for (let i = 0; i < 10; i++) {
    const g = deserializeGroup(nativeProvider, state, groupOptions(2));
    const m = enc(g.encrypt(plain, { authenticatedData: new Uint8Array(aad) }));
    if (m.length === size) return m;
    aad += size - m.length;
  }
  throw new Error(`cannot make an application message of ${size} bytes`);
}

function commitIq(commit: string, groupInfo: string, welcome?: string): Element {
  return xml(
    "commit",
    { xmlns: NS_MLS },
    xml("commit-message", {}, commit),
    ...(welcome !== undefined ? [xml("welcome", {}, welcome)] : []),
    xml("group-info", {}, groupInfo),
  );
}

function appMls(text: string, kind = "application"): Element {
  return xml("mls", { xmlns: NS_MLS, kind }, text);
}

const say = (w: World, d: Device, room: string, label: string) => w.say(d, room, label);

describe("malformed and forged stanzas", () => {
  let w: World;

  worldPerSuite({ users: ["alice-10", "bob-10", "carol-10", "mallory-10"], config: { limits: { maxMessageBytes: MAX_MESSAGE_BYTES } } }, (x) => (w = x));

  it("10. each gets its precise error and changes nothing", async () => {
    const [alice, bob, carol] = await Promise.all(["alice-10", "bob-10", "carol-10"].map((u) => w.open(u)));
    const room = await w.groupRoom("forge", alice!, [bob!]);
    const other = await w.groupRoom("other", alice!, [carol!]);
    const m0 = await say(w, alice!, room, "forge-m0");
    await w.allRead([bob!], [m0.id]);
    const o0 = await say(w, alice!, other, "other-m0");
    await w.allRead([carol!], [o0.id]);
    const { epoch, authenticator } = await w.settled([alice!, bob!], room);
    const otherBefore = await w.settled([alice!, carol!], other);

    // Material, as alice's connection received it: an application message and the last commit of each room.
    const seen = entriesSeen(alice!, room);
    const app = seen.find((e) => e.kind === "application" && e.seq === m0.seq)!.bytes;
    const lastCommit = seen.filter((e) => e.kind === "commit").at(-1)!;
    expect(lastCommit.epoch).toBe(epoch - 1);
    const otherCommit = entriesSeen(alice!, other).filter((e) => e.kind === "commit").at(-1)!.bytes;
    const otherApp = entriesSeen(alice!, other).find((e) => e.kind === "application")!.bytes;
    const giReply = await deviceIq(alice!, room, "get", xml("group-info", { xmlns: NS_MLS }));
    const giEl = giReply.getChild("group-info", NS_MLS)!;
    expect(giEl.attrs["epoch"]).toBe(String(epoch));
    const groupInfo = giEl.getChild("message")!.getText();
    const tree = decode(decodeRatchetTree, new Uint8Array(Buffer.from(giEl.getChild("ratchet-tree")!.getText(), "base64")));
    const dsBefore = await w.dsGroup(room);
    const otherDsBefore = await w.dsGroup(other);

    const modifyBad = { type: "modify", condition: "bad-request" };

    // --- bad base64 (§4.4: canonical, padded, no whitespace)
    expectMlsError(await deviceGroupchat(alice!, room, appMls("not*base64!")), { ...modifyBad, app: "bad-base64" });
    expectMlsError(await deviceGroupchat(alice!, room, appMls(`${b64(app).slice(0, 40)}\n${b64(app).slice(40)}`)), { ...modifyBad, app: "bad-base64" });
    expectMlsError(await deviceGroupchat(alice!, room, appMls(b64(app).replace(/=+$/, ""))), { ...modifyBad, app: "bad-base64" });
    expectMlsError(await deviceIq(alice!, room, "set", commitIq("@@@@", groupInfo)), { ...modifyBad, app: "bad-base64" });

    // --- truncated MLS
    expectMlsError(await deviceGroupchat(alice!, room, appMls(b64(app.slice(0, Math.floor(app.length / 2))))), { ...modifyBad, app: "malformed-message" });
    expectMlsError(await deviceIq(alice!, room, "set", commitIq(b64(lastCommit.bytes.slice(0, 60)), groupInfo)), { ...modifyBad, app: "malformed-message" });
    expectMlsError(await deviceIq(alice!, room, "set", commitIq(b64(lastCommit.bytes), groupInfo.slice(0, 40))), { ...modifyBad, app: "malformed-message" });

    // --- wrong epoch: the last accepted commit, submitted again (a stale commit)
    expectMlsError(await deviceIq(alice!, room, "set", commitIq(b64(lastCommit.bytes), groupInfo)), {
      type: "wait",
      condition: "conflict",
      app: "epoch-mismatch",
      attrs: { "current-epoch": String(epoch) },
    });

    // --- a commit from a non-member: mallory's external commit on the room's current GroupInfo
    const mallory = await w.raw("mallory-10");
    const mkeys = cs.signature.generateKeyPair();
    const joined = joinExternal({
      cs,
      credential: basicCredential(utf8Bytes(w.jid("mallory-10"))),
      signaturePrivateKey: mkeys.privateKey,
      signaturePublicKey: mkeys.publicKey,
      leafExtensions: [{ extensionType: ExtensionType.application_id, extensionData: utf8Bytes("mallory1") }],
      groupInfo: decode(decodeMLSMessage, new Uint8Array(Buffer.from(groupInfo, "base64"))),
      ratchetTree: tree,
      options: groupOptions(2),
    });
    const mGi = b64(enc(joined.group.groupInfo({ ratchetTree: false, externalPub: true })));
    expectMlsError(await rawIq(mallory, room, "set", commitIq(b64(enc(joined.commit)), mGi)), { type: "auth", condition: "forbidden", app: "not-a-member" });

    // --- a KeyPackage whose identity is not the sender's JID (all or nothing: the valid one before it is not stored)
    const kp = (jid: string) =>
      makeKeyPackage({
        cs,
        jid,
        deviceId: "mallory1",
        signaturePrivateKey: mkeys.privateKey,
        signaturePublicKey: mkeys.publicKey,
        lastResort: false,
        lifetimeSeconds: 30 * 86400,
      }).record.keyPackage;
    const publish = xml(
      "publish",
      { xmlns: NS_MLS, device: "mallory1" },
      xml("key-package", {}, b64(kp(w.jid("mallory-10")))),
      xml("key-package", {}, b64(kp(alice!.jid))),
    );
    expectMlsError(await rawIq(mallory, w.domain, "set", publish), {
      type: "modify",
      condition: "not-acceptable",
      app: "invalid-key-package",
      attrs: { index: "1", reason: "identity" },
    });
    const count = await rawIq(mallory, w.domain, "get", xml("count", { xmlns: NS_MLS, device: "mallory1" }));
    expect(count.getChild("count", NS_MLS)?.attrs).toMatchObject({ available: "0", "last-resort": "false" });
    // Alice's KeyPackage directory is untouched too (the forged package named her).
    const aliceCount = await deviceIq(alice!, w.domain, "get", xml("count", { xmlns: NS_MLS, device: "mallory1" }));
    expect(aliceCount.getChild("count", NS_MLS)?.attrs).toMatchObject({ available: "0", "last-resort": "false" });

    // --- oversized payloads: well over, and one byte over, max-message-bytes
    const tooLarge = { type: "modify", condition: "policy-violation", app: "too-large", attrs: { max: String(MAX_MESSAGE_BYTES) } };
    expectMlsError(await deviceGroupchat(alice!, room, appMls(b64(randomBytes(3 * MAX_MESSAGE_BYTES)))), tooLarge);
    // A valid application message of alice's (made on a copy of her state, never sent by her) of exactly max + 1 bytes.
    const oneOver = sizedApplication(serializeGroup((await alice!.c.session(room)).group!), MAX_MESSAGE_BYTES + 1);
    expect(oneOver.length).toBe(MAX_MESSAGE_BYTES + 1);
    expectMlsError(await deviceGroupchat(alice!, room, appMls(b64(oneOver))), tooLarge);

    // --- wrong kind: a PublicMessage (a commit) as an application message; a commit in a groupchat; a PrivateMessage as a commit
    expectMlsError(await deviceGroupchat(alice!, room, appMls(b64(lastCommit.bytes))), { ...modifyBad, app: "wrong-kind" });
    expectMlsError(await deviceGroupchat(alice!, room, appMls(b64(lastCommit.bytes), "commit")), { ...modifyBad, app: "wrong-kind" });
    expectMlsError(await deviceIq(alice!, room, "set", commitIq(b64(app), groupInfo)), { ...modifyBad, app: "wrong-kind" });

    // --- wrong group: the other room's commit, and its application message, sent to this room
    expectMlsError(await deviceIq(alice!, room, "set", commitIq(b64(otherCommit), groupInfo)), { ...modifyBad, app: "wrong-group" });
    expectMlsError(await deviceGroupchat(alice!, room, appMls(b64(otherApp))), { ...modifyBad, app: "wrong-group" });

    // --- forged commits: a valid commit of alice's (made on a copy of her state, never sent by her) ...
    const aliceSession = await alice!.c.session(room);
    const copy = deserializeGroup(nativeProvider, serializeGroup(aliceSession.group!), groupOptions(2));
    const made = copy.commit({ forcePath: true, groupInfoRatchetTree: false });
    const madeGi = b64(enc(made.groupInfo));
    // ... submitted by bob: the sender leaf is not his
    expectMlsError(await deviceIq(bob!, room, "set", commitIq(b64(enc(made.commit)), madeGi)), { type: "auth", condition: "forbidden", app: "identity-mismatch" });
    // ... by alice with one bit of its signature flipped
    if (made.commit.wireFormat !== "mls_public_message") throw new Error("commit is not a PublicMessage");
    const pm = made.commit.publicMessage;
    const sig = new Uint8Array(pm.auth.signature);
    sig[5]! ^= 0x01;
    const forged: MLSMessage = { ...made.commit, publicMessage: { ...pm, auth: { ...pm.auth, signature: sig } } };
    expectMlsError(await deviceIq(alice!, room, "set", commitIq(b64(enc(forged)), madeGi)), { type: "modify", condition: "not-acceptable", app: "invalid-signature" });
    // ... by alice with a GroupInfo that does not describe the new epoch (the old one)
    expectMlsError(await deviceIq(alice!, room, "set", commitIq(b64(enc(made.commit)), groupInfo)), {
      type: "modify",
      condition: "not-acceptable",
      app: "invalid-commit",
      attrs: { reason: "group-info" },
    });

    // Nothing changed: the DS's group (epoch, log, pending proposals), both rooms, the members' states.
    expect(await w.dsGroup(room)).toEqual(dsBefore);
    expect(await w.dsGroup(other)).toEqual(otherDsBefore);
    expect(alice!.c.epochOf(room)).toBe(epoch);
    expect(hex(bob!.c.epochAuthenticator(room))).toBe(authenticator);
    // And the room works: both ways, then everyone agrees.
    const a = await say(w, alice!, room, "forge-after-alice");
    const b = await say(w, bob!, room, "forge-after-bob");
    await w.allRead([bob!], [a.id]);
    await w.allRead([alice!], [b.id]);
    const s = await w.settled([alice!, bob!], room);
    expect(s).toEqual({ epoch, authenticator });
    expect((await w.settled([alice!, carol!], other)).epoch).toBe(otherBefore.epoch);
    expect([alice!, bob!, carol!].flatMap((d) => d.errors)).toEqual([]);
    // No refusal was an internal error.
    expect(w.log.filter((l) => l.includes('"level":"error"'))).toEqual([]);
    expect(w.logText()).not.toContain("internal-server-error");
  }, 60_000);

  it("11. the component's SQLite files and debug log hold none of the plaintexts sent", async () => {
    await w.expectNoPlaintextLeaks(w.room("forge"), 2);
  });
});
