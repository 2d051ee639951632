// Prosody restarted under a running room: the component reconnects by itself,
// the members' connections come back and rejoin, and the room goes on.

import { describe, expect, it } from "vitest";

import { reconnectWatch, troubles, until, type World, worldPerSuite, type Device } from "./world.js";

describe("Prosody restarted under a running room", () => {
  let w: World;
  let crashedRoom: { devs: Device[]; room: string } | undefined;

  worldPerSuite({ users: ["alice-8", "bob-8", "carol-8", "alice-8k", "bob-8k"] }, (x) => (w = x));

  async function round(devs: readonly Device[], room: string, label: string): Promise<Map<Device, string>> {
    const ids = new Map<Device, string>();
    for (const d of devs) ids.set(d, (await d.c.send(room, w.secret(`${label}-${d.user}`))).id);
    for (const [d, id] of ids) await w.allRead(devs.filter((x) => x !== d), [id]);
    return ids;
  }

  it("8. the component reconnects, members reconnect and rejoin, and they chat again in the same group", async () => {
    const devs = await Promise.all(["alice-8", "bob-8", "carol-8"].map((u) => w.open(u)));
    const [alice, bob, carol] = devs as [Device, Device, Device];
    const room = await w.groupRoom("restart", alice, [bob, carol]);
    await round(devs, room, "restart-before");
    const before = await w.settled(devs, room);
    expect(w.componentOnlines()).toBe(1);
    const component = w.componentReconnectWatch();

    await w.prosody.restart();

    // The component: lost the server, reconnected (backoff), online again.
    await component.reconnected(20_000);
    expect(w.logText()).toContain("lost the connection to the XMPP server");
    // The members: their connections come back ("online" after a reconnect), then they rejoin the room.
    await until(() => devs.every((d) => d.events.some((e) => e.name === "online")), 20_000, "the members to reconnect");
    const after = await round(devs, room, "restart-after");
    const s = await w.settled(devs, room);

    // Same MLS group, same epoch: a restart of the XMPP server is not a membership change.
    expect(s.epoch).toBe(before.epoch);
    expect(s.authenticator).toBe(before.authenticator);
    for (const d of devs) {
      const mine = d.messages.filter((m) => m.room === room);
      expect(new Set(mine.map((m) => m.id)).size).toBe(mine.length);
      expect(mine).toHaveLength(4); // two rounds, two other members
      for (const [sender, id] of after) if (sender !== d) expect(mine.filter((m) => m.id === id)).toHaveLength(1);
      expect(mine.map((m) => m.seq)).toEqual([...mine.map((m) => m.seq)].sort((x, y) => x - y));
    }
    const log = await w.dsLog(room);
    expect(log.map((r) => r.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
    expect(troubles(devs)).toEqual([]);
  }, 90_000);

  it("8b. the same after Prosody crashed (SIGKILL: no unavailable presences, the component keeps stale sessions)", async () => {
    const devs = await Promise.all(["alice-8k", "bob-8k"].map((u) => w.open(u)));
    const [alice, bob] = devs as [Device, Device];
    const room = await w.groupRoom("crashed", alice, [bob]);
    await round(devs, room, "crashed-before");
    const before = await w.settled(devs, room);
    const component = w.componentReconnectWatch();
    const members = reconnectWatch(devs);

    await w.prosody.kill("SIGKILL");
    await w.prosody.restart();

    await component.reconnected(20_000);
    await members.reconnected(20_000);
    await round(devs, room, "crashed-after");
    const s = await w.settled(devs, room);
    expect(s).toEqual(before);
    for (const d of devs) {
      const mine = d.messages.filter((m) => m.room === room);
      expect(new Set(mine.map((m) => m.id)).size).toBe(mine.length);
      expect(mine).toHaveLength(2);
    }
    expect(troubles(devs)).toEqual([]);
    crashedRoom = { devs, room };
  }, 90_000);

  it("8c. Prosody restarts while the component is down: the members' rejoins find it unreachable and retry until it is back", async () => {
    const { devs, room } = crashedRoom!;
    const before = await w.settled(devs, room);
    const members = reconnectWatch(devs);
    const retries = (d: Device) => d.warnings.filter((x) => x.kind === "rejoin-retry");
    const retried = devs.map((d) => retries(d).length);

    await w.stopComponent();
    await w.prosody.restart();
    await members.reconnected(20_000);
    await until(() => devs.every((d, i) => retries(d).length > retried[i]!), 20_000, "the members' rejoins to be retried");
    // Prosody 0.12 answers for a component that is not connected with remote-server-timeout.
    expect(retries(devs[0]!).at(-1)!.message).toMatch(/unreachable.*remote-server-timeout/);

    await w.startComponent();
    await round(devs, room, "component-late");
    expect(await w.settled(devs, room)).toEqual(before);
    expect(troubles(devs)).toEqual([]);
  }, 60_000);

  it("11. the component's SQLite files and debug log hold none of the plaintexts sent", async () => {
    await w.expectNoPlaintextLeaks(w.room("restart"), 6);
  });
});
