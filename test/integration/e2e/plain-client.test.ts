// A plain XMPP client (no MLS) in an open room (channel): it sees the
// XEP-0428 fallback of encrypted messages, what it sends is refused and
// reaches nobody, and the group goes on undisturbed.

import { randomBytes } from "node:crypto";

import { describe, expect, it } from "vitest";

import { nextStanza, type TestClient } from "../harness/index.js";
import { b64, entriesSeen, expectMlsError, NS_MLS, NS_MUC, NS_MUC_USER, parseError, rawIq, until, type World, worldPerSuite, xml, type Device, type Element } from "./world.js";

const FALLBACK = "This message is encrypted with MLS (urn:xmpp:mls:0); your client does not support it.";

const say = (w: World, d: Device, room: string, label: string) => w.say(d, room, label);

/** Sends a message from the raw client and resolves with the error the room answers. */
async function refused(c: TestClient, to: string, type: string, ...children: Element[]): Promise<Element> {
  const id = `plain-${randomBytes(6).toString("hex")}`;
  const bounce = nextStanza(c, (s) => s.is("message") && s.attrs["type"] === "error" && s.attrs["id"] === id);
  await c.send(xml("message", { to, type, id }, ...children));
  return bounce;
}

describe("a plain XMPP client in a channel", () => {
  let w: World;

  worldPerSuite({ users: ["dave-9", "erin-9", "frank-9"] }, (x) => (w = x));

  it("9. sees the fallback body, its own messages are refused (mls-required) and reach nobody, and the group goes on", async () => {
    const dave = await w.open("dave-9");
    const erin = await w.open("erin-9");
    const room = w.room("lobby");
    await dave.c.createRoom(room, { kind: "channel" });
    await erin.c.join(room);
    expect(erin.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "external-commit" });
    const start = await w.settled([dave, erin], room);

    // Frank joins without <device/>: allowed in a channel (a plain occupant).
    const frank = await w.raw("frank-9", "plain");
    const got: Element[] = [];
    frank.on("stanza", (s: Element) => void got.push(s));
    const self = nextStanza(frank, (s) => s.is("presence") && s.attrs["from"] === `${room}/frank` && s.attrs["type"] !== "error");
    await frank.send(xml("presence", { to: `${room}/frank` }, xml("x", { xmlns: NS_MUC })));
    const selfPresence = await self;
    expect((selfPresence.getChild("x", NS_MUC_USER)?.getChildren("status") ?? []).map((s) => s.attrs["code"])).toContain("110");
    expect(selfPresence.getChild("device", NS_MLS)).toBeUndefined();
    const dsBefore = (await w.dsGroup(room))!;

    // An encrypted message: frank gets the fallback, with the EME and fallback markers, and no plaintext.
    const fallback = nextStanza(frank, (s) => s.is("message") && s.attrs["type"] === "groupchat" && s.getChild("mls", NS_MLS) !== undefined);
    const m1 = await say(w, dave, room, "plain-m1");
    const f1 = await fallback;
    expect(f1.attrs["from"]).toBe(room);
    expect(f1.getChildText("body")).toBe(FALLBACK);
    expect(f1.getChild("encryption", "urn:xmpp:eme:0")?.attrs).toMatchObject({ namespace: NS_MLS, name: "MLS" });
    expect(f1.getChild("fallback", "urn:xmpp:fallback:0")?.attrs["for"]).toBe(NS_MLS);
    expect(f1.getChild("mls", NS_MLS)?.attrs).toMatchObject({ kind: "application", seq: String(m1.seq) });
    expect(f1.toString()).not.toContain(m1.text);
    await w.allRead([erin], [m1.id]);

    // Its own plaintext: refused with <mls-required/>.
    const plain = w.secret("plain-frank");
    expectMlsError(await refused(frank, room, "groupchat", xml("body", {}, plain)), { type: "cancel", condition: "not-acceptable", app: "mls-required" });
    // An <mls/> it made up, and a replay of the ciphertext it was sent: a plain occupant cannot send either.
    expectMlsError(
      await refused(frank, room, "groupchat", xml("mls", { xmlns: NS_MLS, kind: "application" }, b64(randomBytes(120))), xml("body", {}, plain)),
      { type: "cancel", condition: "not-acceptable", app: "mls-required" },
    );
    expectMlsError(
      await refused(frank, room, "groupchat", xml("mls", { xmlns: NS_MLS, kind: "application" }, f1.getChildText("mls", NS_MLS)!)),
      { type: "cancel", condition: "not-acceptable", app: "mls-required" },
    );
    // A private message through the room, and a non-groupchat message to it: refused as well.
    expect(parseError(await refused(frank, `${room}/dave`, "chat", xml("body", {}, plain))).condition).toBe("feature-not-implemented");
    expect(parseError(await refused(frank, room, "chat", xml("body", {}, plain))).condition).toBe("bad-request");
    // MLS requests: the GroupInfo (external join) is for MLS occupants; a replayed commit is refused.
    expectMlsError(await rawIq(frank, room, "get", xml("group-info", { xmlns: NS_MLS })), { type: "auth", condition: "forbidden", app: "not-a-member" });
    const erinsCommit = entriesSeen(dave, room).find((e) => e.kind === "commit")!;
    const replay = await rawIq(
      frank,
      room,
      "set",
      xml("commit", { xmlns: NS_MLS }, xml("commit-message", {}, b64(erinsCommit.bytes)), xml("group-info", {}, b64(erinsCommit.bytes))),
    );
    expectMlsError(replay, { type: "wait", condition: "conflict", app: "epoch-mismatch", attrs: { "current-epoch": String(start.epoch) } });

    // Barrier (the room handles its stanzas in order): once erin reads dave's next message, anything of frank's would have arrived.
    const m2 = await say(w, dave, room, "plain-m2");
    await w.allRead([erin], [m2.id]);
    const m3 = await say(w, erin, room, "plain-m3");
    await w.allRead([dave], [m3.id]);
    const s = await w.settled([dave, erin], room);

    // Nothing frank sent reached anyone or changed anything: only the three messages were logged, same epoch.
    for (const d of [dave, erin]) {
      expect(d.stanzas.some((x) => x.toString().includes(plain))).toBe(false);
      expect(d.messages.map((m) => m.from)).not.toContain(w.jid("frank-9"));
    }
    expect(s.epoch).toBe(start.epoch);
    expect(s.authenticator).toBe(start.authenticator);
    const dsAfter = (await w.dsGroup(room))!;
    expect({ epoch: dsAfter.epoch, nextSeq: dsAfter.nextSeq }).toEqual({ epoch: dsBefore.epoch, nextSeq: dsBefore.nextSeq + 3 });
    const log = await w.dsLog(room);
    expect(log.filter((e) => e.seq >= dsBefore.nextSeq).map((e) => [e.kind, e.seq])).toEqual([
      ["application", m1.seq],
      ["application", m2.seq],
      ["application", m3.seq],
    ]);
    // Frank saw the fallback of all three (plain occupants get their copies after the members), never their text.
    const fallbacksOf = () => got.filter((x) => x.is("message") && x.attrs["type"] === "groupchat" && x.getChild("mls", NS_MLS));
    await until(() => fallbacksOf().length >= 3, 10_000, "frank's three fallback copies");
    const fallbacks = fallbacksOf();
    expect(fallbacks.map((x) => x.getChild("mls", NS_MLS)!.attrs["seq"])).toEqual([m1, m2, m3].map((m) => String(m.seq)));
    for (const x of fallbacks) expect(x.getChildText("body")).toBe(FALLBACK);
    for (const m of [m1, m2, m3]) expect(got.some((x) => x.toString().includes(m.text))).toBe(false);
    expect([dave, erin].flatMap((d) => d.errors)).toEqual([]);
  }, 60_000);

  it("11. the component's SQLite files and debug log hold none of the plaintexts sent (the plain client's included)", async () => {
    await w.expectNoPlaintextLeaks(w.room("lobby"), 4);
  });
});
