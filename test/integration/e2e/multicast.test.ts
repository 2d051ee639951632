// The fan-out through Prosody's mod_mls_multicast (component/prosody/), end
// to end: with the service trusting the component, one stanza per message
// leaves the component and every member decrypts every message; with a
// service that refuses the component, the refused fan-out is re-sent
// directly, nothing is lost, and the component stops using the service.

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { chat, recordWrites, viaService } from "./fanout.js";
import { until, World } from "./world.js";

describe("fan-out through a trusting mod_mls_multicast", () => {
  let w: World;
  beforeAll(async () => {
    w = await World.start({ users: ["alice-m", "bob-m", "carol-m", "dave-m"], multicast: "trusted" });
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });

  it("sends one stanza per message to the service, and every member reads every message", async () => {
    await until(() => w.comp!.multicast?.state === "available", 10_000, "the multicast probe");
    const members = await Promise.all(["alice-m", "bob-m", "carol-m", "dave-m"].map((u) => w.open(u)));
    const room = await w.groupRoom("mc", members[0]!, members.slice(1));
    const writes = recordWrites(w);
    await chat(w, members, room, 2);
    const fanouts = writes.filter((x) => x.includes('kind="application"'));
    expect(fanouts.length).toBeGreaterThanOrEqual(8);
    for (const x of fanouts) {
      expect(x.match(/<message /g)).toHaveLength(1);
      expect(x).toContain(`to="${w.prosody.multicastDomain}"`);
      // mod_mls_multicast takes the compact list: the four members' JIDs (the sender's own device gets the reflection too).
      const list = /<addresses xmlns="urn:xmpp:mls:multicast:0">([^<]*)<\/addresses>/.exec(x)![1]!;
      expect(list.split("\n").sort()).toEqual(members.map((d) => d.transport.jid).sort());
    }
    for (const d of members) expect(d.errors).toEqual([]);
    expect(w.comp!.multicast?.state).toBe("available");
    await w.expectNoPlaintextLeaks(room, 8);
  }, 90_000);
});

describe("fan-out when mod_mls_multicast refuses the component", () => {
  let w: World;
  beforeAll(async () => {
    w = await World.start({ users: ["alice-u", "bob-u", "carol-u"], multicast: "untrusted" });
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });

  it("re-sends the refused fan-out directly, loses nothing, and sends directly from then on", async () => {
    // The probe succeeds (disco is open to all); the first fan-out is refused.
    await until(() => w.comp!.multicast?.state === "available", 10_000, "the multicast probe");
    const members = await Promise.all(["alice-u", "bob-u", "carol-u"].map((u) => w.open(u)));
    const writes = recordWrites(w);
    const room = await w.groupRoom("mcu", members[0]!, members.slice(1));
    await chat(w, members, room, 2);
    expect(w.comp!.multicast?.state).toBe("unavailable");
    const refused = writes.filter(viaService);
    const direct = writes.filter((x) => !viaService(x));
    // The first fan-out to several devices (and any sent before the refusal came back), each re-sent once.
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const x of refused) {
      const id = /<message [^>]*\bid="([^"]+)"/.exec(x)![1]!;
      expect(direct.filter((d) => d.includes(`id="${id}"`))).toHaveLength(1);
    }
    const chats = direct.filter((x) => x.includes('kind="application"'));
    expect(chats).toHaveLength(6);
    for (const x of chats) expect(x.match(/<message /g)).toHaveLength(3);
    for (const d of members) expect(d.errors).toEqual([]);
  }, 90_000);
});
