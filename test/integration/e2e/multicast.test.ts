// The fan-out through Prosody's mod_mls_multicast (component/prosody/), end
// to end: with the service trusting the component, one stanza per message
// leaves the component and every member decrypts every message; with a
// service that refuses the component, the refused fan-out is re-sent
// directly, nothing is lost, and the component stops using the service.

import { describe, expect, it } from "vitest";

import { chatThroughService, expectRefusedThenDirect } from "./fanout.js";
import { type World, worldPerSuite } from "./world.js";

describe("fan-out through a trusting mod_mls_multicast", () => {
  let w: World;
  worldPerSuite({ users: ["alice-m", "bob-m", "carol-m", "dave-m"], multicast: "trusted" }, (x) => (w = x));

  it("sends one stanza per message to the service, and every member reads every message", async () => {
    const { members, room, writes } = await chatThroughService(w, ["alice-m", "bob-m", "carol-m", "dave-m"], "mc");
    const fanouts = writes.filter((x) => x.includes('kind="application"'));
    expect(fanouts.length).toBeGreaterThanOrEqual(8);
    for (const x of fanouts) {
      expect(x.match(/<message /g)).toHaveLength(1);
      expect(x).toContain(`to="${w.prosody.multicastDomain}"`);
      // mod_mls_multicast takes the compact list: the four members' JIDs (the sender's own device gets the reflection too).
      const list = /<addresses xmlns="urn:xmpp:mls:multicast:0">([^<]*)<\/addresses>/.exec(x)![1]!;
      expect(list.split("\n").sort()).toEqual(members.map((d) => d.transport.jid).sort());
    }
    expect(w.comp!.multicast?.state).toBe("available");
    await w.expectNoPlaintextLeaks(room, 8);
  }, 90_000);
});

describe("fan-out when mod_mls_multicast refuses the component", () => {
  let w: World;
  worldPerSuite({ users: ["alice-u", "bob-u", "carol-u"], multicast: "untrusted" }, (x) => (w = x));

  it("re-sends the refused fan-out directly, loses nothing, and sends directly from then on", async () => {
    await expectRefusedThenDirect(w, ["alice-u", "bob-u", "carol-u"], "mcu");
  }, 90_000);
});
