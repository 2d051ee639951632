// The deployment next to ejabberd 23.01 (docs/operators.md): a private
// ejabberd with an ejabberd_service listener for the component, no multicast
// service (the component sends one stanza per device), SDK devices on its c2s
// port. Three users chat in a group room; a removed member reads nothing sent
// after her removal, not even with her saved MLS state; the component and the
// members ride out a restart and a crash of ejabberd, and the room goes on in
// the same epoch, also when ejabberd is back before the component is. With
// ejabberd's mod_multicast: ejabberd-multicast.test.ts.

import { describe, expect, it } from "vitest";

import { ClientStore } from "../../../client/store.js";
import { decode, decodeMLSMessage, deserializeGroup, isMlsError, nativeProvider } from "../../../mls/node.js";
import { groupOptions } from "../../../client/mls-helpers.js";
import { deviceIq, entriesSeen, hex, NS_MLS, reconnectWatch, troubles, until, type World, worldPerSuite, xml, type Device } from "./world.js";

const USERS = ["alice", "bob", "carol"];

describe("group rooms over ejabberd 23.01 with the real component", () => {
  let w: World;
  let alice: Device;
  let bob: Device;
  let carol: Device;
  let room: string;

  worldPerSuite({ server: "ejabberd", users: USERS }, (x) => (w = x));

  /** Each of `devs` sends one message; every other one of them decrypts each exactly once. */
  async function round(devs: readonly Device[], label: string): Promise<Map<Device, { id: string; text: string; seq: number }>> {
    const sent = new Map<Device, { id: string; text: string; seq: number }>();
    for (const d of devs) sent.set(d, await w.say(d, room, `${label}-${d.user}`));
    for (const [sender, m] of sent) {
      const readers = devs.filter((d) => d !== sender);
      await w.allRead(readers, [m.id]);
      for (const r of readers) {
        const copies = r.messages.filter((x) => x.id === m.id);
        expect(copies).toHaveLength(1);
        expect(copies[0]).toMatchObject({ room, from: sender.jid, device: sender.c.deviceId, text: m.text, seq: m.seq });
      }
    }
    return sent;
  }

  it("1. three users create a room, invite and chat over ejabberd: everyone decrypts everyone", async () => {
    expect(w.serverKind).toBe("ejabberd");
    expect(w.server.multicastDomain).toBeUndefined();
    [alice, bob, carol] = (await Promise.all(USERS.map((u) => w.open(u)))) as [Device, Device, Device];
    room = w.room("ejabberd");
    await alice.c.createRoom(room, { kind: "group" });
    for (const d of [bob, carol]) {
      const inv = await alice.c.invite(room, d.jid);
      expect(inv.devices).toEqual([{ jid: d.jid, device: d.c.deviceId }]);
    }
    await Promise.all([bob.c.join(room), carol.c.join(room)]);
    for (const d of [bob, carol]) expect(d.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "welcome" });
    const before = await w.settled([alice, bob, carol], room);

    await round([alice, bob, carol], "ej-1");
    await round([carol, bob, alice], "ej-2");
    for (const d of [alice, bob, carol]) {
      const got = d.messages.filter((m) => m.room === room);
      expect(got).toHaveLength(4); // two rounds, two other members
      expect(got.map((m) => m.seq)).toEqual([...got.map((m) => m.seq)].sort((a, b) => a - b));
    }
    const after = await w.settled([alice, bob, carol], room);
    expect(after).toEqual(before); // chatting changes neither the epoch nor its authenticator
    expect(after.authenticator).toMatch(/^[0-9a-f]{64}$/);
    expect([alice, bob, carol].flatMap((d) => [...d.errors, ...d.warnings.filter((x) => x.kind === "undecryptable")])).toEqual([]);
  }, 40_000);

  it("2. alice removes carol: carol gets nothing sent after the removal and her MLS state cannot decrypt it", async () => {
    const carolSeq = (await carol.c.session(room)).lastSeq;
    await alice.c.remove(room, carol.jid);
    await until(() => carol.events.some((e) => e.name === "removed"), 15_000, "carol to learn of her removal");
    const removal = alice.membership.find((m) => m.removed.some((x) => x.jid === carol.jid));
    expect(removal?.removed.map((x) => x.device)).toEqual([carol.c.deviceId]);
    const commitSeq = removal!.seq!;
    const { epoch } = await w.settled([alice, bob], room);

    const later = await round([alice, bob], "ej-after-removal");
    // Barrier: the room answers carol's catch-up after every fan-out it did before, so anything meant for her has arrived.
    const cu = await deviceIq(carol, room, "get", xml("catch-up", { xmlns: NS_MLS, device: carol.c.deviceId, after: String(carolSeq) }));
    expect(cu.attrs["type"]).toBe("result");
    const toCarol = entriesSeen(carol, room).filter((e) => e.kind !== "welcome");
    expect(Math.max(...toCarol.map((e) => e.seq))).toBe(commitSeq); // the removing commit is the last thing she got
    for (const m of later.values()) expect(carol.messages.some((x) => x.id === m.id)).toBe(false);

    // The ciphertexts as bob received them: carol's saved state (removed, past the commit) opens none of them.
    const cts = entriesSeen(bob, room).filter((e) => e.kind === "application" && e.seq > commitSeq);
    expect(new Set(cts.map((e) => e.seq))).toEqual(new Set([...later.values()].map((m) => m.seq)));
    for (const e of cts) expect(e.epoch).toBe(epoch);
    await w.closeDevice(carol);
    const store = await ClientStore.open(carol.stateDir);
    const rec = await store.getRoom(room);
    await store.close();
    expect(rec?.status).toBe("removed");
    for (const e of cts) {
      const g = deserializeGroup(nativeProvider, rec!.groupState!, groupOptions(2));
      let refused = false;
      try {
        g.process(decode(decodeMLSMessage, e.bytes));
      } catch (err) {
        if (!isMlsError(err)) throw err;
        refused = true;
      }
      expect(refused).toBe(true);
    }
    expect([alice, bob].flatMap((d) => d.errors)).toEqual([]);
  }, 40_000);

  it("3. ejabberd restarts under the room: the component and the members reconnect, and the room goes on", async () => {
    const before = await w.settled([alice, bob], room);
    const component = w.componentReconnectWatch();
    const members = reconnectWatch([alice, bob]);

    await w.server.restart();

    await component.reconnected(20_000);
    expect(w.logText()).toContain("lost the connection to the XMPP server");
    await members.reconnected(20_000);
    await round([alice, bob], "ej-after-restart");
    const s = await w.settled([alice, bob], room);
    // A restart of the XMPP server is not a membership change: same group, same epoch.
    expect(s).toEqual(before);
    expect(hex(alice.c.epochAuthenticator(room))).toBe(before.authenticator);
    const log = await w.dsLog(room);
    expect(log.map((r) => r.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
    expect(troubles([alice, bob])).toEqual([]);
  }, 40_000);

  it("3b. the same after ejabberd crashed (SIGKILL: no stream closes, no unavailable presences)", async () => {
    const before = await w.settled([alice, bob], room);
    const component = w.componentReconnectWatch();
    const members = reconnectWatch([alice, bob]);

    await w.server.kill("SIGKILL");
    await w.server.restart();

    await component.reconnected(20_000);
    await members.reconnected(20_000);
    await round([alice, bob], "ej-after-crash");
    expect(await w.settled([alice, bob], room)).toEqual(before);
    expect(troubles([alice, bob])).toEqual([]);
  }, 40_000);

  it("3c. ejabberd restarts while the component is down: the members' rejoins find it unreachable and retry until it is back", async () => {
    const before = await w.settled([alice, bob], room);
    const members = reconnectWatch([alice, bob]);
    const retries = (d: Device) => d.warnings.filter((x) => x.kind === "rejoin-retry");
    const retried = [alice, bob].map((d) => retries(d).length);

    await w.stopComponent();
    await w.server.restart();
    await members.reconnected(20_000);
    await until(() => [alice, bob].every((d, i) => retries(d).length > retried[i]!), 20_000, "the members' rejoins to be retried");
    // ejabberd answers for a component that is not connected with its s2s policy's forbidden.
    expect(retries(alice).at(-1)!.message).toMatch(/unreachable.*forbidden/);

    await w.startComponent();
    await round([alice, bob], "ej-component-late");
    expect(await w.settled([alice, bob], room)).toEqual(before);
    expect(troubles([alice, bob])).toEqual([]);
  }, 60_000);

  it("11. the component's SQLite files and debug log hold none of the plaintexts sent", async () => {
    await w.expectNoPlaintextLeaks(room, 12);
  });
});
