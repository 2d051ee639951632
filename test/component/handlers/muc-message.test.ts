import { afterEach, beforeEach, describe, expect, it } from "vitest";

import type { GroupchatContext } from "../../../component/rooms/host.js";
import { NS } from "../../../component/xmpp/ns.js";
import { stanzaError } from "../../../component/xmpp/stanza-error.js";
import { xml, type Element } from "../../../component/xmpp/xml.js";
import { ALICE, BOB, CAROL, DOMAIN, errorCondition, groupchat, iq, join, summary, testService, type TestService } from "../helpers.js";

const ROOM = `lobby@${DOMAIN}`;

describe("groupchat messages and subject", () => {
  let t: TestService;
  beforeEach(async () => {
    t = await testService({ defaultKind: "channel", now: () => Date.UTC(2025, 0, 2, 3, 4, 5) });
    await t.deliver(join(ALICE, `${ROOM}/alice`));
    await t.deliver(join(BOB, `${ROOM}/bob`));
    t.events.length = 0;
  });
  afterEach(() => t.close());

  it("relays to every occupant with the sender's occupant JID, the same id, the origin-id kept and one stanza-id by the room", async () => {
    const m = groupchat(
      BOB,
      ROOM,
      "hello",
      xml("origin-id", { xmlns: NS.SID, id: "origin-1" }),
      xml("stanza-id", { xmlns: NS.SID, by: ROOM, id: "forged" }),
      xml("stanza-id", { xmlns: NS.SID, by: "elsewhere.example", id: "theirs" }),
    );
    const out = await t.deliver(m);
    expect(out.map(summary)).toEqual([`message(groupchat) ${ROOM}/bob -> ${ALICE}`, `message(groupchat) ${ROOM}/bob -> ${BOB}`]);
    const ids = new Set<string>();
    for (const copy of out) {
      expect(copy.attrs["id"]).toBe(m.attrs["id"]);
      expect(copy.getChildText("body")).toBe("hello");
      expect(copy.getChild("origin-id", NS.SID)?.attrs["id"]).toBe("origin-1");
      const mine = copy.getChildren("stanza-id", NS.SID).filter((s) => s.attrs["by"] === ROOM);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.attrs["id"]).not.toBe("forged");
      ids.add(mine[0]?.attrs["id"] as string);
      expect(copy.getChildren("stanza-id", NS.SID).some((s) => s.attrs["by"] === "elsewhere.example")).toBe(true);
    }
    expect(ids.size).toBe(1); // the same stanza-id for every copy
  });

  it("refuses groupchat from non-occupants (not-acceptable) and to rooms that do not exist (item-not-found)", async () => {
    expect(errorCondition((await t.deliver(groupchat(CAROL, ROOM, "hi")))[0] as Element)).toBe("not-acceptable");
    expect(errorCondition((await t.deliver(groupchat(ALICE, `nope@${DOMAIN}`, "hi")))[0] as Element)).toBe("item-not-found");
  });

  it("refuses other message types to the room and private messages", async () => {
    const chat = xml("message", { from: BOB, to: ROOM, type: "chat", id: "c" }, xml("body", {}, "x"));
    expect(errorCondition((await t.deliver(chat))[0] as Element)).toBe("bad-request");
    const invite = xml("message", { from: BOB, to: ROOM, id: "i" }, xml("x", { xmlns: NS.MUC_USER }, xml("invite", { to: "carol@example.com" })));
    expect(errorCondition((await t.deliver(invite))[0] as Element)).toBe("feature-not-implemented");
    const pm = xml("message", { from: BOB, to: `${ROOM}/alice`, type: "chat", id: "p" }, xml("body", {}, "psst"));
    expect(errorCondition((await t.deliver(pm))[0] as Element)).toBe("feature-not-implemented");
  });

  it("the groupchat path can be replaced (and the previous handler kept as a fallback)", async () => {
    const seen: GroupchatContext[] = [];
    const previous = t.service.host.setGroupchatHandler(async (ctx) => {
      seen.push(ctx);
      if (ctx.stanza.getChild("mls", NS.MLS)) {
        await ctx.fanOut((r) => (r.realJid === ctx.sender.realJid ? undefined : xml("message", { from: ctx.room.jid, to: r.realJid, type: "groupchat" })));
        return;
      }
      if (ctx.room.record.kind === "group") throw stanzaError("not-acceptable", "MLS required", { app: { name: "mls-required", ns: NS.MLS } });
      await previous(ctx);
    });
    const out = await t.deliver(groupchat(BOB, ROOM, "fallback", xml("mls", { xmlns: NS.MLS })));
    expect(out.map((s) => s.attrs["to"])).toEqual([ALICE]);
    expect(seen[0]?.sender).toMatchObject({ realJid: BOB, nick: "bob", bareJid: "bob@example.net", role: "participant", affiliation: "none" });
    const plain = await t.deliver(groupchat(BOB, ROOM, "plain"));
    expect(plain).toHaveLength(2);
  });

  it("a delivery error bounced by an occupant's server removes that session; other errors do not", async () => {
    const bounce = (condition: string) =>
      xml("message", { from: BOB, to: `${ROOM}/alice`, type: "error" }, xml("error", { type: "cancel" }, xml(condition, { xmlns: NS.STANZAS })));
    expect(await t.deliver(bounce("not-acceptable"))).toEqual([]);
    expect((await t.service.host.load(ROOM))?.bySessionJid(BOB)).toBeDefined();
    const out = await t.deliver(bounce("service-unavailable"));
    expect(out.map(summary)).toEqual([`presence(unavailable) ${ROOM}/bob -> ${ALICE} [333] none/none`]);
  });

  it("subject: moderators may change it; participants only when allowed; persisted, broadcast, sent to newcomers with a delay", async () => {
    const bySubject = (from: string, text: string) => xml("message", { from, to: ROOM, type: "groupchat", id: "s" }, xml("subject", {}, text));
    const refused = await t.deliver(bySubject(BOB, "mine"));
    expect(errorCondition(refused[0] as Element)).toBe("forbidden");
    expect(refused[0]?.getChildText("subject")).toBe("mine"); // the original is echoed

    const out = await t.deliver(bySubject(ALICE, "Plans"));
    expect(out.map(summary)).toEqual([`message(groupchat) ${ROOM}/alice -> ${ALICE}`, `message(groupchat) ${ROOM}/alice -> ${BOB}`]);
    expect(out[0]?.getChildText("subject")).toBe("Plans");
    expect(out.map((m) => m.attrs["id"])).toEqual(["s", "s"]); // §7.4: the sender's id is kept
    expect(t.events).toEqual([{ name: "subject-changed", payload: { room: ROOM, subject: "Plans", nick: "alice", realJid: ALICE } }]);
    expect(await t.store.getRoom(ROOM)).toMatchObject({ subject: "Plans", subjectBy: "alice" });

    const newcomer = await t.deliver(join(CAROL, `${ROOM}/carol`));
    const subject = newcomer.at(-1) as Element;
    expect(subject.attrs["from"]).toBe(`${ROOM}/alice`);
    expect(subject.getChildText("subject")).toBe("Plans");
    expect(subject.getChild("delay", NS.DELAY)?.attrs).toMatchObject({ from: ROOM, stamp: "2025-01-02T03:04:05.000Z" });

    // With muc#roomconfig_changesubject, participants may.
    const cfg = xml("query", { xmlns: NS.MUC_OWNER }, xml("x", { xmlns: NS.DATA, type: "submit" }, xml("field", { var: "muc#roomconfig_changesubject" }, xml("value", {}, "1"))));
    await t.deliver(iq(ALICE, ROOM, "set", cfg));
    const ok = await t.deliver(bySubject(BOB, ""));
    expect(ok).toHaveLength(3);
    expect((await t.store.getRoom(ROOM))?.subject).toBe("");

    // A message with a subject and a body is a normal message, not a subject change.
    const both = await t.deliver(xml("message", { from: BOB, to: ROOM, type: "groupchat", id: "b" }, xml("subject", {}, "x"), xml("body", {}, "y")));
    expect(both).toHaveLength(3);
    expect((await t.store.getRoom(ROOM))?.subject).toBe("");
  });
});
