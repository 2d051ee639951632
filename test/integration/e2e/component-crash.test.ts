// The component as operators run it (a child process: node --import tsx
// component/main.ts), SIGKILLed in the middle of a conversation and started
// again on the same SQLite file: nothing accepted is lost or duplicated.

import { describe, expect, it } from "vitest";

import type { XmppTransport } from "../../../client/transport.js";
import { deviceIq, HookedTransport, lossWarnings, NS_MLS, NS_MUC_ADMIN, until, type World, worldPerSuite, xml, type Device } from "./world.js";

const USERS = ["alice-7", "bob-7", "carol-7", "alice-7c", "bob-7c", "carol-7c", "dave-7c"];

interface Ack {
  readonly d: Device;
  readonly id: string;
  readonly seq: number;
  readonly stanzaId: string | undefined;
}

describe("component killed (SIGKILL) mid-conversation and restarted on the same database", () => {
  let w: World;

  worldPerSuite({ users: USERS, component: "child" }, (x) => (w = x));

  it("7. every acknowledged message reaches every member exactly once; the log's seqs are contiguous", async () => {
    // The kill comes 0-7 ms after one of alice's messages leaves: at random points of its processing
    // (before it is stored, between the store's commit and the fan-out, during the fan-out, after it).
    let killAfterSend: (() => void) | undefined;
    const killed = new Promise<void>((resolve) => {
      killAfterSend = () => setTimeout(() => void w.killComponent().then(resolve), Math.floor(Math.random() * 8));
    });
    let armed = false;
    const opts = { options: { sendTimeoutMs: 2500, iqTimeoutMs: 5000 } };
    const hook = {
      wrap: (t: XmppTransport) =>
        new HookedTransport(t, {
          send: async (s, next) => {
            await next(s);
            if (armed && s.is("message") && s.getChild("mls", NS_MLS)) {
              armed = false;
              killAfterSend!();
            }
          },
        }),
    };
    const devs = [await w.open("alice-7", { ...opts, ...hook }), await w.open("bob-7", opts), await w.open("carol-7", opts)];
    const [alice, bob, carol] = devs as [Device, Device, Device];
    const room = await w.groupRoom("crash", alice, [bob, carol]);

    // Everyone sends, one message after the other, all the time.
    const acks: Ack[] = [];
    const failed: { d: Device; error: unknown }[] = [];
    let inflight = 0;
    let running = true;
    const loop = async (d: Device) => {
      for (let i = 0; running; i++) {
        inflight += 1;
        try {
          const r = await d.c.send(room, w.secret(`crash-${d.user}-${i}`));
          acks.push({ d, id: r.id, seq: r.seq, stanzaId: r.stanzaId });
        } catch (error) {
          failed.push({ d, error });
        } finally {
          inflight -= 1;
        }
      }
    };
    const loops = devs.map((d) => loop(d));
    await until(() => acks.length >= 12, 30_000, "a dozen accepted messages");
    armed = true;
    await killed;
    const inflightAtKill = inflight;
    running = false;
    await Promise.all(loops); // the sends in flight end: accepted before the kill, or failed
    expect(inflightAtKill).toBeGreaterThan(0);
    const acksBeforeRestart = acks.length;

    await w.startComponent(); // same database file
    // The occupancy died with the process: members join again (join push + catch-up from their cursors).
    await Promise.all(devs.map((d) => d.c.join(room)));
    for (const d of devs) {
      for (let i = 0; i < 2; i++) {
        const r = await d.c.send(room, w.secret(`crash-${d.user}-after-${i}`));
        acks.push({ d, id: r.id, seq: r.seq, stanzaId: r.stanzaId });
      }
    }
    expect(acks.length).toBe(acksBeforeRestart + 6);

    // Every application message the DS accepted (in the log, acknowledged or not) reaches every other member.
    const appRows = async () => (await w.dsLog(room)).filter((r) => r.kind === "application");
    const rows = await appRows();
    const deviceOf = (jid: string | null, device: string | null) => devs.find((d) => d.jid === jid && d.c.deviceId === device);
    await until(
      () => rows.every((r) => devs.every((d) => deviceOf(r.senderJid, r.senderDevice) === d || d.messages.some((m) => m.id === r.originId))),
      20_000,
      "every member to read every accepted message",
    );
    await w.settled(devs, room); // every member has processed the whole log: a duplicate would be in by now

    const log = await w.dsLog(room);
    // seq numbers are contiguous, stanza-ids and origin-ids unique.
    expect(log.map((r) => r.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
    expect(new Set(log.map((r) => r.stanzaId)).size).toBe(log.length);
    const apps = log.filter((r) => r.kind === "application");
    expect(new Set(apps.map((r) => r.originId)).size).toBe(apps.length);
    // Each acknowledged send is in the log as acknowledged...
    for (const a of acks) {
      const row = log.find((r) => r.seq === a.seq);
      expect(row).toMatchObject({ kind: "application", stanzaId: a.stanzaId, originId: a.id, senderJid: a.d.jid, senderDevice: a.d.c.deviceId });
    }
    // An accepted message whose acknowledgement the crash swallowed (its send() failed) is reported to
    // its sender once the log shows it (a "sent" event after the rejoin), so it is never sent twice.
    for (const r of apps.filter((x) => !acks.some((a) => a.seq === x.seq))) {
      const sender = deviceOf(r.senderJid, r.senderDevice)!;
      expect(sender.events.filter((e) => e.name === "sent" && (e.payload as { id: string }).id === r.originId)).toHaveLength(1);
    }
    // ... and every accepted message was received by every other member exactly once, in seq order.
    for (const d of devs) {
      const mine = d.messages.filter((m) => m.room === room);
      expect(new Set(mine.map((m) => m.id)).size).toBe(mine.length);
      expect(mine.map((m) => m.seq)).toEqual([...mine.map((m) => m.seq)].sort((x, y) => x - y));
      const expected = apps.filter((r) => deviceOf(r.senderJid, r.senderDevice) !== d);
      expect(mine.map((m) => [m.seq, m.id, m.from])).toEqual(expected.map((r) => [r.seq, r.originId, r.senderJid]));
      // Own accepted messages come back as "sent", never as "message".
      expect(mine.some((m) => m.from === d.jid && m.device === d.c.deviceId)).toBe(false);
      expect(lossWarnings(d)).toEqual([]);
    }
  }, 120_000);

  it("7b. killed as members commit a DS proposal: after the restart they commit it again, and the group converges", async () => {
    // The component dies just before the first commit request leaves: every commit bounces
    // (the server answers for the absent component), and the proposal is still pending in the DS.
    let armed = false;
    const opts = { options: { sendTimeoutMs: 2500, iqTimeoutMs: 3000 } };
    const hook = {
      ...opts,
      wrap: (t: XmppTransport) =>
        new HookedTransport(t, {
          iq: async (s, ms, next) => {
            if (armed && s.getChild("commit", NS_MLS)) {
              armed = false;
              await w.killComponent();
            }
            return next(s, ms);
          },
        }),
    };
    const devs = [await w.open("alice-7c", hook), await w.open("bob-7c", hook), await w.open("carol-7c", hook)];
    const [alice, bob, carol] = devs as [Device, Device, Device];
    const dave = await w.open("dave-7c", opts);
    const room = await w.groupRoom("crash-commit", alice, [bob, carol]);
    const { epoch } = await w.settled(devs, room);

    // Dave is made a member: the DS proposes his Add and the members race to commit it.
    armed = true;
    const granted = await deviceIq(alice, room, "set", xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { affiliation: "member", jid: dave.jid })));
    expect(granted.attrs["type"]).toBe("result");
    await until(() => devs.every((d) => d.errors.some((e) => e.message.startsWith("commit"))), 10_000, "every member's commit to bounce");
    expect((await w.dsGroup(room))!).toMatchObject({ epoch, pending: 1 });

    await w.startComponent();
    await Promise.all(devs.map((d) => d.c.join(room)));
    // Back in the room, the members commit the pending Add on their own (nobody sends anything, dave is away).
    await until(async () => (await w.dsGroup(room))!.epoch > epoch, 10_000, "the pending Add to be committed after the restart");
    await dave.c.join(room);
    expect(dave.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "welcome" });
    const all = [...devs, dave];
    const ids: { d: Device; id: string }[] = [];
    for (const d of all) ids.push({ d, id: (await d.c.send(room, w.secret(`crash-commit-${d.user}`))).id });
    for (const { d, id } of ids) await w.allRead(all.filter((x) => x !== d), [id]);
    await w.settled(all, room);

    const log = await w.dsLog(room);
    expect(log.map((r) => r.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
    const commits = log.filter((r) => r.kind === "commit");
    expect(commits.map((c) => c.epoch)).toEqual(Array.from({ length: commits.length }, (_, i) => i)); // one per epoch, no gap
    for (const d of all) expect((await d.c.members(room)).devices.map((x) => x.jid).sort()).toEqual(all.map((x) => x.jid).sort());
    expect(all.flatMap(lossWarnings)).toEqual([]);
  }, 120_000);

  it("11. the component's SQLite files and debug log hold none of the plaintexts sent", async () => {
    await w.expectNoPlaintextLeaks(w.room("crash"), 16);
  });
});
