// The MLS layer through stanzas, without a network: real MLS members (the
// library's Group) drive the component's urn:xmpp:mls:0 handlers.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  basicCredential,
  createGroup,
  createKeyPackage,
  decode,
  decodeMLSMessage,
  decodeRatchetTree,
  encode,
  encodeMLSMessage,
  externalSendersExtension,
  joinFromWelcome,
  nativeProvider,
  utf8Bytes,
  type Group,
  type KeyPackage,
  type KeyPackagePrivate,
  type MLSMessage,
} from "../../mls/node.js";
import { applicationIdExtension } from "../../mapping/ds/identity.js";
import { NS } from "../../component/xmpp/ns.js";
import { xml, type Element } from "../../component/xmpp/xml.js";
import { ALICE, BOB, CAROL, DOMAIN, errorCondition, groupchat, iq, join, testService, type TestService } from "./helpers.js";

const cs = nativeProvider.suite(1);
const ROOM = `team@${DOMAIN}`;
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const enc = (m: MLSMessage) => b64(encode(encodeMLSMessage, m));

let t: TestService;
beforeEach(async () => {
  t = await testService({ mls: true });
});
afterEach(async () => {
  await t.close();
});

interface Dev {
  jid: string;
  bare: string;
  id: string;
  sig: Uint8Array;
  kps: { keyPackage: KeyPackage; privateKeys: KeyPackagePrivate }[];
  group?: Group;
  seq: bigint;
}

function dev(jid: string, id: string): Dev {
  return { jid, bare: jid.split("/")[0]!, id, sig: cs.signature.generateKeyPair().privateKey, kps: [], seq: 0n };
}

function ident(d: Dev) {
  return { cs, credential: basicCredential(utf8Bytes(d.bare)), signaturePrivateKey: d.sig, leafExtensions: [applicationIdExtension(d.id)] };
}

function appErr(s: Element): string | undefined {
  const e = s.getChild("error");
  return e?.getChildElements().find((c) => c.getNS() === NS.MLS)?.name;
}

async function publish(d: Dev, n = 3): Promise<Element[]> {
  const kps = Array.from({ length: n }, () => createKeyPackage(ident(d)));
  d.kps.push(...kps);
  const payload = xml(
    "publish",
    { xmlns: NS.MLS, device: d.id },
    ...kps.map((k) => xml("key-package", {}, enc({ version: 1, wireFormat: "mls_key_package", keyPackage: k.keyPackage }))),
  );
  return t.deliver(iq(d.jid, DOMAIN, "set", payload));
}

/** Feeds every MLS stanza sent to this device into its group, in seq order. */
function consume(d: Dev, stanzas: Element[]): string[] {
  const texts: string[] = [];
  for (const s of stanzas) {
    if (s.attrs["to"] !== d.jid) continue;
    const m = s.getChild("mls", NS.MLS);
    if (!m) continue;
    const seq = BigInt(m.attrs["seq"]);
    if (seq <= d.seq) continue;
    d.seq = seq;
    const kind = m.attrs["kind"];
    const bytes = unb64(m.getText());
    if (kind === "welcome") {
      const tree = decode(decodeRatchetTree, unb64(s.getChild("ratchet-tree", NS.MLS)!.getText()));
      for (const k of d.kps) {
        try {
          d.group = joinFromWelcome({ cs, welcome: decode(decodeMLSMessage, bytes), ...k, keyPackagePrivate: k.privateKeys, ratchetTree: tree });
          break;
        } catch {
          /* another KeyPackage */
        }
      }
      continue;
    }
    if (!d.group) continue;
    if (kind === "application") {
      const origin = s.getChild("origin-id", NS.SID)?.attrs["id"];
      if (origin?.startsWith(d.id)) continue; // our own reflected message
      const r = d.group.process(decode(decodeMLSMessage, bytes));
      if (r.kind === "application") texts.push(new TextDecoder().decode(r.data));
      continue;
    }
    const r = decode(decodeMLSMessage, bytes);
    if (kind === "commit" && d.group.hasPendingCommit) continue;
    d.group.process(r);
  }
  return texts;
}

async function commit(d: Dev): Promise<Element[]> {
  const c = d.group!.commit({ forcePath: true });
  const payload = xml(
    "commit",
    { xmlns: NS.MLS },
    xml("commit-message", {}, enc(c.commit)),
    xml("group-info", {}, enc(c.groupInfo)),
    ...(c.welcome ? [xml("welcome", {}, enc(c.welcome))] : []),
  );
  const out = await t.deliver(iq(d.jid, ROOM, "set", payload));
  const result = out.find((s) => s.name === "iq" && s.attrs["to"] === d.jid)!;
  if (result.attrs["type"] === "result") {
    d.group!.mergePendingCommit();
    d.seq = BigInt(result.getChild("accepted", NS.MLS)!.attrs["seq"]);
  } else d.group!.clearPendingCommit();
  return out;
}

async function send(d: Dev, text: string): Promise<Element[]> {
  const m = d.group!.encrypt(utf8Bytes(text));
  return t.deliver(
    groupchat(d.jid, ROOM, "", xml("mls", { xmlns: NS.MLS, kind: "application" }, enc(m)), xml("origin-id", { xmlns: NS.SID, id: `${d.id}-${text}` })),
  );
}

describe("MLS layer", () => {
  it("creates and binds a room, adds members from affiliations, relays encrypted messages with fallback", async () => {
    const alice = dev(ALICE, "alice1");
    const bob = dev(BOB, "bob1");
    // Creating a room needs an MLS device.
    const plain = await t.deliver(join(ALICE, `${ROOM}/alice`));
    expect(appErr(plain[0]!)).toBe("mls-required");

    await publish(alice);
    await t.deliver(join(ALICE, `${ROOM}/alice`, xml("device", { xmlns: NS.MLS, id: alice.id })));
    // Unbound: other users cannot join yet.
    const early = await t.deliver(join(BOB, `${ROOM}/bob`, xml("device", { xmlns: NS.MLS, id: bob.id })));
    expect(errorCondition(early[0]!)).toBeDefined();

    const info = await t.deliver(iq(ALICE, DOMAIN, "get", xml("query", { xmlns: NS.DISCO_INFO })));
    const key = info[0]!.getChild("query")!.getChild("x")!.getChildren("field").find((f) => f.attrs["var"] === "external-sender-key")!;
    alice.group = createGroup({
      ...ident(alice),
      groupId: cs.randomBytes(32),
      extensions: [externalSendersExtension([{ signatureKey: unb64(key.getChildText("value")!), credential: basicCredential(utf8Bytes(DOMAIN)) }])],
    });
    const bound = await t.deliver(iq(ALICE, ROOM, "set", xml("bind", { xmlns: NS.MLS }, xml("group-info", {}, enc(alice.group.groupInfo())))));
    expect(bound[0]!.attrs["type"]).toBe("result");

    // Bob gets membership: his device (with KeyPackages) is proposed for Add.
    await publish(bob);
    const grant = await t.deliver(iq(ALICE, ROOM, "set", xml("query", { xmlns: NS.MUC_ADMIN }, xml("item", { jid: "bob@example.net", affiliation: "member" }))));
    expect(grant[0]!.attrs["type"]).toBe("result");
    await new Promise((r) => setTimeout(r, 50)); // the convergence runs after the iq
    const proposals = t.sent.filter((s) => s.getChild("mls", NS.MLS)?.attrs["kind"] === "proposal" && s.attrs["to"] === ALICE);
    expect(proposals).toHaveLength(1);
    consume(alice, proposals);
    const c = await commit(alice);
    expect(c.find((s) => s.name === "iq")!.attrs["type"]).toBe("result");

    // Bob joins the room: his Welcome comes in the join push, then <caught-up/>.
    const joined = await t.deliver(join(BOB, `${ROOM}/bob`, xml("device", { xmlns: NS.MLS, id: bob.id })));
    const push = joined.filter((s) => s.attrs["to"] === BOB && s.getChild("mls", NS.MLS));
    expect(push.map((s) => s.getChild("mls", NS.MLS)!.attrs["kind"])).toEqual(["welcome"]);
    expect(joined.some((s) => s.getChild("caught-up", NS.MLS))).toBe(true);
    consume(bob, joined);
    expect(bob.group?.epochAuthenticator).toEqual(alice.group.epochAuthenticator);

    // An encrypted message: stored, stanza-id'd, fanned out; MLS devices get no fallback body.
    const out = await send(alice, "hello bob");
    const toBob = out.find((s) => s.attrs["to"] === BOB)!;
    expect(toBob.getChild("stanza-id", NS.SID)?.attrs["by"]).toBe(ROOM);
    expect(toBob.getChild("body")).toBeUndefined();
    expect(toBob.getChild("mls", NS.MLS)?.attrs["seq"]).toBeDefined();
    expect(consume(bob, out)).toEqual(["hello bob"]);
    // The sender sees its own message reflected.
    expect(out.some((s) => s.attrs["to"] === ALICE)).toBe(true);

    // Plaintext groupchat is refused.
    const refused = await t.deliver(groupchat(BOB, ROOM, "plain text"));
    expect(appErr(refused[0]!)).toBe("mls-required");

    // Nothing the DS stored contains the plaintext.
    const rows = await (t.store as unknown as { db: { all<T>(s: string): Promise<T[]> } }).db.all<{ payload: Uint8Array }>("SELECT payload FROM mls_log");
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(Buffer.from(r.payload).includes(Buffer.from("hello bob"))).toBe(false);

    // §6.3: the same device joining from a second full JID takes over; the old session is told it left.
    const BOB_PHONE = "bob@example.net/phone";
    const takeover = await t.deliver(join(BOB_PHONE, `${ROOM}/bob`, xml("device", { xmlns: NS.MLS, id: bob.id, after: String(bob.seq) })));
    const gone = takeover.find((x) => x.name === "presence" && x.attrs["to"] === BOB && x.attrs["type"] === "unavailable");
    expect(gone?.getChild("x", NS.MUC_USER)?.getChildren("status").map((st) => st.attrs["code"])).toContain("110");
    expect(takeover.some((x) => x.name === "presence" && x.attrs["to"] === BOB_PHONE && x.attrs["type"] === undefined)).toBe(true);
    const after = await send(alice, "to the phone");
    expect(after.filter((x) => x.getChild("mls", NS.MLS)).map((x) => x.attrs["to"]).sort()).toEqual([ALICE, BOB_PHONE].sort());
    expect(consume({ ...bob, jid: BOB_PHONE }, after)).toEqual(["to the phone"]);
  });

  it("refuses malformed or forged requests with precise errors", async () => {
    const alice = dev(ALICE, "alice1");
    await publish(alice);
    await t.deliver(join(ALICE, `${ROOM}/alice`, xml("device", { xmlns: NS.MLS, id: alice.id })));
    // Bad base64 in a KeyPackage publish.
    const bad = await t.deliver(iq(ALICE, DOMAIN, "set", xml("publish", { xmlns: NS.MLS, device: "alice1" }, xml("key-package", {}, "!!!"))));
    expect(appErr(bad[0]!)).toBe("bad-base64");
    // A KeyPackage of another identity.
    const carol = dev(CAROL, "carol1");
    const kp = createKeyPackage(ident(carol));
    const forged = await t.deliver(
      iq(ALICE, DOMAIN, "set", xml("publish", { xmlns: NS.MLS, device: "alice1" }, xml("key-package", {}, enc({ version: 1, wireFormat: "mls_key_package", keyPackage: kp.keyPackage })))),
    );
    expect(appErr(forged[0]!)).toBe("invalid-key-package");
    expect(forged[0]!.getChild("error")!.getChild("invalid-key-package", NS.MLS)!.attrs["reason"]).toBe("identity");
    // Truncated MLS in a bind.
    const trunc = await t.deliver(iq(ALICE, ROOM, "set", xml("bind", { xmlns: NS.MLS }, xml("group-info", {}, "AAEABA=="))));
    expect(appErr(trunc[0]!)).toBe("malformed-message");
    // A commit to an unbound room.
    const unbound = await t.deliver(iq(ALICE, ROOM, "set", xml("commit", { xmlns: NS.MLS }, xml("commit-message", {}, "AAEAAQ=="), xml("group-info", {}, "AAEABA=="))));
    expect(appErr(unbound[0]!)).toBe("unbound-room");
  });
});
