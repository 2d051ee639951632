// The MUC subset against a real Prosody: our component runs in process and
// connects to the harness's Prosody over XEP-0114; users log in over c2s.
// One story, in order (each step builds on the previous ones).

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { xml, type Element } from "@xmpp/xml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { RunningComponent } from "../../../component/main.js";
import { nextStanza, startProsody, type ProsodyHandle, type TestClient } from "../harness/index.js";
import {
  collect,
  errorCondition,
  joinRoom,
  login,
  mucItem,
  NS_MUC,
  NS_MUC_ADMIN,
  NS_MUC_OWNER,
  NS_MUC_USER,
  NS_STANZAS,
  request,
  startOurComponent,
  statusCodes,
  waitFor,
} from "./helpers.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const NS_DATA = "jabber:x:data";
const NS_SID = "urn:xmpp:sid:0";
const NS_MLS = "urn:xmpp:mls:0";

describe("MUC rooms against Prosody", () => {
  let prosody: ProsodyHandle;
  let component: RunningComponent;
  let dir: string;
  let dbPath: string;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let DOMAIN: string;
  let ROOM: string;
  const clients: TestClient[] = [];

  const open = async (user: string, resource: string) => {
    const c = await login(prosody, user, resource);
    clients.push(c);
    return c;
  };
  const closeClients = async () => {
    for (const c of clients.splice(0)) {
      c.reconnect.stop();
      await c.stop().catch(() => undefined);
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "xmb-muc-it-"));
    dbPath = path.join(dir, "rooms.sqlite");
    prosody = await startProsody();
    await prosody.createUsers(["alice", "bob", "carol"].map((username) => ({ username, password: "pw" })));
    DOMAIN = prosody.componentDomain;
    ROOM = `team@${DOMAIN}`;
    component = await startOurComponent(prosody, dbPath);
    [alice, bob, carol] = await Promise.all([open("alice", "laptop"), open("bob", "desktop"), open("carol", "tablet")]);
  }, 180_000);

  afterAll(async () => {
    await closeClients();
    await component?.stop();
    await prosody?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("disco#info on the component: a conference service with MUC and MLS", async () => {
    const r = await request(alice, DOMAIN, "get", xml("query", { xmlns: NS_DISCO_INFO }));
    expect(r.attrs["type"]).toBe("result");
    const q = r.getChild("query", NS_DISCO_INFO) as Element;
    expect(q.getChild("identity")?.attrs).toMatchObject({ category: "conference", type: "text" });
    const features = q.getChildren("feature").map((f) => f.attrs["var"]);
    expect(features).toEqual(expect.arrayContaining([NS_MUC, NS_MLS]));
  });

  it("alice creates a room by joining it: owner, 110/100/201, then the subject", async () => {
    const subject = nextStanza(alice, (s) => s.is("message") && s.getChild("subject") !== undefined);
    const self = await joinRoom(alice, `${ROOM}/alice`);
    expect(self.attrs["from"]).toBe(`${ROOM}/alice`);
    expect(statusCodes(self).sort()).toEqual([100, 110, 201]);
    expect(mucItem(self)).toMatchObject({ affiliation: "owner", role: "moderator", jid: "alice@localhost/laptop" });
    expect((await subject).attrs["from"]).toBe(ROOM);
  });

  it("a members-only room refuses bob until alice grants him membership (member list get/set)", async () => {
    const refused = await joinRoom(bob, `${ROOM}/bob`);
    expect(refused.attrs["type"]).toBe("error");
    expect(errorCondition(refused)).toBe("registration-required");

    const invite = nextStanza(bob, (s) => s.is("message") && s.getChild("x", NS_MUC_USER)?.getChild("invite") !== undefined);
    const set = await request(alice, ROOM, "set", xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { affiliation: "member", jid: "bob@localhost" })));
    expect(set.attrs["type"]).toBe("result");
    expect((await invite).attrs["from"]).toBe(ROOM);

    const list = await request(alice, ROOM, "get", xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { affiliation: "member" })));
    expect(list.getChild("query", NS_MUC_ADMIN)?.getChildren("item").map((i) => i.attrs)).toEqual([{ affiliation: "member", jid: "bob@localhost" }]);
  });

  it("bob joins: he gets alice's presence then his own; alice gets his", async () => {
    const bobSees = collect(bob);
    const aliceGetsBob = nextStanza(alice, (s) => s.is("presence") && s.attrs["from"] === `${ROOM}/bob`);
    const self = await joinRoom(bob, `${ROOM}/bob`);
    bobSees.stop();
    expect(mucItem(self)).toMatchObject({ affiliation: "member", role: "participant" });
    const presences = bobSees.stanzas.filter((s) => s.is("presence"));
    expect(presences.map((p) => p.attrs["from"])).toEqual([`${ROOM}/alice`, `${ROOM}/bob`]);
    expect(mucItem(await aliceGetsBob)).toMatchObject({ affiliation: "member", role: "participant", jid: "bob@localhost/desktop" });
  });

  it("groupchat messages reach every occupant with the room's stanza-id; non-occupants are refused", async () => {
    const atAlice = nextStanza(alice, (s) => s.is("message") && s.getChildText("body") === "hello room");
    const atBob = nextStanza(bob, (s) => s.is("message") && s.getChildText("body") === "hello room");
    await bob.send(xml("message", { to: ROOM, type: "groupchat", id: "m-1" }, xml("body", {}, "hello room"), xml("origin-id", { xmlns: NS_SID, id: "o-1" })));
    const [a, b] = await Promise.all([atAlice, atBob]);
    expect(a.attrs).toMatchObject({ from: `${ROOM}/bob`, type: "groupchat", id: "m-1" });
    expect(a.getChild("stanza-id", NS_SID)?.attrs["by"]).toBe(ROOM);
    expect(a.getChild("stanza-id", NS_SID)?.attrs["id"]).toBe(b.getChild("stanza-id", NS_SID)?.attrs["id"]);
    expect(a.getChild("origin-id", NS_SID)?.attrs["id"]).toBe("o-1");

    const refused = nextStanza(carol, (s) => s.is("message") && s.attrs["type"] === "error");
    await carol.send(xml("message", { to: ROOM, type: "groupchat", id: "m-2" }, xml("body", {}, "let me in")));
    expect(errorCondition(await refused)).toBe("not-acceptable");
  });

  it("the owner sets the subject; everyone gets it", async () => {
    const atBob = nextStanza(bob, (s) => s.is("message") && s.getChildText("subject") === "Plans");
    await alice.send(xml("message", { to: ROOM, type: "groupchat" }, xml("subject", {}, "Plans")));
    expect((await atBob).attrs["from"]).toBe(`${ROOM}/alice`);
    const refused = nextStanza(bob, (s) => s.is("message") && s.attrs["type"] === "error");
    await bob.send(xml("message", { to: ROOM, type: "groupchat" }, xml("subject", {}, "Mine")));
    expect(errorCondition(await refused)).toBe("forbidden");
  });

  it("the configuration form round-trips", async () => {
    const form = await request(alice, ROOM, "get", xml("query", { xmlns: NS_MUC_OWNER }));
    const fields = form.getChild("query", NS_MUC_OWNER)?.getChild("x", NS_DATA)?.getChildren("field") ?? [];
    expect(fields.find((f) => f.attrs["var"] === "muc#roomconfig_membersonly")?.getChildText("value")).toBe("1");
    const notice = nextStanza(bob, (s) => s.is("message") && statusCodes(s).includes(104));
    const submit = xml(
      "query",
      { xmlns: NS_MUC_OWNER },
      xml(
        "x",
        { xmlns: NS_DATA, type: "submit" },
        xml("field", { var: "FORM_TYPE" }, xml("value", {}, "http://jabber.org/protocol/muc#roomconfig")),
        xml("field", { var: "muc#roomconfig_roomname" }, xml("value", {}, "The Team")),
        xml("field", { var: "muc#roomconfig_roomdesc" }, xml("value", {}, "Where we plan")),
      ),
    );
    expect((await request(alice, ROOM, "set", submit)).attrs["type"]).toBe("result");
    await notice;
    const again = await request(alice, ROOM, "get", xml("query", { xmlns: NS_MUC_OWNER }));
    const values = Object.fromEntries(
      (again.getChild("query", NS_MUC_OWNER)?.getChild("x", NS_DATA)?.getChildren("field") ?? []).map((f) => [f.attrs["var"], f.getChildText("value")]),
    );
    expect(values).toMatchObject({ "muc#roomconfig_roomname": "The Team", "muc#roomconfig_roomdesc": "Where we plan" });
    expect((await request(bob, ROOM, "get", xml("query", { xmlns: NS_MUC_OWNER }))).attrs["type"]).toBe("error");
  });

  it("disco#info on the room (members only) and disco#items (group rooms only for members)", async () => {
    const info = await request(bob, ROOM, "get", xml("query", { xmlns: NS_DISCO_INFO }));
    const q = info.getChild("query", NS_DISCO_INFO) as Element;
    expect(q.getChild("identity")?.attrs).toMatchObject({ category: "conference", type: "text", name: "The Team" });
    expect(q.getChildren("feature").map((f) => f.attrs["var"])).toEqual(
      expect.arrayContaining([NS_MUC, NS_MLS, "muc_membersonly", "muc_persistent", "muc_nonanonymous", "muc_unmoderated", "muc_unsecured", "muc_hidden"]),
    );
    const roominfo = q.getChild("x", NS_DATA)?.getChildren("field") ?? [];
    expect(roominfo.find((f) => f.attrs["var"] === "muc#roominfo_occupants")?.getChildText("value")).toBe("2");
    expect(errorCondition(await request(carol, ROOM, "get", xml("query", { xmlns: NS_DISCO_INFO })))).toBe("item-not-found");

    const forBob = await request(bob, DOMAIN, "get", xml("query", { xmlns: NS_DISCO_ITEMS }));
    expect(forBob.getChild("query", NS_DISCO_ITEMS)?.getChildren("item").map((i) => i.attrs)).toEqual([{ jid: ROOM, name: "The Team" }]);
    const forCarol = await request(carol, DOMAIN, "get", xml("query", { xmlns: NS_DISCO_ITEMS }));
    expect(forCarol.getChild("query", NS_DISCO_ITEMS)?.getChildren("item")).toEqual([]);
    const roomItems = await request(bob, ROOM, "get", xml("query", { xmlns: NS_DISCO_ITEMS }));
    expect(roomItems.attrs["type"]).toBe("result");
  });

  it("a moderator kicks bob (307); bob may come back", async () => {
    const kicked = nextStanza(bob, (s) => s.is("presence") && s.attrs["type"] === "unavailable");
    const seenByAlice = nextStanza(alice, (s) => s.is("presence") && s.attrs["type"] === "unavailable" && s.attrs["from"] === `${ROOM}/bob`);
    const r = await request(alice, ROOM, "set", xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { nick: "bob", role: "none" }, xml("reason", {}, "calm down"))));
    expect(r.attrs["type"]).toBe("result");
    const k = await kicked;
    expect(statusCodes(k).sort()).toEqual([110, 307]);
    expect(s(k)).toContain("calm down");
    expect(statusCodes(await seenByAlice)).toEqual([307]);
    const back = await joinRoom(bob, `${ROOM}/bob`);
    expect(back.attrs["type"]).toBeUndefined();
  });

  it("banning bob removes him (301) and keeps him out", async () => {
    const banned = nextStanza(bob, (s) => s.is("presence") && s.attrs["type"] === "unavailable");
    const r = await request(alice, ROOM, "set", xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { affiliation: "outcast", jid: "bob@localhost" })));
    expect(r.attrs["type"]).toBe("result");
    const b = await banned;
    expect(statusCodes(b).sort()).toEqual([110, 301]);
    expect(mucItem(b)).toMatchObject({ affiliation: "outcast", role: "none" });
    const again = await joinRoom(bob, `${ROOM}/bob`);
    expect(errorCondition(again)).toBe("forbidden");
    const outcasts = await request(alice, ROOM, "get", xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { affiliation: "outcast" })));
    expect(outcasts.getChild("query", NS_MUC_ADMIN)?.getChildren("item").map((i) => i.attrs["jid"])).toEqual(["bob@localhost"]);
  });

  it("malformed stanzas get errors: unknown namespace, missing nick, bad JIDs, bad admin items", async () => {
    const unknown = await request(carol, DOMAIN, "get", xml("query", { xmlns: "urn:example:nothing" }));
    expect(errorCondition(unknown)).toBe("service-unavailable");
    expect(unknown.getChild("error")?.getChildText("text", NS_STANZAS)).toMatch(/no service/); // answered by our router, once

    const noNick = nextStanza(carol, (s) => s.is("presence") && s.attrs["type"] === "error");
    await carol.send(xml("presence", { to: ROOM }, xml("x", { xmlns: NS_MUC })));
    expect(errorCondition(await noNick)).toBe("jid-malformed");

    // A JID Prosody lets through but we refuse: a nick of blanks.
    const invisible = await joinRoom(carol, `${ROOM}/  `);
    expect(errorCondition(invisible)).toBe("jid-malformed");

    // A JID that is not one at all: Prosody answers before it reaches us (our router would too: unit tests).
    const bad = nextStanza(carol, (s) => s.is("message") && s.attrs["type"] === "error");
    await carol.send(xml("message", { to: `bad jid@${DOMAIN}`, type: "chat" }, xml("body", {}, "x")));
    expect(errorCondition(await bad)).toBe("jid-malformed");

    const badItem = await request(alice, ROOM, "set", xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { affiliation: "member" })));
    expect(errorCondition(badItem)).toBe("bad-request");
    const noRoom = await request(carol, `nowhere@${DOMAIN}`, "get", xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { affiliation: "member" })));
    expect(errorCondition(noRoom)).toBe("item-not-found");
  });

  it("Prosody crashes and restarts: the component reconnects with backoff; rooms, affiliations and config persist; ghosts go", async () => {
    const states: string[] = [];
    const off = component.connection.on("state", (st) => void states.push(st));
    // A crash: no unavailable presence reaches the room, so alice's session becomes a ghost.
    await prosody.kill("SIGKILL");
    await waitFor(() => states.filter((st) => st === "connecting").length >= 3, 10_000, "a few refused attempts");
    await prosody.restart();
    await waitFor(() => component.connection.online, 15_000, "component back online");
    off();
    expect(states[0]).toBe("waiting");
    expect(states.at(-1)).toBe("online");
    await closeClients();

    alice = await open("alice", "laptop2");
    const self = await joinRoom(alice, `${ROOM}/alice`);
    expect(statusCodes(self)).not.toContain(201);
    expect(mucItem(self)).toMatchObject({ affiliation: "owner" });
    const room = await component.service.host.load(ROOM);
    expect(room?.bySessionJid("alice@localhost/laptop")).toBeDefined(); // the ghost, sharing the nick

    // A groupchat message to the ghost bounces (RFC 6121 §8.5.3.2.1), and the ghost is removed (XEP-0045 §15.5).
    const echo = nextStanza(alice, (st) => st.is("message") && st.getChildText("body") === "anyone?");
    await alice.send(xml("message", { to: ROOM, type: "groupchat" }, xml("body", {}, "anyone?")));
    await echo;
    await waitFor(() => room?.bySessionJid("alice@localhost/laptop") === undefined, 5_000, "ghost removed");
    expect(room?.bySessionJid("alice@localhost/laptop2")).toBeDefined();
  });

  it("the component restarts over the same database: the room is still there", async () => {
    await component.stop();
    component = await startOurComponent(prosody, dbPath);
    const bob2 = await open("bob", "desktop2");
    expect(errorCondition(await joinRoom(bob2, `${ROOM}/bob`))).toBe("forbidden"); // still banned
    const alice3 = await open("alice", "laptop3");
    const self = await joinRoom(alice3, `${ROOM}/alice`);
    expect(statusCodes(self)).not.toContain(201);
    expect(mucItem(self)).toMatchObject({ affiliation: "owner" });
    const info = await request(alice3, ROOM, "get", xml("query", { xmlns: NS_DISCO_INFO }));
    expect(info.getChild("query", NS_DISCO_INFO)?.getChild("identity")?.attrs["name"]).toBe("The Team");
  });

  it("the owner destroys the room", async () => {
    const alice4 = await open("alice", "laptop4");
    await joinRoom(alice4, `${ROOM}/alice`);
    const gone = nextStanza(alice4, (s) => s.is("presence") && s.attrs["type"] === "unavailable" && s.getChild("x", NS_MUC_USER)?.getChild("destroy") !== undefined);
    const r = await request(alice4, ROOM, "set", xml("query", { xmlns: NS_MUC_OWNER }, xml("destroy", {}, xml("reason", {}, "done"))));
    expect(r.attrs["type"]).toBe("result");
    await gone;
    expect(errorCondition(await request(alice4, ROOM, "get", xml("query", { xmlns: NS_DISCO_INFO })))).toBe("item-not-found");
  });
});

function s(el: Element): string {
  return el.toString();
}
