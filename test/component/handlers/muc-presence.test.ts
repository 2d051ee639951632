import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { stanzaError } from "../../../component/xmpp/stanza-error.js";
import { NS } from "../../../component/xmpp/ns.js";
import { xml, type Element } from "../../../component/xmpp/xml.js";
import {
  adminQuery,
  ALICE,
  ALICE2,
  BOB,
  CAROL,
  DOMAIN,
  errorCondition,
  errorType,
  iq,
  item,
  join,
  leave,
  mucItem,
  statusCodes,
  summary,
  testService,
  to,
  type TestService,
} from "../helpers.js";

const ROOM = `team@${DOMAIN}`;
const CHAN = `lobby@${DOMAIN}`;

describe("MUC presence: entering and leaving", () => {
  let t: TestService;
  beforeEach(async () => {
    t = await testService({ defaultKind: "group", now: () => 1_000 });
  });
  afterEach(() => t.close());

  it("creates a room on first join: owner, 110 + 100 + 201, then the (empty) subject; persisted, events in order", async () => {
    const out = await t.deliver(join(ALICE, `${ROOM}/alice`));
    expect(out.map(summary)).toEqual([
      `presence ${ROOM}/alice -> ${ALICE} [100,110,201] owner/moderator`,
      `message(groupchat) ${ROOM} -> ${ALICE}`,
    ]);
    const self = out[0] as Element;
    expect(mucItem(self)?.["jid"]).toBe(ALICE);
    expect(out[1]?.getChild("subject")?.getText()).toBe("");

    const room = await t.store.getRoom(ROOM);
    expect(room).toMatchObject({ kind: "group", persistent: true, affiliationClock: 1 });
    expect(room?.config).toEqual({ description: "", changeSubject: false, publicRoom: false, whois: "anyone" });
    expect((await t.store.getAffiliation(ROOM, "alice@example.org"))?.affiliation).toBe("owner");

    expect(t.events).toEqual([
      { name: "room-created", payload: { room: ROOM, kind: "group", persistent: true, owner: "alice@example.org", creator: ALICE } },
      {
        name: "affiliation-changed",
        payload: { room: ROOM, bareJid: "alice@example.org", from: "none", to: "owner", actor: "alice@example.org", clock: 1 },
      },
      {
        name: "occupant-joined",
        payload: {
          room: ROOM,
          occupantJid: `${ROOM}/alice`,
          realJid: ALICE,
          nick: "alice",
          role: "moderator",
          affiliation: "owner",
          newOccupant: true,
        },
      },
    ]);
  });

  it("echoes the join id on the self-presence and carries the MLS device id into the event and presences", async () => {
    const p = join(ALICE, `${ROOM}/alice`, xml("device", { xmlns: NS.MLS, id: "k7R2vQ9s" }));
    const out = await t.deliver(p);
    expect(out[0]?.attrs["id"]).toBe(p.attrs["id"]);
    expect(out[0]?.getChild("device", NS.MLS)?.attrs["id"]).toBe("k7R2vQ9s");
    const joined = t.events.find((e) => e.name === "occupant-joined");
    expect(joined?.payload).toMatchObject({ mlsDevice: "k7R2vQ9s" });

    const bad = await t.deliver(join(BOB, `${CHAN}/bob`, xml("device", { xmlns: NS.MLS, id: "has space" })));
    expect(errorCondition(bad[0] as Element)).toBe("bad-request");
  });

  it("a channel lets anyone in; the newcomer gets the occupant list first, others get the newcomer", async () => {
    const t2 = await testService({ defaultKind: "channel" });
    try {
      await t2.deliver(join(ALICE, `${CHAN}/alice`, xml("status", {}, "here")));
      const out = await t2.deliver(join(BOB, `${CHAN}/bob`));
      expect(out.map(summary)).toEqual([
        `presence ${CHAN}/alice -> ${BOB} owner/moderator`,
        `presence ${CHAN}/bob -> ${BOB} [100,110] none/participant`,
        `presence ${CHAN}/bob -> ${ALICE} none/participant`,
        `message(groupchat) ${CHAN} -> ${BOB}`,
      ]);
      // Non-anonymous: everyone sees real JIDs; reflected presence content is kept.
      expect(mucItem(out[0] as Element)?.["jid"]).toBe(ALICE);
      expect(out[0]?.getChildText("status")).toBe("here");
      expect(mucItem(out[2] as Element)?.["jid"]).toBe(BOB);
    } finally {
      await t2.close();
    }
  });

  it("refuses non-members of a members-only room, outcasts, and nick conflicts", async () => {
    await t.deliver(join(ALICE, `${ROOM}/alice`));
    const refused = await t.deliver(join(BOB, `${ROOM}/bob`));
    expect(refused).toHaveLength(1);
    expect(errorCondition(refused[0] as Element)).toBe("registration-required");
    expect(errorType(refused[0] as Element)).toBe("auth");
    expect(refused[0]?.getChild("x", NS.MUC)).toBeDefined(); // the original <x/> is echoed
    expect(refused[0]?.getChild("error")?.attrs["by"]).toBe(ROOM);
    expect(refused[0]?.attrs["from"]).toBe(`${ROOM}/bob`);

    await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ affiliation: "member", jid: "bob@example.net" }), item({ affiliation: "outcast", jid: "carol@example.com" }))));
    const conflict = await t.deliver(join(BOB, `${ROOM}/Alice`));
    expect(errorCondition(conflict[0] as Element)).toBe("conflict");
    const banned = await t.deliver(join(CAROL, `${ROOM}/carol`));
    expect(errorCondition(banned[0] as Element)).toBe("forbidden");
    const ok = await t.deliver(join(BOB, `${ROOM}/bob`));
    expect(statusCodes(to(ok, BOB).find((s) => s.attrs["from"] === `${ROOM}/bob`) as Element)).toEqual([100, 110]);
  });

  it("a ban of a whole domain keeps its users out", async () => {
    const t2 = await testService({ defaultKind: "channel" });
    try {
      await t2.deliver(join(ALICE, `${CHAN}/alice`));
      await t2.deliver(iq(ALICE, CHAN, "set", adminQuery(item({ affiliation: "outcast", jid: "example.net" }))));
      const out = await t2.deliver(join(BOB, `${CHAN}/bob`));
      expect(errorCondition(out[0] as Element)).toBe("forbidden");
    } finally {
      await t2.close();
    }
  });

  it("refuses joins without a nick, with an invisible nick, and nick changes", async () => {
    const noNick = await t.deliver(xml("presence", { from: ALICE, to: ROOM }, xml("x", { xmlns: NS.MUC })));
    expect(errorCondition(noNick[0] as Element)).toBe("jid-malformed");
    const blank = await t.deliver(join(ALICE, `${ROOM}/ \u200b `));
    expect(errorCondition(blank[0] as Element)).toBe("jid-malformed");
    await t.deliver(join(ALICE, `${ROOM}/alice`));
    const rename = await t.deliver(join(ALICE, `${ROOM}/alicia`));
    expect(errorCondition(rename[0] as Element)).toBe("not-acceptable");
  });

  it("multi-session nicks: a second resource of the same user shares the occupant; presence is broadcast once", async () => {
    const t2 = await testService({ defaultKind: "channel" });
    try {
      await t2.deliver(join(ALICE, `${CHAN}/alice`));
      await t2.deliver(join(BOB, `${CHAN}/bob`));
      const second = await t2.deliver(join(ALICE2, `${CHAN}/Alice`, xml("device", { xmlns: NS.MLS, id: "P3mX8dLw" })));
      // Only the new session hears anything: bob's presence, its self-presence (under the existing nick), the subject.
      expect(second.map(summary)).toEqual([
        `presence ${CHAN}/bob -> ${ALICE2} none/participant`,
        `presence ${CHAN}/alice -> ${ALICE2} [100,110] owner/moderator`,
        `message(groupchat) ${CHAN} -> ${ALICE2}`,
      ]);
      expect(t2.events.filter((e) => e.name === "occupant-joined").map((e) => e.payload)).toContainEqual(
        expect.objectContaining({ realJid: ALICE2, nick: "alice", newOccupant: false, mlsDevice: "P3mX8dLw" }),
      );
      // Messages reach both sessions.
      const msg = await t2.deliver(xml("message", { from: BOB, to: CHAN, type: "groupchat", id: "m1" }, xml("body", {}, "hi")));
      expect(msg.map((m) => m.attrs["to"]).sort()).toEqual([ALICE, ALICE2, BOB].sort());
      // One session leaves: only it is told; the nick stays.
      const left = await t2.deliver(leave(ALICE, `${CHAN}/alice`));
      expect(left.map(summary)).toEqual([
        `presence(unavailable) ${CHAN}/alice -> ${ALICE} [110] owner/none`,
        // The occupant's presence now comes from the remaining session (its real JID changed).
        `presence ${CHAN}/alice -> ${ALICE2} [110] owner/moderator`,
        `presence ${CHAN}/alice -> ${BOB} owner/moderator`,
      ]);
      expect(t2.events.at(-1)).toMatchObject({ name: "occupant-left", payload: { realJid: ALICE, reason: "leave", occupantGone: false } });
    } finally {
      await t2.close();
    }
  });

  it("leaving: 110 to the leaver (with its exit status), unavailable to the others, occupant-left", async () => {
    const t2 = await testService({ defaultKind: "channel" });
    try {
      await t2.deliver(join(ALICE, `${CHAN}/alice`));
      await t2.deliver(join(BOB, `${CHAN}/bob`));
      const out = await t2.deliver(leave(BOB, `${CHAN}/bob`, xml("status", {}, "bye")));
      expect(out.map(summary)).toEqual([
        `presence(unavailable) ${CHAN}/bob -> ${BOB} [110] none/none`,
        `presence(unavailable) ${CHAN}/bob -> ${ALICE} none/none`,
      ]);
      expect(out[1]?.getChildText("status")).toBe("bye");
      expect(t2.events.at(-1)).toEqual({
        name: "occupant-left",
        payload: {
          room: CHAN,
          occupantJid: `${CHAN}/bob`,
          realJid: BOB,
          nick: "bob",
          role: "none",
          affiliation: "none",
          reason: "leave",
          occupantGone: true,
        },
      });
      // Unavailable from a non-occupant is ignored (§7.14).
      expect(await t2.deliver(leave(BOB, `${CHAN}/bob`))).toEqual([]);
    } finally {
      await t2.close();
    }
  });

  it("a presence error bounced by the occupant's server removes the session (333 to the others)", async () => {
    const t2 = await testService({ defaultKind: "channel" });
    try {
      await t2.deliver(join(ALICE, `${CHAN}/alice`));
      await t2.deliver(join(BOB, `${CHAN}/bob`));
      const bounce = xml("presence", { from: BOB, to: `${CHAN}/alice`, type: "error" }, xml("error", { type: "cancel" }, xml("remote-server-not-found", { xmlns: NS.STANZAS })));
      const out = await t2.deliver(bounce);
      expect(out.map(summary)).toEqual([`presence(unavailable) ${CHAN}/bob -> ${ALICE} [333] none/none`]);
      expect(t2.events.at(-1)).toMatchObject({ name: "occupant-left", payload: { realJid: BOB, reason: "disconnect" } });
    } finally {
      await t2.close();
    }
  });

  it("presence updates are reflected; a join from an already-joined session resynchronises it", async () => {
    const t2 = await testService({ defaultKind: "channel" });
    try {
      await t2.deliver(join(ALICE, `${CHAN}/alice`));
      await t2.deliver(join(BOB, `${CHAN}/bob`));
      const away = await t2.deliver(xml("presence", { from: BOB, to: `${CHAN}/bob` }, xml("show", {}, "away")));
      expect(away.map(summary)).toEqual([`presence ${CHAN}/bob -> ${ALICE} none/participant`, `presence ${CHAN}/bob -> ${BOB} [110] none/participant`]);
      expect(away[0]?.getChildText("show")).toBe("away");
      const again = await t2.deliver(join(BOB, `${CHAN}/bob`));
      expect(again.map(summary)).toEqual([
        `presence ${CHAN}/alice -> ${BOB} owner/moderator`,
        `presence ${CHAN}/bob -> ${BOB} [100,110] none/participant`,
        `message(groupchat) ${CHAN} -> ${BOB}`,
        `presence ${CHAN}/bob -> ${ALICE} none/participant`, // its presence changed (no <show/> now)
      ]);
    } finally {
      await t2.close();
    }
  });

  it("a presence without <x/> from a non-occupant gets the explicit kick of §7.2.3 (110, 307, 333)", async () => {
    const out = await t.deliver(xml("presence", { from: BOB, to: `${ROOM}/bob` }));
    expect(out.map(summary)).toEqual([`presence(unavailable) ${ROOM}/bob -> ${BOB} [110,307,333] none/none`]);
  });

  it("the beforeJoin hook can refuse a join; afterSelfPresence runs before the subject", async () => {
    t.service.host.hooks = {
      beforeJoin: async (a) => {
        if (a.mlsDevice === undefined) throw stanzaError("not-acceptable", "MLS required", { app: { name: "mls-required", ns: NS.MLS } });
      },
      afterSelfPresence: async (joined) => {
        await t.service.host.sendAll([xml("message", { from: joined.room, to: joined.realJid, type: "headline", id: "push" })]);
      },
    };
    const refused = await t.deliver(join(ALICE, `${ROOM}/alice`));
    expect(errorCondition(refused[0] as Element)).toBe("not-acceptable");
    expect(refused[0]?.getChild("error")?.getChild("mls-required", NS.MLS)).toBeDefined();
    expect(await t.store.getRoom(ROOM)).toBeUndefined(); // nothing was created

    const ok = await t.deliver(join(ALICE, `${ROOM}/alice`, xml("device", { xmlns: NS.MLS, id: "dev1" })));
    expect(ok.map((s) => `${s.name}:${s.attrs["type"] ?? ""}`)).toEqual(["presence:", "message:headline", "message:groupchat"]);
  });

  it("the component shutting down tells every session (332)", async () => {
    await t.deliver(join(ALICE, `${ROOM}/alice`));
    const before = t.sent.length;
    await t.service.host.shutdown();
    expect(t.sent.slice(before).map(summary)).toEqual([`presence(unavailable) ${ROOM}/alice -> ${ALICE} [110,332] owner/none`]);
    expect(t.events.at(-1)).toMatchObject({ name: "occupant-left", payload: { reason: "shutdown" } });
  });

  it("sending failures (offline) do not break the room state", async () => {
    t.offline = true;
    await t.deliver(join(ALICE, `${ROOM}/alice`));
    t.offline = false;
    expect((await t.service.host.load(ROOM))?.occupantCount).toBe(1);
  });

  it("a temporary room is destroyed when its last occupant leaves", async () => {
    const t2 = await testService({ defaultKind: "channel" });
    try {
      await t2.deliver(join(ALICE, `${CHAN}/alice`));
      const form = xml(
        "query",
        { xmlns: NS.MUC_OWNER },
        xml("x", { xmlns: NS.DATA, type: "submit" }, xml("field", { var: "muc#roomconfig_persistentroom" }, xml("value", {}, "0"))),
      );
      const r = await t2.deliver(iq(ALICE, CHAN, "set", form));
      expect(r.find((s) => s.name === "iq")?.attrs["type"]).toBe("result");
      await t2.deliver(leave(ALICE, `${CHAN}/alice`));
      expect(await t2.store.getRoom(CHAN)).toBeUndefined();
      expect(t2.events.at(-1)).toEqual({ name: "room-destroyed", payload: { room: CHAN, cause: "empty" } });
    } finally {
      await t2.close();
    }
  });
});
