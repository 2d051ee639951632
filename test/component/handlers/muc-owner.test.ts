import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { NS } from "../../../component/xmpp/ns.js";
import { xml, type Element } from "../../../component/xmpp/xml.js";
import { adminQuery, ALICE, BOB, CAROL, DOMAIN, errorCondition, iq, item, join, summary, testService, type TestService } from "../helpers.js";

const ROOM = `lobby@${DOMAIN}`;

function submit(fields: Record<string, string>, type = "submit"): Element {
  return xml(
    "query",
    { xmlns: NS.MUC_OWNER },
    xml(
      "x",
      { xmlns: NS.DATA, type },
      ...Object.entries(fields).map(([k, v]) => xml("field", { var: k }, xml("value", {}, v))),
    ),
  );
}

function formValues(stanza: Element): Record<string, string[]> {
  const x = stanza.getChild("query", NS.MUC_OWNER)?.getChild("x", NS.DATA);
  const out: Record<string, string[]> = {};
  for (const f of x?.getChildren("field") ?? []) out[f.attrs["var"] as string] = f.getChildren("value").map((v) => v.getText());
  return out;
}

describe("muc#owner", () => {
  let t: TestService;
  beforeEach(async () => {
    t = await testService({ defaultKind: "channel" });
    await t.deliver(join(ALICE, `${ROOM}/alice`));
    await t.deliver(join(BOB, `${ROOM}/bob`));
    t.events.length = 0;
  });
  afterEach(() => t.close());

  it("the configuration form round-trips: get, submit, get again (persisted), with 104 to occupants and an event", async () => {
    const form = await t.deliver(iq(ALICE, ROOM, "get", xml("query", { xmlns: NS.MUC_OWNER })));
    expect(formValues(form[0] as Element)).toEqual({
      FORM_TYPE: [NS.MUC_ROOMCONFIG],
      "muc#roomconfig_roomname": [""],
      "muc#roomconfig_roomdesc": [""],
      "muc#roomconfig_membersonly": ["0"],
      "muc#roomconfig_persistentroom": ["1"],
      "muc#roomconfig_publicroom": ["1"],
      "muc#roomconfig_changesubject": ["0"],
      "muc#roomconfig_whois": ["anyone"],
    });

    const out = await t.deliver(
      iq(ALICE, ROOM, "set", submit({ FORM_TYPE: NS.MUC_ROOMCONFIG, "muc#roomconfig_roomname": "Lobby", "muc#roomconfig_roomdesc": "Say hi", "muc#roomconfig_changesubject": "true" })),
    );
    expect(out.map(summary)).toEqual([
      `iq(result) ${ROOM} -> ${ALICE}`,
      `message(groupchat) ${ROOM} -> ${ALICE} [104]`,
      `message(groupchat) ${ROOM} -> ${BOB} [104]`,
    ]);
    expect(t.events).toEqual([
      {
        name: "room-config-changed",
        payload: {
          room: ROOM,
          actor: "alice@example.org",
          before: { kind: "channel", persistent: true, name: "", config: { description: "", changeSubject: false, publicRoom: true, whois: "anyone" } },
          after: { kind: "channel", persistent: true, name: "Lobby", config: { description: "Say hi", changeSubject: true, publicRoom: true, whois: "anyone" } },
        },
      },
    ]);
    expect(await t.store.getRoom(ROOM)).toMatchObject({ name: "Lobby", config: { description: "Say hi", changeSubject: true } });
    const again = await t.deliver(iq(ALICE, ROOM, "get", xml("query", { xmlns: NS.MUC_OWNER })));
    expect(formValues(again[0] as Element)).toMatchObject({ "muc#roomconfig_roomname": ["Lobby"], "muc#roomconfig_changesubject": ["1"] });
  });

  it("an instant-room submit, a cancel, and an unchanged form change nothing", async () => {
    for (const q of [submit({}), submit({}, "cancel"), submit({ "muc#roomconfig_membersonly": "0" })]) {
      const out = await t.deliver(iq(ALICE, ROOM, "set", q));
      expect(out.map(summary)).toEqual([`iq(result) ${ROOM} -> ${ALICE}`]);
    }
    expect(t.events).toEqual([]);
  });

  it("refuses non-owners and unsupported or malformed values", async () => {
    expect(errorCondition((await t.deliver(iq(BOB, ROOM, "get", xml("query", { xmlns: NS.MUC_OWNER }))))[0] as Element)).toBe("forbidden");
    expect(errorCondition((await t.deliver(iq(BOB, ROOM, "set", submit({ "muc#roomconfig_roomname": "x" }))))[0] as Element)).toBe("forbidden");
    const cases: Array<[Record<string, string>, string]> = [
      [{ "muc#roomconfig_whois": "moderators" }, "not-acceptable"],
      [{ "muc#roomconfig_moderatedroom": "1" }, "not-acceptable"],
      [{ "muc#roomconfig_passwordprotectedroom": "1" }, "not-acceptable"],
      [{ "muc#roomconfig_membersonly": "1", "muc#roomconfig_persistentroom": "0" }, "not-acceptable"],
      [{ "muc#roomconfig_membersonly": "maybe" }, "bad-request"],
      [{ FORM_TYPE: "urn:other" }, "bad-request"],
    ];
    for (const [fields, condition] of cases) {
      const out = await t.deliver(iq(ALICE, ROOM, "set", submit(fields)));
      expect([fields, errorCondition(out[0] as Element)]).toEqual([fields, condition]);
    }
    const two = await t.deliver(iq(ALICE, ROOM, "set", xml("query", { xmlns: NS.MUC_OWNER }, xml("x", { xmlns: NS.DATA, type: "submit" }), xml("destroy"))));
    expect(errorCondition(two[0] as Element)).toBe("bad-request");
    expect(t.events).toEqual([]);
  });

  it("making a channel members-only turns it into a group and removes non-members with 322", async () => {
    await t.deliver(join(CAROL, `${ROOM}/carol`));
    await t.deliver(iq(ALICE, ROOM, "set", adminQuery(item({ affiliation: "member", jid: "carol@example.com" }))));
    t.events.length = 0;
    const out = await t.deliver(iq(ALICE, ROOM, "set", submit({ "muc#roomconfig_membersonly": "1" })));
    expect(out.map(summary)).toEqual([
      `iq(result) ${ROOM} -> ${ALICE}`,
      `presence(unavailable) ${ROOM}/bob -> ${BOB} [110,322] none/none`,
      `presence(unavailable) ${ROOM}/bob -> ${ALICE} [322] none/none`,
      `presence(unavailable) ${ROOM}/bob -> ${CAROL} [322] none/none`,
      `message(groupchat) ${ROOM} -> ${ALICE} [104]`,
      `message(groupchat) ${ROOM} -> ${CAROL} [104]`,
    ]);
    expect((await t.store.getRoom(ROOM))?.kind).toBe("group");
    expect(t.events.map((e) => e.name)).toEqual(["room-config-changed", "occupant-left"]);
    expect(t.events[1]?.payload).toMatchObject({ realJid: BOB, reason: "members-only" });
  });

  it("destroying a room: one unavailable with <destroy/> per session, then the result; deleted; events", async () => {
    const destroy = xml("query", { xmlns: NS.MUC_OWNER }, xml("destroy", { jid: `other@${DOMAIN}` }, xml("reason", {}, "moving")));
    expect(errorCondition((await t.deliver(iq(BOB, ROOM, "set", destroy)))[0] as Element)).toBe("forbidden");
    const out = await t.deliver(iq(ALICE, ROOM, "set", destroy));
    expect(out.map(summary)).toEqual([
      `presence(unavailable) ${ROOM}/alice -> ${ALICE} [110] none/none`,
      `presence(unavailable) ${ROOM}/bob -> ${BOB} [110] none/none`,
      `iq(result) ${ROOM} -> ${ALICE}`,
    ]);
    const d = out[1]?.getChild("x", NS.MUC_USER)?.getChild("destroy");
    expect(d?.attrs["jid"]).toBe(`other@${DOMAIN}`);
    expect(d?.getChildText("reason")).toBe("moving");
    expect(await t.store.getRoom(ROOM)).toBeUndefined();
    expect(await t.store.listAffiliations(ROOM, { includeNone: true })).toEqual([]);
    expect(t.events.map((e) => e.name)).toEqual(["occupant-left", "occupant-left", "room-destroyed"]);
    expect(t.events[2]?.payload).toEqual({ room: ROOM, cause: "owner", actor: "alice@example.org", reason: "moving", alternateVenue: `other@${DOMAIN}` });
    // The room is gone: a new join creates a fresh one, owned by whoever joins first.
    const fresh = await t.deliver(join(BOB, `${ROOM}/bob`));
    expect(fresh[0] && summary(fresh[0])).toBe(`presence ${ROOM}/bob -> ${BOB} [100,110,201] owner/moderator`);
  });
});
