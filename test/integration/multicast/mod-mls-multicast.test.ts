// component/prosody/mod_mls_multicast.lua on a real Prosody 0.12: one
// stanza from the trusted component with N addresses becomes N deliveries;
// anyone else, or a malformed request, gets a precise error and nothing is
// delivered (XEP-0033 §4.5, §4.6.3, §8).

import { readFile } from "node:fs/promises";

import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  connectClient,
  connectComponent,
  nextStanza,
  startProsody,
  type ProsodyHandle,
  type TestClient,
  type TestComponent,
} from "../harness/index.js";

const NS_ADDRESS = "http://jabber.org/protocol/address";
const NS_COMPACT = "urn:xmpp:mls:multicast:0";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";

const withPayload = (text: string) => (s: Element) => s.is("message") && s.getChildText("payload", "urn:example:test") === text;
const errorOf = (s: Element) => s.getChild("error")?.getChildElements()[0]?.name;

/** The payloads `client` receives that start with `prefix`, in arrival order, once `count` have come. */
function payloadsOf(client: TestClient, prefix: string, count: number): Promise<string[]> {
  const seen: string[] = [];
  const counted = (s: Element) => {
    const text = s.is("message") ? s.getChildText("payload", "urn:example:test") : null;
    if (text !== null && text.startsWith(prefix)) seen.push(text);
    return seen.length === count;
  };
  return nextStanza(client, counted, 10_000).then(() => seen);
}

/** Stops the connections a describe opened. */
async function stopAll(entities: readonly (TestClient | TestComponent | undefined)[]) {
  for (const c of entities) {
    if (!c) continue;
    c.reconnect.stop();
    await c.stop().catch(() => undefined);
  }
}

const compactTo = (service: string, id: string, text: string, list: string) =>
  xml(
    "message",
    { from: "room@mls.localhost/nick", to: service, type: "groupchat", id },
    xml("payload", { xmlns: "urn:example:test" }, text),
    xml("addresses", { xmlns: NS_COMPACT }, list),
  );

/**
 * A burst (stanzas back to back: their copies are left to Prosody's loop)
 * then lone stanzas (copies written as routed, unless the option is off):
 * every recipient gets every copy once, in the order sent.
 */
async function burstThenLone(component: TestComponent, service: string, recipients: readonly [TestClient, string][], prefix: string) {
  const burst = 40;
  const lone = 4;
  const sent = Array.from({ length: burst + lone }, (_, i) => `${prefix}-${i}`);
  const list = recipients.map(([, jid]) => jid).join("\n");
  const got = recipients.map(([client]) => payloadsOf(client, `${prefix}-`, sent.length));
  await Promise.all(sent.slice(0, burst).map((text) => component.send(compactTo(service, text, text, list))));
  for (const text of sent.slice(burst)) {
    await new Promise((r) => setTimeout(r, 30));
    await component.send(compactTo(service, text, text, list));
  }
  for (const payloads of await Promise.all(got)) expect(payloads).toEqual(sent);
}

describe("mod_mls_multicast (XEP-0033 multicast for the bridge)", () => {
  let prosody: ProsodyHandle;
  let component: TestComponent;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let service: string;

  beforeAll(async () => {
    prosody = await startProsody({ multicast: true });
    service = prosody.multicastDomain!;
    await prosody.createUsers(["alice", "bob", "carol"].map((u) => ({ username: u, password: `${u}-pw` })));
    const login = (u: string) =>
      connectClient({ service: prosody.c2sService, domain: prosody.host, username: u, password: `${u}-pw`, resource: "r1" });
    [alice, bob, carol] = await Promise.all([login("alice"), login("bob"), login("carol")]);
    await Promise.all([alice, bob, carol].map((c) => c.send(xml("presence"))));
    component = await connectComponent({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret });
  }, 180_000);

  afterAll(async () => {
    await stopAll([alice, bob, carol, component]);
    await prosody?.stop();
  });

  const multicast = (id: string, text: string, addresses: Element[], from = "room@mls.localhost/nick") =>
    xml(
      "message",
      { from, to: service, type: "groupchat", id },
      xml("payload", { xmlns: "urn:example:test" }, text),
      xml("addresses", { xmlns: NS_ADDRESS }, ...addresses),
    );
  const address = (type: string, jid: string, extra: Record<string, string> = {}) => xml("address", { type, jid, ...extra });

  it("answers disco#info with the multicast identity and the XEP-0033 feature", async () => {
    const info = await alice.iqCaller.request(xml("iq", { type: "get", to: service }, xml("query", { xmlns: NS_DISCO_INFO })));
    const query = info.getChild("query", NS_DISCO_INFO)!;
    expect(query.getChildren("identity").map((i) => `${i.attrs["category"]}/${i.attrs["type"]}`)).toContain("service/multicast");
    expect(query.getChildren("feature").map((f) => f.attrs["var"])).toEqual(expect.arrayContaining([NS_ADDRESS, NS_COMPACT]));
  });

  it("delivers one stanza to every bcc address, re-addressed, without the addresses", async () => {
    const got = [alice, bob, carol].map((c) => nextStanza(c, withPayload("hello all")));
    await component.send(
      multicast("m1", "hello all", [address("bcc", "alice@localhost/r1"), address("bcc", "bob@localhost/r1"), address("bcc", "carol@localhost/r1")]),
    );
    const copies = await Promise.all(got);
    copies.forEach((copy, i) => {
      expect(copy.attrs["to"]).toBe(`${["alice", "bob", "carol"][i]}@localhost/r1`);
      expect(copy.attrs["from"]).toBe("room@mls.localhost/nick");
      expect(copy.attrs["id"]).toBe("m1");
      expect(copy.attrs["type"]).toBe("groupchat");
      expect(copy.getChild("addresses", NS_ADDRESS)).toBeUndefined();
    });
  });

  it("keeps to/cc addresses, marked delivered, and hides bcc ones from everybody", async () => {
    const got = [alice, bob, carol].map((c) => nextStanza(c, withPayload("mixed")));
    await component.send(
      multicast("m2", "mixed", [address("to", "alice@localhost/r1"), address("cc", "bob@localhost/r1"), address("bcc", "carol@localhost/r1")]),
    );
    for (const copy of await Promise.all(got)) {
      const kept = copy.getChild("addresses", NS_ADDRESS)!.getChildren("address");
      expect(kept.map((a) => [a.attrs["type"], a.attrs["jid"], a.attrs["delivered"]])).toEqual([
        ["to", "alice@localhost/r1", "true"],
        ["cc", "bob@localhost/r1", "true"],
      ]);
    }
  });

  it("skips addresses already delivered", async () => {
    const toBob = nextStanza(bob, withPayload("partly done"));
    const toAlice = nextStanza(alice, withPayload("partly done"), 1_000);
    await component.send(
      multicast("m3", "partly done", [address("bcc", "alice@localhost/r1", { delivered: "true" }), address("bcc", "bob@localhost/r1")]),
    );
    await toBob;
    await expect(toAlice).rejects.toThrow(/no matching stanza/);
  });

  const compact = (id: string, text: string, list: string) => compactTo(service, id, text, list);

  it("delivers the compact form (one JID per line) to every line, without the list", async () => {
    const got = [alice, bob, carol].map((c) => nextStanza(c, withPayload("compact")));
    await component.send(compact("k1", "compact", "alice@localhost/r1\nbob@localhost/r1\ncarol@localhost/r1\n"));
    const copies = await Promise.all(got);
    copies.forEach((copy, i) => {
      expect(copy.attrs["to"]).toBe(`${["alice", "bob", "carol"][i]}@localhost/r1`);
      expect(copy.attrs["id"]).toBe("k1");
      expect(copy.getChild("addresses", NS_COMPACT)).toBeUndefined();
    });
  });

  const refused = async (from: TestClient | TestComponent, stanza: Element, condition: string) => {
    const watchers = [alice, bob, carol].map((c) => nextStanza(c, withPayload(stanza.getChildText("payload", "urn:example:test")!), 800));
    const error = nextStanza(from, (s) => s.is("message") && s.attrs["type"] === "error" && s.attrs["id"] === stanza.attrs["id"]);
    await from.send(stanza);
    const e = await error;
    expect(errorOf(e)).toBe(condition);
    expect(e.attrs["from"]).toBe(service);
    for (const w of watchers) await expect(w).rejects.toThrow(/no matching stanza/);
  };

  it("writes copies as routed outside bursts by default, and delivers a burst and lone stanzas once each, in order", async () => {
    expect(await readFile(prosody.logFile, "utf8")).toMatch(/copies written as they are routed outside bursts/);
    await burstThenLone(component, service, [[alice, "alice@localhost/r1"], [bob, "bob@localhost/r1"], [carol, "carol@localhost/r1"]], "order");
  });

  it("refuses senders that are not a trusted component (forbidden)", async () => {
    const stanza = multicast("c1", "from a client", [address("bcc", "bob@localhost/r1")]);
    delete stanza.attrs["from"];
    await refused(alice, stanza, "forbidden");
  });

  it("refuses an address without a jid or with a uri (jid-malformed)", async () => {
    await refused(component, multicast("c2", "no jid", [address("bcc", "bob@localhost/r1"), xml("address", { type: "bcc", uri: "mailto:x@example.org" })]), "jid-malformed");
  });

  it("refuses a stanza with nothing to deliver (bad-request)", async () => {
    await refused(component, multicast("c3", "nobody", [address("replyto", "alice@localhost/r1")]), "bad-request");
  });

  it("refuses more addresses than allowed (policy-violation), delivering none", async () => {
    const many = Array.from({ length: 1_001 }, (_, i) => (i === 0 ? "bob@localhost/r1" : `user${i}@localhost/x`));
    await refused(component, multicast("c4", "too many", many.map((jid) => address("bcc", jid))), "policy-violation");
    await refused(component, compact("c5", "too many, compact", many.join("\n")), "policy-violation");
  });

  it("refuses a compact list with a line that is not a JID, or with no line", async () => {
    await refused(component, compact("c6", "bad line", "bob@localhost/r1\n@/x"), "jid-malformed");
    await refused(component, compact("c7", "empty list", "\n"), "bad-request");
  });

  it("refuses the compact form from anyone but a trusted component", async () => {
    const stanza = compact("c8", "compact from a client", "bob@localhost/r1");
    delete stanza.attrs["from"];
    await refused(alice, stanza, "forbidden");
  });
});

describe("mod_mls_multicast with multicast_write_at_once = false", () => {
  let prosody: ProsodyHandle;
  let component: TestComponent;
  let clients: TestClient[] = [];

  beforeAll(async () => {
    prosody = await startProsody({ multicast: true, multicastWriteAtOnce: false });
    await prosody.createUsers(["dave", "erin"].map((u) => ({ username: u, password: `${u}-pw` })));
    clients = await Promise.all(
      ["dave", "erin"].map((u) =>
        connectClient({ service: prosody.c2sService, domain: prosody.host, username: u, password: `${u}-pw`, resource: "r1" }),
      ),
    );
    await Promise.all(clients.map((c) => c.send(xml("presence"))));
    component = await connectComponent({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret });
  }, 180_000);

  afterAll(async () => {
    await stopAll([...clients, component]);
    await prosody?.stop();
  });

  it("says so at load and leaves every copy to Prosody's loop, delivering all in order", async () => {
    const log = await readFile(prosody.logFile, "utf8");
    expect(log).toMatch(/copies written on the next loop turn/);
    expect(log).not.toMatch(/copies written as they are routed/);
    await burstThenLone(component, prosody.multicastDomain!, [[clients[0]!, "dave@localhost/r1"], [clients[1]!, "erin@localhost/r1"]], "loop");
  });
});
