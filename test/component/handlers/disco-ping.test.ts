import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { NS } from "../../../component/xmpp/ns.js";
import { xml, type Element } from "../../../component/xmpp/xml.js";
import { adminQuery, ALICE, BOB, CAROL, DOMAIN, errorCondition, iq, item, join, testService, type TestService } from "../helpers.js";

const GROUP = `team@${DOMAIN}`;
const CHAN = `lobby@${DOMAIN}`;

const info = (from: string, to: string, node?: string) => iq(from, to, "get", xml("query", node ? { xmlns: NS.DISCO_INFO, node } : { xmlns: NS.DISCO_INFO }));
const items = (from: string, to: string) => iq(from, to, "get", xml("query", { xmlns: NS.DISCO_ITEMS }));
const ping = (from: string, to: string) => iq(from, to, "get", xml("ping", { xmlns: NS.PING }));

function features(reply: Element): string[] {
  return (reply.getChild("query", NS.DISCO_INFO)?.getChildren("feature") ?? []).map((f) => f.attrs["var"] as string);
}

describe("disco and ping", () => {
  let t: TestService;
  beforeEach(async () => {
    t = await testService({ defaultKind: "group" });
    await t.deliver(join(ALICE, `${GROUP}/alice`));
    // A channel: make alice's second room open.
    await t.deliver(join(ALICE, `${CHAN}/alice`));
    await t.deliver(
      iq(ALICE, CHAN, "set", xml("query", { xmlns: NS.MUC_OWNER }, xml("x", { xmlns: NS.DATA, type: "submit" }, xml("field", { var: "muc#roomconfig_membersonly" }, xml("value", {}, "0")), xml("field", { var: "muc#roomconfig_publicroom" }, xml("value", {}, "1")), xml("field", { var: "muc#roomconfig_roomname" }, xml("value", {}, "The Lobby"))))),
    );
    await t.deliver(iq(ALICE, GROUP, "set", adminQuery(item({ affiliation: "member", jid: "bob@example.net" }))));
  });
  afterEach(() => t.close());

  it("the service: conference/text identity, MUC and MLS features", async () => {
    const out = await t.deliver(info(CAROL, DOMAIN));
    const q = out[0]?.getChild("query", NS.DISCO_INFO);
    expect(q?.getChild("identity")?.attrs).toEqual({ category: "conference", type: "text", name: "MLS rooms" });
    expect(features(out[0] as Element)).toEqual(expect.arrayContaining([NS.MUC, NS.MLS, NS.DISCO_INFO, NS.DISCO_ITEMS, NS.PING, NS.SID]));
    expect(errorCondition((await t.deliver(info(CAROL, DOMAIN, "some-node")))[0] as Element)).toBe("item-not-found");
  });

  it("other layers can add service features and forms", async () => {
    t.service.disco.serviceFeatures.push("urn:example:extra");
    t.service.disco.serviceForms.push(() => [xml("x", { xmlns: NS.DATA, type: "result" })]);
    const out = await t.deliver(info(CAROL, DOMAIN));
    expect(features(out[0] as Element)).toContain("urn:example:extra");
    expect(out[0]?.getChild("query")?.getChild("x", NS.DATA)).toBeDefined();
  });

  it("service items: public channels for everyone, group rooms only for their members", async () => {
    const forCarol = await t.deliver(items(CAROL, DOMAIN));
    expect(forCarol[0]?.getChild("query", NS.DISCO_ITEMS)?.getChildren("item").map((i) => i.attrs)).toEqual([{ jid: CHAN, name: "The Lobby" }]);
    const forBob = await t.deliver(items(BOB, DOMAIN));
    expect(forBob[0]?.getChild("query")?.getChildren("item").map((i) => i.attrs["jid"])).toEqual([CHAN, GROUP]);
  });

  it("room info: features, identity and muc#roominfo; group rooms hidden from outsiders", async () => {
    const chan = await t.deliver(info(CAROL, CHAN));
    expect(chan[0]?.getChild("query")?.getChild("identity")?.attrs).toEqual({ category: "conference", type: "text", name: "The Lobby" });
    expect(features(chan[0] as Element)).toEqual(
      expect.arrayContaining([NS.MUC, NS.MLS, "muc_open", "muc_persistent", "muc_nonanonymous", "muc_public", "muc_unmoderated", "muc_unsecured"]),
    );
    const form = chan[0]?.getChild("query")?.getChild("x", NS.DATA);
    const field = (v: string) => form?.getChildren("field").find((f) => f.attrs["var"] === v)?.getChildText("value");
    expect(field("FORM_TYPE")).toBe(NS.MUC_ROOMINFO);
    expect(field("muc#roominfo_occupants")).toBe("1");

    expect(errorCondition((await t.deliver(info(CAROL, GROUP)))[0] as Element)).toBe("item-not-found");
    expect(errorCondition((await t.deliver(items(CAROL, GROUP)))[0] as Element)).toBe("item-not-found");
    const group = await t.deliver(info(BOB, GROUP));
    expect(features(group[0] as Element)).toEqual(expect.arrayContaining(["muc_membersonly", "muc_hidden", "muc_persistent", "muc_nonanonymous"]));
    const roomItems = await t.deliver(items(BOB, GROUP));
    expect(roomItems[0]?.getChild("query", NS.DISCO_ITEMS)?.getChildren("item")).toEqual([]);

    expect(errorCondition((await t.deliver(info(CAROL, `nope@${DOMAIN}`)))[0] as Element)).toBe("item-not-found");
    expect(errorCondition((await t.deliver(info(CAROL, CHAN, NS.MUC_TRAFFIC)))[0] as Element)).toBe("service-unavailable");
    expect(errorCondition((await t.deliver(info(CAROL, `${CHAN}/alice`)))[0] as Element)).toBe("bad-request");
    expect(errorCondition((await t.deliver(info(ALICE, `${CHAN}/alice`)))[0] as Element)).toBe("service-unavailable");
  });

  it("ping: the service, rooms, and self-ping to one's own occupant JID (XEP-0410)", async () => {
    expect((await t.deliver(ping(CAROL, DOMAIN)))[0]?.attrs["type"]).toBe("result");
    expect((await t.deliver(ping(CAROL, CHAN)))[0]?.attrs["type"]).toBe("result");
    expect(errorCondition((await t.deliver(ping(CAROL, `nope@${DOMAIN}`)))[0] as Element)).toBe("item-not-found");
    expect((await t.deliver(ping(ALICE, `${CHAN}/alice`)))[0]?.attrs["type"]).toBe("result");
    expect(errorCondition((await t.deliver(ping(CAROL, `${CHAN}/alice`)))[0] as Element)).toBe("not-acceptable");
  });
});
