// The fan-out through ejabberd's own XEP-0033 service, mod_multicast, as
// docs/operators.md configures it: a fan-out leaves the component as stanzas
// of at most the limit mod_multicast states (here 3 addresses), the members
// as 'bcc' addresses, and every member decrypts every message. When
// mod_multicast refuses the component (access none), the refused fan-out is
// re-sent directly, nothing is lost, and the component sends directly from
// then on.

import { describe, expect, it } from "vitest";

import { chatThroughService, expectRefusedThenDirect } from "./fanout.js";
import { EJABBERD_MULTICAST_LIMIT, type World, worldPerSuite } from "./world.js";

describe("fan-out through ejabberd's mod_multicast", () => {
  let w: World;
  worldPerSuite({ server: "ejabberd", users: ["alice", "bob", "carol", "dave"], multicast: "trusted" }, (x) => (w = x));

  it("sends each message in stanzas of the stated limit with the members as bcc addresses; every member reads every message", async () => {
    const { members, room, writes } = await chatThroughService(w, ["alice", "bob", "carol", "dave"], "mc");
    const fanouts = writes.filter((x) => x.includes('kind="application"'));
    expect(fanouts.length).toBeGreaterThanOrEqual(8);
    expect(w.logText()).toContain(`"addressesPerStanza":${EJABBERD_MULTICAST_LIMIT}`);
    for (const x of fanouts) {
      // Four devices (the sender's own gets the reflection): 3 + 1 addresses.
      const stanzas = x.split("</message>").filter((m) => m.includes("<message "));
      expect(stanzas).toHaveLength(2);
      const bcc = stanzas.map((m) => {
        expect(m).toContain(`to="${w.server.multicastDomain}"`);
        // mod_multicast does not offer the compact list: XEP-0033 addresses.
        expect(m).toContain('<addresses xmlns="http://jabber.org/protocol/address">');
        return [...m.matchAll(/<address type="bcc" jid="([^"]+)"\/>/g)].map((a) => a[1]!);
      });
      expect(bcc.map((l) => l.length)).toEqual([3, 1]);
      expect(bcc.flat().sort()).toEqual(members.map((d) => d.transport.jid).sort());
    }
    expect(w.comp!.multicast?.state).toBe("available");
    await w.expectNoPlaintextLeaks(room, 8);
  }, 90_000);
});

describe("fan-out when ejabberd's mod_multicast refuses the component (access none)", () => {
  let w: World;
  worldPerSuite({ server: "ejabberd", users: ["alice-u", "bob-u", "carol-u"], multicast: "untrusted" }, (x) => (w = x));

  it("re-sends the refused fan-out directly, loses nothing, and sends directly from then on", async () => {
    await expectRefusedThenDirect(w, ["alice-u", "bob-u", "carol-u"], "mcu");
  }, 90_000);
});
