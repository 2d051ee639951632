// component/multicast.ts: the fan-out through an XEP-0033 service is used
// only after the service said it speaks XEP-0033, is split in chunks, and a
// refusal re-sends the fan-out directly and turns the service off until the
// next connection.

import { describe, expect, it } from "vitest";

import { createLogger } from "../../config/index.js";
import { Multicast, NS_ADDRESS, NS_COMPACT, UNSTATED_LIMIT } from "../../component/multicast.js";
import { copiesFor, entryMessage } from "../../component/mls/stanzas.js";
import type { LogEntry } from "../../mapping/store/index.js";
import { NS } from "../../component/xmpp/ns.js";
import { xml, type Element } from "../../component/xmpp/xml.js";
import parseXml from "../client/xml-parse.js";

const SERVICE = "multicast.example.org";
const entry: LogEntry = {
  room: "team@mls.example.org",
  seq: 3n,
  kind: "application",
  epoch: 1n,
  stanzaId: "sid-3",
  clientId: "m-3",
  senderJid: "bob@example.org",
  senderDevice: "B",
  senderNick: "bob",
  payload: new Uint8Array([1, 2, 3]),
  createdAt: 0,
};
const build = (to: string) => entryMessage(entry, to, { delayed: false });
const jids = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.org/r`);

function setup(maxAddresses?: number) {
  const sent: Element[] = [];
  const raw: string[] = [];
  const m = new Multicast({
    service: SERVICE,
    domain: "mls.example.org",
    send: async (s) => void sent.push(s),
    sendRaw: async (x) => void raw.push(x),
    logger: createLogger({ level: "silent", format: "json" }),
    ...(maxAddresses !== undefined ? { maxAddresses } : {}),
  });
  const answer = (features: string[], type = "result", extra: Element[] = []) =>
    xml(
      "iq",
      { type, id: sent.at(-1)!.attrs["id"] as string, from: SERVICE, to: "mls.example.org" },
      xml("query", { xmlns: NS.DISCO_INFO }, ...features.map((f) => xml("feature", { var: f })), ...extra),
    );
  return { m, sent, raw, answer };
}

const parseAll = (text: string): Element[] => parseXml(`<r>${text}</r>`).getChildElements();

/** An XEP-0128 form in disco#info, as ejabberd's mod_multicast states its limits. */
const limitsForm = (formType: string, message: string) =>
  xml(
    "x",
    { xmlns: NS.DATA, type: "result" },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, formType)),
    xml("field", { var: "message" }, xml("value", {}, message)),
  );

/** Addresses per stanza when fanning out to `n` recipients. */
const chunkSizes = (m: Multicast, n: number): number[] =>
  parseAll(m.stanzas(build, jids(n), copiesFor(build))).map((el) => {
    const compact = el.getChild("addresses", NS_COMPACT);
    return compact ? compact.getText().split("\n").length : el.getChild("addresses", NS_ADDRESS)!.getChildren("address").length;
  });

describe("Multicast", () => {
  it("is not used before the service answered disco#info with the XEP-0033 feature", async () => {
    const { m, sent, answer } = setup();
    expect(m.jid).toBeUndefined();
    await m.probe();
    expect(m.state).toBe("probing");
    expect(sent[0]!.attrs).toMatchObject({ type: "get", to: SERVICE, from: "mls.example.org" });
    expect(sent[0]!.getChild("query", NS.DISCO_INFO)).toBeDefined();
    expect(m.jid).toBeUndefined();
    expect(m.intercept(answer([NS.DISCO_INFO, NS_ADDRESS]))).toBe(true);
    expect(m.jid).toBe(SERVICE);
  });

  it("stays off when the service lacks the feature or answers an error", async () => {
    for (const reply of [(a: ReturnType<typeof setup>["answer"]) => a([NS.DISCO_INFO]), (a: ReturnType<typeof setup>["answer"]) => a([], "error")]) {
      const { m, answer } = setup();
      await m.probe();
      expect(m.intercept(reply(answer))).toBe(true);
      expect(m.state).toBe("unavailable");
      expect(m.jid).toBeUndefined();
    }
  });

  it("ignores an answer to an older probe, and stanzas from anyone else", async () => {
    const { m, answer } = setup();
    await m.probe();
    const stale = answer([NS_ADDRESS]);
    await m.probe();
    expect(m.intercept(stale)).toBe(true);
    expect(m.state).toBe("probing");
    const other = xml("message", { type: "error", from: "someone@example.org/x", to: entry.room, id: "m-3" });
    expect(m.intercept(other)).toBe(false);
  });

  it("sends one stanza with bcc addresses per chunk, identical otherwise to a direct copy", async () => {
    const { m, answer } = setup(2);
    await m.probe();
    m.intercept(answer([NS_ADDRESS]));
    const to = jids(5);
    const out = parseAll(m.stanzas(build, to, copiesFor(build)));
    expect(out).toHaveLength(3);
    const direct = build(SERVICE);
    for (const el of out) {
      expect(el.attrs["to"]).toBe(SERVICE);
      const addresses = el.getChild("addresses", NS_ADDRESS)!;
      expect(addresses.getChildren("address").every((a) => a.attrs["type"] === "bcc")).toBe(true);
      el.children = el.children.filter((c) => c !== addresses);
      expect(el.toString()).toBe(direct.toString());
    }
    const all = parseAll(m.stanzas(build, to, copiesFor(build))).flatMap((el) =>
      el.getChild("addresses", NS_ADDRESS)!.getChildren("address").map((a) => a.attrs["jid"]),
    );
    expect(all).toEqual(to);
  });

  it("uses the compact list (one JID per line) when the service advertises it", async () => {
    const { m, answer } = setup(2);
    await m.probe();
    m.intercept(answer([NS_ADDRESS, NS_COMPACT]));
    const to = [...jids(4), "dave@example.org/it's <me> & \"you\""];
    const out = parseAll(m.stanzas(build, to, copiesFor(build)));
    expect(out).toHaveLength(3);
    const lists = out.map((el) => el.getChild("addresses", NS_COMPACT)!);
    expect(lists.every((l) => l.getChildElements().length === 0)).toBe(true);
    expect(lists.map((l) => l.getText().split("\n"))).toEqual([to.slice(0, 2), to.slice(2, 4), to.slice(4)]);
    for (const el of out) expect(el.getChild("addresses", NS_ADDRESS)).toBeUndefined();
  });

  it("re-sends a refused fan-out directly and stops using the service until the next connection", async () => {
    const { m, raw, sent, answer } = setup();
    await m.probe();
    m.intercept(answer([NS_ADDRESS]));
    const to = jids(3);
    const copy = copiesFor(build);
    m.stanzas(build, to, copy);
    const refusal = xml("message", { type: "error", from: SERVICE, to: entry.room, id: "m-3" }, xml("error", { type: "auth" }, xml("forbidden", { xmlns: NS.STANZAS })));
    expect(m.intercept(refusal)).toBe(true);
    expect(m.jid).toBeUndefined();
    await Promise.resolve();
    expect(raw).toEqual([to.map(copy).join("")]);
    // A second error for the same stanza (another chunk) does not send it twice.
    expect(m.intercept(refusal)).toBe(true);
    expect(raw).toHaveLength(1);
    // The next connection asks again.
    m.offline();
    await m.probe();
    m.intercept(answer([NS_ADDRESS]));
    expect(m.jid).toBe(SERVICE);
    expect(sent).toHaveLength(2);
  });

  it("sends as many addresses per stanza as the service states, 20 when a plain XEP-0033 service states nothing", async () => {
    const cases: { features: string[]; extra?: Element[]; max?: number; expected: number[] }[] = [
      // ejabberd's mod_multicast with its default limits states none, and takes 20 from a component.
      { features: [NS_ADDRESS], expected: [UNSTATED_LIMIT, UNSTATED_LIMIT, 5] },
      // mod_mls_multicast: the component's own maximum.
      { features: [NS_ADDRESS, NS_COMPACT], expected: [45] },
      { features: [NS_ADDRESS, NS_COMPACT], max: 30, expected: [30, 15] },
      { features: [NS_ADDRESS], extra: [limitsForm(NS_ADDRESS, "7")], expected: [7, 7, 7, 7, 7, 7, 3] },
      { features: [NS_ADDRESS], extra: [limitsForm(NS_ADDRESS, "infinite")], expected: [45] },
      { features: [NS_ADDRESS], extra: [limitsForm(NS_ADDRESS, "100")], max: 40, expected: [40, 5] },
      // Unreadable values and other forms are not limits.
      { features: [NS_ADDRESS], extra: [limitsForm(NS_ADDRESS, "0")], expected: [20, 20, 5] },
      { features: [NS_ADDRESS], extra: [limitsForm(NS_ADDRESS, "many")], expected: [20, 20, 5] },
      { features: [NS_ADDRESS], extra: [limitsForm("urn:example:other", "7")], expected: [20, 20, 5] },
    ];
    for (const c of cases) {
      const { m, answer } = setup(c.max);
      await m.probe();
      m.intercept(answer(c.features, "result", c.extra));
      expect(m.jid).toBe(SERVICE);
      expect(chunkSizes(m, 45)).toEqual(c.expected);
    }
  });
});
