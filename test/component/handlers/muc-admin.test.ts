import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { NS } from "../../../component/xmpp/ns.js";
import type { Element } from "../../../component/xmpp/xml.js";
import {
  adminQuery,
  ALICE,
  BOB,
  CAROL,
  DAVE,
  DOMAIN,
  errorCondition,
  iq,
  item,
  join,
  summary,
  testService,
  type TestService,
} from "../helpers.js";

const ROOM = `team@${DOMAIN}`;

async function setAff(t: TestService, from: string, ...items: Element[]): Promise<Element[]> {
  return t.deliver(iq(from, ROOM, "set", adminQuery(...items)));
}

function iqResult(out: Element[]): Element | undefined {
  return out.find((s) => s.name === "iq");
}

describe("muc#admin: affiliations", () => {
  let t: TestService;
  beforeEach(async () => {
    t = await testService({ defaultKind: "group" });
    await t.deliver(join(ALICE, `${ROOM}/alice`)); // alice creates the group room and owns it
    t.events.length = 0;
  });
  afterEach(() => t.close());

  it("an owner grants membership: persisted with a clock tick, event, invitation to the new member", async () => {
    const out = await setAff(t, ALICE, item({ affiliation: "member", jid: "bob@example.net/ignored-resource" }, "welcome"));
    expect(out.map(summary)).toEqual([`iq(result) ${ROOM} -> ${ALICE}`, `message ${ROOM} -> bob@example.net`]);
    expect(out[1]?.getChild("x", NS.MUC_USER)?.getChild("invite")?.attrs["from"]).toBe("alice@example.org");
    expect(t.events).toEqual([
      {
        name: "affiliation-changed",
        payload: { room: ROOM, bareJid: "bob@example.net", from: "none", to: "member", actor: "alice@example.org", reason: "welcome", clock: 2 },
      },
    ]);
    expect(await t.store.getAffiliation(ROOM, "bob@example.net")).toMatchObject({ affiliation: "member", clock: 2, reason: "welcome" });

    // Setting the same affiliation again changes nothing.
    t.events.length = 0;
    await setAff(t, ALICE, item({ affiliation: "member", jid: "bob@example.net" }));
    expect(t.events).toEqual([]);
    expect((await t.store.getRoom(ROOM))?.affiliationClock).toBe(2);
  });

  it("lists: members and admins may read the member list in a non-anonymous room; only admins the ban list", async () => {
    await setAff(t, ALICE, item({ affiliation: "member", jid: "bob@example.net" }), item({ affiliation: "outcast", jid: "eve@evil.example" }, "spam"));
    await t.deliver(join(BOB, `${ROOM}/bob`));
    const members = await t.deliver(iq(BOB, ROOM, "get", adminQuery(item({ affiliation: "member" }))));
    const q = members[0]?.getChild("query", NS.MUC_ADMIN);
    expect(q?.getChildren("item").map((i) => i.attrs)).toEqual([{ affiliation: "member", jid: "bob@example.net", nick: "bob" }]);
    const owners = await t.deliver(iq(BOB, ROOM, "get", adminQuery(item({ affiliation: "owner" }))));
    expect(owners[0]?.getChild("query")?.getChildren("item").map((i) => i.attrs["jid"])).toEqual(["alice@example.org"]);

    const outcastsByMember = await t.deliver(iq(BOB, ROOM, "get", adminQuery(item({ affiliation: "outcast" }))));
    expect(errorCondition(outcastsByMember[0] as Element)).toBe("forbidden");
    const outcasts = await t.deliver(iq(ALICE, ROOM, "get", adminQuery(item({ affiliation: "outcast" }))));
    const ban = outcasts[0]?.getChild("query")?.getChild("item");
    expect(ban?.attrs).toEqual({ affiliation: "outcast", jid: "eve@evil.example" });
    expect(ban?.getChildText("reason")).toBe("spam");

    const stranger = await t.deliver(iq(CAROL, ROOM, "get", adminQuery(item({ affiliation: "member" }))));
    expect(errorCondition(stranger[0] as Element)).toBe("forbidden");
    const bad = await t.deliver(iq(ALICE, ROOM, "get", adminQuery(item({ affiliation: "king" }))));
    expect(errorCondition(bad[0] as Element)).toBe("bad-request");
    const noRoom = await t.deliver(iq(ALICE, `nope@${DOMAIN}`, "get", adminQuery(item({ affiliation: "member" }))));
    expect(errorCondition(noRoom[0] as Element)).toBe("item-not-found");
  });

  it("role lists for moderators", async () => {
    await setAff(t, ALICE, item({ affiliation: "member", jid: "bob@example.net" }));
    await t.deliver(join(BOB, `${ROOM}/bob`));
    const mods = await t.deliver(iq(ALICE, ROOM, "get", adminQuery(item({ role: "moderator" }))));
    expect(mods[0]?.getChild("query")?.getChildren("item").map((i) => i.attrs)).toEqual([
      { nick: "alice", role: "moderator", affiliation: "owner", jid: ALICE },
    ]);
    const byParticipant = await t.deliver(iq(BOB, ROOM, "get", adminQuery(item({ role: "participant" }))));
    expect(errorCondition(byParticipant[0] as Element)).toBe("forbidden");
  });

  it("permission table: admins manage members and outcasts only; members nothing", async () => {
    await setAff(t, ALICE, item({ affiliation: "admin", jid: "bob@example.net" }), item({ affiliation: "member", jid: "carol@example.com" }));
    // A member cannot grant membership.
    expect(errorCondition((await setAff(t, CAROL, item({ affiliation: "member", jid: "dave@example.com" })))[0] as Element)).toBe("forbidden");
    // An admin can, but cannot make admins or touch the owner.
    expect(iqResult(await setAff(t, BOB, item({ affiliation: "member", jid: "dave@example.com" })))?.attrs["type"]).toBe("result");
    expect(errorCondition((await setAff(t, BOB, item({ affiliation: "admin", jid: "dave@example.com" })))[0] as Element)).toBe("forbidden");
    expect(errorCondition((await setAff(t, BOB, item({ affiliation: "outcast", jid: "alice@example.org" })))[0] as Element)).toBe("not-allowed");
    // Nobody bans themselves.
    expect(errorCondition((await setAff(t, BOB, item({ affiliation: "outcast", jid: "bob@example.net" })))[0] as Element)).toBe("conflict");
    // The last owner stays.
    expect(errorCondition((await setAff(t, ALICE, item({ affiliation: "member", jid: "alice@example.org" })))[0] as Element)).toBe("conflict");
    // Anyone affiliated may leave a group by dropping their own affiliation.
    expect(iqResult(await setAff(t, CAROL, item({ affiliation: "none", jid: "carol@example.com" })))?.attrs["type"]).toBe("result");
    // Malformed items.
    expect(errorCondition((await setAff(t, ALICE, item({ affiliation: "member" })))[0] as Element)).toBe("bad-request");
    expect(errorCondition((await setAff(t, ALICE, item({ affiliation: "member", jid: "a b@x" })))[0] as Element)).toBe("jid-malformed");
    expect(errorCondition((await setAff(t, ALICE, item({ affiliation: "member", role: "none", jid: "d@x" })))[0] as Element)).toBe("bad-request");
    expect(errorCondition((await t.deliver(iq(ALICE, ROOM, "set", adminQuery())))[0] as Element)).toBe("bad-request");
  });

  it("is all-or-nothing: one refused item and nothing is written", async () => {
    await setAff(t, ALICE, item({ affiliation: "admin", jid: "bob@example.net" }));
    const clock = (await t.store.getRoom(ROOM))?.affiliationClock;
    const out = await setAff(t, BOB, item({ affiliation: "member", jid: "dave@example.com" }), item({ affiliation: "admin", jid: "carol@example.com" }));
    expect(errorCondition(out[0] as Element)).toBe("forbidden");
    expect(await t.store.getAffiliation(ROOM, "dave@example.com")).toBeUndefined();
    expect((await t.store.getRoom(ROOM))?.affiliationClock).toBe(clock);
  });

  it("a ban removes the user's sessions with 301 after the result, then affiliation-changed and occupant-left", async () => {
    await setAff(t, ALICE, item({ affiliation: "member", jid: "bob@example.net" }));
    await t.deliver(join(BOB, `${ROOM}/bob`));
    t.events.length = 0;
    const out = await setAff(t, ALICE, item({ affiliation: "outcast", jid: "bob@example.net" }, "spam"));
    expect(out.map(summary)).toEqual([
      `iq(result) ${ROOM} -> ${ALICE}`,
      `presence(unavailable) ${ROOM}/bob -> ${BOB} [110,301] outcast/none`,
      `presence(unavailable) ${ROOM}/bob -> ${ALICE} [301] outcast/none`,
    ]);
    const banned = out[1]?.getChild("x", NS.MUC_USER)?.getChild("item");
    expect(banned?.getChild("actor")?.attrs["nick"]).toBe("alice");
    expect(banned?.getChildText("reason")).toBe("spam");
    expect(t.events.map((e) => e.name)).toEqual(["affiliation-changed", "occupant-left"]);
    expect(t.events[1]?.payload).toMatchObject({ realJid: BOB, reason: "ban", affiliation: "outcast", actor: "alice@example.org", reasonText: "spam" });
    // And bob cannot come back.
    expect(errorCondition((await t.deliver(join(BOB, `${ROOM}/bob`)))[0] as Element)).toBe("forbidden");
  });

  it("revoking membership of a members-only room removes the occupant with 321 only", async () => {
    await setAff(t, ALICE, item({ affiliation: "member", jid: "bob@example.net" }));
    await t.deliver(join(BOB, `${ROOM}/bob`));
    t.events.length = 0;
    const out = await setAff(t, ALICE, item({ affiliation: "none", jid: "bob@example.net" }));
    expect(out.map(summary)).toEqual([
      `iq(result) ${ROOM} -> ${ALICE}`,
      `presence(unavailable) ${ROOM}/bob -> ${BOB} [110,321] none/none`,
      `presence(unavailable) ${ROOM}/bob -> ${ALICE} [321] none/none`,
    ]);
    expect(t.events.map((e) => [e.name, "reason" in e.payload ? e.payload.reason : undefined])).toEqual([
      ["affiliation-changed", undefined],
      ["occupant-left", "affiliation"],
    ]);
    expect((await t.store.getAffiliation(ROOM, "bob@example.net"))?.affiliation).toBe("none"); // tombstone
  });

  it("promoting an occupant re-broadcasts its presence with the new affiliation and role", async () => {
    await setAff(t, ALICE, item({ affiliation: "member", jid: "bob@example.net" }));
    await t.deliver(join(BOB, `${ROOM}/bob`));
    const out = await setAff(t, ALICE, item({ affiliation: "admin", nick: "bob" }));
    expect(out.map(summary)).toEqual([
      `iq(result) ${ROOM} -> ${ALICE}`,
      `presence ${ROOM}/bob -> ${ALICE} admin/moderator`,
      `presence ${ROOM}/bob -> ${BOB} [110] admin/moderator`,
    ]);
  });
});

describe("muc#admin: kick", () => {
  let t: TestService;
  beforeEach(async () => {
    t = await testService({ defaultKind: "channel" });
    await t.deliver(join(ALICE, `team@${DOMAIN}/alice`));
    await t.deliver(join(BOB, `${ROOM}/bob`));
    await t.deliver(join(CAROL, `${ROOM}/carol`));
    t.events.length = 0;
  });
  afterEach(() => t.close());

  it("a moderator kicks: 307 to the kicked, then the result, then the others", async () => {
    const out = await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ nick: "bob", role: "none" }, "behave"))));
    expect(out.map(summary)).toEqual([
      `presence(unavailable) ${ROOM}/bob -> ${BOB} [110,307] none/none`,
      `iq(result) ${ROOM} -> ${ALICE}`,
      `presence(unavailable) ${ROOM}/bob -> ${ALICE} [307] none/none`,
      `presence(unavailable) ${ROOM}/bob -> ${CAROL} [307] none/none`,
    ]);
    expect(out[0]?.getChild("x", NS.MUC_USER)?.getChild("item")?.getChildText("reason")).toBe("behave");
    expect(t.events).toEqual([
      {
        name: "occupant-left",
        payload: {
          room: ROOM,
          occupantJid: `${ROOM}/bob`,
          realJid: BOB,
          nick: "bob",
          role: "none",
          affiliation: "none",
          reason: "kick",
          occupantGone: true,
          actor: "alice@example.org",
          reasonText: "behave",
        },
      },
    ]);
    // A kicked user may come back (a kick is not a ban).
    const back = await t.deliver(join(BOB, `${ROOM}/bob`));
    expect(back.some((s) => s.attrs["type"] === "error")).toBe(false);
  });

  it("refuses kicks by participants, of higher affiliations, of oneself, of unknown nicks, and other role changes", async () => {
    expect(errorCondition((await t.deliver(iq(BOB, ROOM, "set", adminQuery(item({ nick: "carol", role: "none" })))))[0] as Element)).toBe("forbidden");
    await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ affiliation: "admin", jid: "bob@example.net" }))));
    expect(errorCondition((await t.deliver(iq(BOB, ROOM, "set", adminQuery(item({ nick: "alice", role: "none" })))))[0] as Element)).toBe("not-allowed");
    expect(errorCondition((await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ nick: "alice", role: "none" })))))[0] as Element)).toBe("conflict");
    expect(errorCondition((await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ nick: "zed", role: "none" })))))[0] as Element)).toBe("item-not-found");
    expect(errorCondition((await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ nick: "carol", role: "moderator" })))))[0] as Element)).toBe(
      "feature-not-implemented",
    );
    expect(errorCondition((await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ role: "none" })))))[0] as Element)).toBe("bad-request");
    // An owner who is not in the room can still kick.
    await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ affiliation: "owner", jid: "dave@example.com" }))));
    const out = await t.deliver(iq(DAVE, ROOM, "set", adminQuery(item({ nick: "carol", role: "none" }))));
    expect(out.find((s) => s.name === "iq")?.attrs["type"]).toBe("result");
  });
});
