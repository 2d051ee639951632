import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { KeyedLock, Router } from "../../component/router.js";
import { NS } from "../../component/xmpp/ns.js";
import { stanzaError } from "../../component/xmpp/stanza-error.js";
import { xml, type Element } from "../../component/xmpp/xml.js";
import { ALICE, DOMAIN, errorCondition, errorType, iq, testService, type TestService } from "./helpers.js";

function bareRouter() {
  const sent: Element[] = [];
  const router = new Router({ domain: DOMAIN, send: async (s) => void sent.push(s), logger: pino({ level: "silent" }) });
  return { router, sent };
}

describe("router", () => {
  let t: TestService;
  beforeEach(async () => {
    t = await testService();
  });
  afterEach(() => t.close());

  it("answers an unknown iq namespace with service-unavailable, echoing the payload", async () => {
    const out = await t.deliver(iq(ALICE, DOMAIN, "get", xml("query", { xmlns: "urn:example:unknown" }), "q1"));
    expect(out).toHaveLength(1);
    const reply = out[0] as Element;
    expect(reply.attrs).toMatchObject({ type: "error", id: "q1", to: ALICE, from: DOMAIN });
    expect(errorCondition(reply)).toBe("service-unavailable");
    expect(errorType(reply)).toBe("cancel");
    expect(reply.getChild("query", "urn:example:unknown")).toBeDefined();
    expect(reply.getChild("error")?.getChild("text", NS.STANZAS)?.getText()).toMatch(/no service for query/);
  });

  it("answers iq get/set with zero or two payloads, or without an id, with bad-request", async () => {
    const none = await t.deliver(xml("iq", { from: ALICE, to: DOMAIN, type: "get", id: "a" }));
    expect(errorCondition(none[0] as Element)).toBe("bad-request");
    const two = await t.deliver(xml("iq", { from: ALICE, to: DOMAIN, type: "set", id: "b" }, xml("a", { xmlns: "x" }), xml("b", { xmlns: "x" })));
    expect(errorCondition(two[0] as Element)).toBe("bad-request");
    const noId = await t.deliver(xml("iq", { from: ALICE, to: DOMAIN, type: "get" }, xml("ping", { xmlns: NS.PING })));
    expect(errorCondition(noId[0] as Element)).toBe("bad-request");
    const badType = await t.deliver(xml("iq", { from: ALICE, to: DOMAIN, type: "fetch", id: "c" }, xml("ping", { xmlns: NS.PING })));
    expect(errorCondition(badType[0] as Element)).toBe("bad-request");
  });

  it("never answers errors or results", async () => {
    expect(await t.deliver(xml("iq", { from: ALICE, to: DOMAIN, type: "result", id: "r" }))).toEqual([]);
    expect(await t.deliver(xml("iq", { from: ALICE, to: DOMAIN, type: "error", id: "r" }, xml("error", { type: "cancel" })))).toEqual([]);
    expect(await t.deliver(xml("message", { from: ALICE, to: DOMAIN, type: "error" }))).toEqual([]);
    expect(await t.deliver(xml("presence", { from: ALICE, to: `r@${DOMAIN}/n`, type: "error" }))).toEqual([]);
  });

  it("answers a malformed 'to' with jid-malformed from the service's own address", async () => {
    const out = await t.deliver(xml("message", { from: ALICE, to: "a b@mls.example.org", type: "chat", id: "m" }, xml("body", {}, "x")));
    expect(out).toHaveLength(1);
    expect(out[0]?.attrs["from"]).toBe(DOMAIN);
    expect(errorCondition(out[0] as Element)).toBe("jid-malformed");
    const empty = await t.deliver(xml("presence", { from: ALICE, to: `room@${DOMAIN}/` }, xml("x", { xmlns: NS.MUC })));
    expect(errorCondition(empty[0] as Element)).toBe("jid-malformed");
    const missing = await t.deliver(xml("iq", { from: ALICE, type: "get", id: "i" }, xml("ping", { xmlns: NS.PING })));
    expect(errorCondition(missing[0] as Element)).toBe("jid-malformed");
  });

  it("refuses stanzas for another domain", async () => {
    const out = await t.deliver(iq(ALICE, "other.example.org", "get", xml("ping", { xmlns: NS.PING })));
    expect(errorCondition(out[0] as Element)).toBe("item-not-found");
  });

  it("drops stanzas with a missing or malformed 'from' (no one to answer)", async () => {
    expect(await t.deliver(xml("iq", { to: DOMAIN, type: "get", id: "x" }, xml("ping", { xmlns: NS.PING })))).toEqual([]);
    expect(await t.deliver(xml("iq", { from: "@@", to: DOMAIN, type: "get", id: "x" }, xml("ping", { xmlns: NS.PING })))).toEqual([]);
  });

  it("ignores non-stanza elements", async () => {
    expect(await t.deliver(xml("handshake", {}))).toEqual([]);
  });

  it("answers unhandled messages with service-unavailable, but not headlines", async () => {
    const out = await t.deliver(xml("message", { from: ALICE, to: DOMAIN, type: "chat", id: "m" }, xml("body", {}, "hi")));
    expect(errorCondition(out[0] as Element)).toBe("service-unavailable");
    expect(await t.deliver(xml("message", { from: ALICE, to: DOMAIN, type: "headline" }, xml("body", {}, "hi")))).toEqual([]);
  });

  it("maps a StanzaError with an application condition, and other exceptions to internal-server-error", async () => {
    const { router, sent } = bareRouter();
    router.iq({ type: "get", ns: "urn:t", name: "a" }, async () => {
      throw stanzaError("conflict", "epoch moved", { type: "wait", app: { name: "epoch-mismatch", ns: NS.MLS, attrs: { "current-epoch": "3" } } });
    });
    router.iq({ type: "get", ns: "urn:t", name: "b" }, async () => {
      throw new Error("bug");
    });
    await router.dispatch(iq(ALICE, `room@${DOMAIN}`, "get", xml("a", { xmlns: "urn:t" }), "1"));
    await router.dispatch(iq(ALICE, DOMAIN, "get", xml("b", { xmlns: "urn:t" }), "2"));
    const [a, b] = sent as [Element, Element];
    const err = a.getChild("error") as Element;
    expect(err.attrs).toEqual({ type: "wait", by: `room@${DOMAIN}` });
    expect(err.getChild("conflict", NS.STANZAS)).toBeDefined();
    expect(err.getChild("epoch-mismatch", NS.MLS)?.attrs["current-epoch"]).toBe("3");
    expect(err.getChild("text", NS.STANZAS)?.getText()).toBe("epoch moved");
    expect(errorCondition(b)).toBe("internal-server-error");
    expect(b.getChild("error")?.getChild("text")).toBeUndefined(); // no internals leak
  });

  it("replies once: an explicit reply() is not followed by a second result", async () => {
    const { router, sent } = bareRouter();
    const order: string[] = [];
    router.iq({ type: "set", ns: "urn:t" }, async (ctx) => {
      await ctx.reply(xml("done", { xmlns: "urn:t" }));
      order.push("after reply");
      await ctx.send(xml("message", { to: ALICE, from: DOMAIN }));
    });
    await router.dispatch(iq(ALICE, DOMAIN, "set", xml("x", { xmlns: "urn:t" }), "7"));
    expect(sent.map((s) => `${s.name}:${s.attrs["type"] ?? ""}`)).toEqual(["iq:result", "message:"]);
    expect(sent[0]?.getChild("done", "urn:t")).toBeDefined();
  });

  it("serializes stanzas per room, not across rooms", async () => {
    const { router } = bareRouter();
    const log: string[] = [];
    router.iq({ type: "set", ns: "urn:t" }, async (ctx) => {
      log.push(`start ${ctx.to.full}`);
      await new Promise((r) => setTimeout(r, ctx.to.local === "slow" ? 30 : 1));
      log.push(`end ${ctx.to.full}`);
    });
    const p = [
      router.dispatch(iq(ALICE, `slow@${DOMAIN}`, "set", xml("x", { xmlns: "urn:t" }))),
      router.dispatch(iq(ALICE, `slow@${DOMAIN}/nick`, "set", xml("x", { xmlns: "urn:t" }))),
      router.dispatch(iq(ALICE, `fast@${DOMAIN}`, "set", xml("x", { xmlns: "urn:t" }))),
    ];
    await Promise.all(p);
    expect(log.indexOf(`end slow@${DOMAIN}`)).toBeLessThan(log.indexOf(`start slow@${DOMAIN}/nick`));
    expect(log.indexOf(`end fast@${DOMAIN}`)).toBeLessThan(log.indexOf(`end slow@${DOMAIN}`));
    expect(router.locks.size).toBe(0);
  });

  it("work outside stanzas can hold a room's lock, serialized with the stanzas for that room", async () => {
    const order: string[] = [];
    const held = t.service.host.withRoomLock(`r@${DOMAIN}`, async () => {
      order.push("timer start");
      await new Promise((r) => setTimeout(r, 20));
      order.push("timer end");
    });
    const stanza = t.deliver(iq(ALICE, `r@${DOMAIN}`, "get", xml("ping", { xmlns: NS.PING }))).then(() => void order.push("stanza"));
    await Promise.all([held, stanza]);
    expect(order).toEqual(["timer start", "timer end", "stanza"]);
  });

  it("KeyedLock is FIFO and releases on failure", async () => {
    const lock = new KeyedLock();
    const order: number[] = [];
    const a = lock.run("k", async () => {
      await new Promise((r) => setTimeout(r, 10));
      order.push(1);
      throw new Error("x");
    });
    const b = lock.run("k", async () => void order.push(2));
    await expect(a).rejects.toThrow("x");
    await b;
    expect(order).toEqual([1, 2]);
  });
});
