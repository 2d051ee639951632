// Group rooms end to end (SDK devices, the real component, Prosody 0.12):
// three users chatting, an offline member catching up, a second device of a
// member (and join() with a slow state file), and two members committing in
// the same epoch.

import { describe, expect, it } from "vitest";

import type { Transport, XmppTransport } from "../../../client/transport.js";
import { decode, decodeMLSMessage } from "../../../mls/node.js";
import { deviceIq, entriesSeen, hex, HookedTransport, NS_MLS, NS_MUC_ADMIN, sleep, until, type World, worldPerSuite, xml, type Device, type Element } from "./world.js";

const USERS = [
  ...["alice-1", "bob-1", "carol-1"],
  ...["alice-4", "bob-4", "carol-4", "dave-4"],
  ...["alice-5", "bob-5"],
  ...["alice-5b"],
  ...["alice-6", "bob-6", "carol-6"],
];

/** Sends and returns the content id; the message is accepted (reflected with seq and stanza-id) when this resolves. */
/** w.say, also checking that the room gave the message a stanza-id. */
async function say(w: World, d: Device, room: string, label: string): Promise<{ id: string; text: string; seq: number; stanzaId: string | undefined }> {
  const r = await w.say(d, room, label);
  expect(r.stanzaId).toBeTruthy();
  return r;
}

describe("group rooms over Prosody with the real component", () => {
  let w: World;

  worldPerSuite({ users: USERS }, (x) => (w = x));

  it("1. three users create a room, invite and chat: everyone decrypts everyone, with equal epoch authenticators", async () => {
    const [alice, bob, carol] = await Promise.all(["alice-1", "bob-1", "carol-1"].map((u) => w.open(u)));
    const room = w.room("three");
    await alice!.c.createRoom(room, { kind: "group" });
    expect(alice!.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "create", epoch: 0 });
    for (const d of [bob!, carol!]) {
      const inv = await alice!.c.invite(room, d.jid);
      expect(inv.devices).toEqual([{ jid: d.jid, device: d.c.deviceId }]);
    }
    await Promise.all([bob!.c.join(room), carol!.c.join(room)]);
    for (const d of [bob!, carol!]) expect(d.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "welcome" });
    const before = await w.settled([alice!, bob!, carol!], room);

    const sent = new Map<Device, { id: string; text: string; seq: number }[]>();
    for (const d of [alice!, bob!, carol!]) sent.set(d, []);
    for (let round = 0; round < 2; round++) {
      for (const d of [alice!, bob!, carol!]) sent.get(d)!.push(await say(w, d, room, `three-${d.user}-${round}`));
    }
    const all = [...sent.values()].flat();
    for (const reader of [alice!, bob!, carol!]) {
      const expected = [...sent.entries()].filter(([d]) => d !== reader).flatMap(([, l]) => l.map((m) => m.id));
      await w.allRead([reader], expected);
    }
    for (const reader of [alice!, bob!, carol!]) {
      const got = reader.messages.filter((m) => m.room === room);
      // Each message of the others exactly once, with its text, its authenticated sender and the seq the sender was given.
      for (const [sender, list] of sent) {
        for (const m of list) {
          const copies = got.filter((x) => x.id === m.id);
          if (sender === reader) {
            expect(copies).toEqual([]); // own messages are never decrypted (§6.7.3)
            continue;
          }
          expect(copies).toHaveLength(1);
          expect(copies[0]).toMatchObject({ from: sender.jid, device: sender.c.deviceId, text: m.text, seq: m.seq });
        }
      }
      expect(got.map((m) => m.seq)).toEqual([...got.map((m) => m.seq)].sort((a, b) => a - b));
      expect(got).toHaveLength(all.length - sent.get(reader)!.length);
    }
    const after = await w.settled([alice!, bob!, carol!], room);
    expect(after.epoch).toBe(before.epoch); // chatting does not change the epoch
    const auths = [alice!, bob!, carol!].map((d) => hex(d.c.epochAuthenticator(room)));
    expect(new Set(auths).size).toBe(1);
    expect(auths[0]).toMatch(/^[0-9a-f]{64}$/);
    const views = await Promise.all([alice!, bob!, carol!].map((d) => d.c.members(room)));
    for (const v of views) {
      expect(v.devices.map((x) => `${x.jid}/${x.device}`).sort()).toEqual(
        [alice!, bob!, carol!].map((d) => `${d.jid}/${d.c.deviceId}`).sort(),
      );
    }
    expect([alice!, bob!, carol!].flatMap((d) => [...d.errors, ...d.warnings.filter((x) => x.kind === "undecryptable")])).toEqual([]);
  }, 60_000);

  it("4. an offline member catches up in seq order, exactly once, across a membership change", async () => {
    const [alice, bob, carol, dave] = await Promise.all(["alice-4", "bob-4", "carol-4", "dave-4"].map((u) => w.open(u)));
    const room = await w.groupRoom("offline", alice!, [bob!, carol!]);
    const m0 = await say(w, alice!, room, "offline-before");
    await w.allRead([bob!, carol!], [m0.id]);

    const carolSession = await carol!.c.session(room);
    const lastSeen = carolSession.lastSeq;
    const carolDir = carol!.stateDir;
    await w.closeDevice(carol!);

    const missed: { id: string; text: string; seq: number; from: Device }[] = [];
    missed.push({ ...(await say(w, alice!, room, "offline-1")), from: alice! });
    missed.push({ ...(await say(w, bob!, room, "offline-2")), from: bob! });
    missed.push({ ...(await say(w, alice!, room, "offline-3")), from: alice! });
    // A membership change while carol is away: dave is added (DS proposal, commit, Welcome).
    const inv = await alice!.c.invite(room, dave!.jid);
    expect(inv.devices).toEqual([{ jid: dave!.jid, device: dave!.c.deviceId }]);
    await dave!.c.join(room);
    await w.settled([alice!, bob!, dave!], room);
    const addSeq = alice!.membership.find((e) => e.added.some((x) => x.jid === dave!.jid))?.seq;
    missed.push({ ...(await say(w, bob!, room, "offline-4")), from: bob! });
    missed.push({ ...(await say(w, dave!, room, "offline-5")), from: dave! });
    missed.push({ ...(await say(w, alice!, room, "offline-6")), from: alice! });

    // Carol comes back on her state directory: open() rejoins the room and catches up.
    const back = await w.open("carol-4", { stateDir: carolDir });
    await w.allRead([back], missed.map((m) => m.id));
    const s = await w.settled([alice!, bob!, back, dave!], room);

    const got = back.messages.filter((m) => m.room === room);
    expect(got.map((m) => m.text)).toEqual(missed.map((m) => m.text)); // in order, each exactly once, nothing older
    expect(got.map((m) => m.seq)).toEqual(missed.map((m) => m.seq));
    expect(got.map((m) => m.from)).toEqual(missed.map((m) => m.from.jid));
    expect(got.every((m) => m.delayed)).toBe(true); // from the join push / catch-up, not live
    // The Add of dave was processed between the messages before and after it.
    const add = back.membership.find((e) => e.added.some((x) => x.jid === dave!.jid));
    expect(add?.seq).toBe(addSeq);
    expect(addSeq).toBeGreaterThan(missed[2]!.seq);
    expect(addSeq).toBeLessThan(missed[3]!.seq);
    // On the wire: every seq after her cursor, first arrivals in increasing order, no gap.
    const firsts: number[] = [];
    for (const e of entriesSeen(back, room)) if (e.kind !== "welcome" && !firsts.includes(e.seq)) firsts.push(e.seq);
    const newest = (await w.dsGroup(room))!.nextSeq - 1;
    expect(firsts).toEqual(Array.from({ length: newest - lastSeen }, (_, i) => lastSeen + 1 + i));
    expect(new Set([alice!, bob!, back, dave!].map((d) => hex(d.c.epochAuthenticator(room))))).toEqual(new Set([s.authenticator]));
    // And she is a full member again.
    const m7 = await say(w, back, room, "offline-7");
    await w.allRead([alice!, bob!, dave!], [m7.id]);
    expect([alice!, bob!, back, dave!].flatMap((d) => d.errors)).toEqual([]);
  }, 60_000);

  it("5. a second device of a member joins (KeyPackages, Add, Welcome), reads new messages, and the first keeps working", async () => {
    const [alice, bob] = await Promise.all(["alice-5", "bob-5"].map((u) => w.open(u)));
    const room = await w.groupRoom("devices", alice!, [bob!]);
    const old = await say(w, bob!, room, "devices-before");
    await w.allRead([alice!], [old.id]);

    // The phone publishes KeyPackages on open; the DS proposes its Add in alice's group rooms; a member commits it.
    const phone = await w.open("alice-5");
    expect(phone.c.deviceId).not.toBe(alice!.c.deviceId);
    await phone.c.join(room);
    expect(phone.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "welcome" });
    await w.settled([alice!, bob!, phone], room);
    const devs = (await bob!.c.members(room)).devices.filter((x) => x.jid === alice!.jid).map((x) => x.device).sort();
    expect(devs).toEqual([alice!.c.deviceId, phone.c.deviceId].sort());
    // §10.2: the first device is told that a new device of its own account was added.
    await until(() => alice!.warnings.some((x) => x.kind === "new-own-device" && x.device === phone.c.deviceId), 5000, "the new-own-device warning");

    const fromBob = await say(w, bob!, room, "devices-bob");
    const fromPhone = await say(w, phone, room, "devices-phone");
    const fromLaptop = await say(w, alice!, room, "devices-laptop");
    await w.allRead([alice!, phone], [fromBob.id]);
    await w.allRead([alice!, bob!], [fromPhone.id]);
    await w.allRead([phone, bob!], [fromLaptop.id]);
    expect(alice!.messages.find((m) => m.id === fromPhone.id)).toMatchObject({ from: alice!.jid, device: phone.c.deviceId });
    expect(phone.messages.find((m) => m.id === fromLaptop.id)).toMatchObject({ from: alice!.jid, device: alice!.c.deviceId });
    // The phone reads nothing from before it existed.
    expect(phone.messages.some((m) => m.id === old.id)).toBe(false);
    await w.settled([alice!, bob!, phone], room);
    expect([alice!, bob!, phone].flatMap((d) => d.errors)).toEqual([]);
  }, 60_000);

  it("5b. join() resolves only after the Welcome that made the device a member was processed (state saved, 'joined' emitted)", async () => {
    // The commit adding the new device is held until that device, waiting in join() for its Welcome (§6.3),
    // asks for its KeyPackage count; the Welcome then arrives while that request is out. The device's state
    // file is slow (200 ms per room write), as on a busy disk.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const laptop = await w.open("alice-5b", {
      wrap: (t) => new HookedTransport(t, { iq: async (s, ms, next) => (s.getChild("commit", NS_MLS) ? held.then(() => next(s, ms)) : next(s, ms)) }),
    });
    const room = await w.groupRoom("slowdisk", laptop, []);
    let armed = false;
    let welcomed = false;
    const phone = await w.open("alice-5b", {
      wrap: (t) => {
        t.on("stanza", (s: Element) => void (s.getChild("mls", NS_MLS)?.attrs["kind"] === "welcome" && (welcomed = true)));
        return new HookedTransport(t, {
          iq: async (s, ms, next) => {
            if (armed && s.getChild("count", NS_MLS)) {
              armed = false;
              release();
              await until(() => welcomed, 10_000, "the Welcome");
            }
            return next(s, ms);
          },
        });
      },
    });
    const store = phone.c.store;
    const saveRoom = store.saveRoom.bind(store);
    store.saveRoom = async (...a: Parameters<typeof saveRoom>) => {
      await sleep(200);
      return saveRoom(...a);
    };
    armed = true;
    await phone.c.join(room);
    expect(phone.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "welcome" });
    expect((await phone.c.session(room)).isMember).toBe(true);
    store.saveRoom = saveRoom;
    await w.settled([laptop, phone], room);
  }, 60_000);

  it("6. two members commit in the same epoch: one wins, the other gets epoch-mismatch, rebases, and its change lands", async () => {
    const gate = new CommitGate(2);
    const alice = await w.open("alice-6");
    const bob = await w.open("bob-6", { wrap: (t) => gate.wrap("bob-6", t) });
    const carol = await w.open("carol-6", { wrap: (t) => gate.wrap("carol-6", t) });
    const room = w.room("race");
    await alice.c.createRoom(room, { kind: "group" });
    // Both made members in one request: the DS proposes both Adds in one epoch, alice commits them in one
    // commit, and one Welcome brings bob and carol in together. Each then wants its self-update (§6.5.1).
    const r = await deviceIq(
      alice,
      room,
      "set",
      xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { affiliation: "member", jid: bob.jid }), xml("item", { affiliation: "member", jid: carol.jid })),
    );
    expect(r.attrs["type"]).toBe("result");
    await until(async () => (await w.dsLog(room)).some((e) => e.kind === "commit"), 10_000, "alice's commit of both Adds");
    const welcomeCommit = (await w.dsLog(room)).find((e) => e.kind === "commit")!;
    const epoch = welcomeCommit.epoch + 1; // the epoch bob and carol join in

    await Promise.all([bob.c.join(room), carol.c.join(room)]);
    await w.settled([alice, bob, carol], room);

    // The gate held both self-update commits until both were built, then let them go together.
    expect(gate.released.map((x) => x.user).sort()).toEqual(["bob-6", "carol-6"]);
    expect(gate.released.map((x) => x.epoch)).toEqual([epoch, epoch]);
    expect(gate.replies).toHaveLength(2);
    const accepted = gate.replies.filter((x) => x.reply.attrs["type"] === "result");
    const refused = gate.replies.filter((x) => x.reply.attrs["type"] === "error");
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const winner = accepted[0]!.user;
    const loser = refused[0]!.user;
    expect(accepted[0]!.reply.getChild("accepted", NS_MLS)?.attrs["epoch"]).toBe(String(epoch + 1));
    const err = refused[0]!.reply.getChild("error")!;
    expect(err.attrs["type"]).toBe("wait");
    expect(err.getChild("conflict", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    expect(err.getChild("epoch-mismatch", NS_MLS)?.attrs["current-epoch"]).toBe(String(epoch + 1));

    // The DS log: the winner's commit created epoch+1, then the loser's rebased commit epoch+2; nothing else.
    const commits = (await w.dsLog(room)).filter((e) => e.kind === "commit" && e.epoch >= epoch);
    expect(commits.map((c) => ({ epoch: c.epoch, by: c.senderJid }))).toEqual([
      { epoch, by: w.jid(winner) },
      { epoch: epoch + 1, by: w.jid(loser) },
    ]);
    expect(commits[1]!.seq).toBe(commits[0]!.seq + 1);
    const epochs = await w.query<{ epoch: number }>("SELECT epoch FROM mls_epochs WHERE room = ? ORDER BY epoch", [room]);
    expect(epochs.map((e) => e.epoch)).toEqual(Array.from({ length: epoch + 3 }, (_, i) => i));
    // Every member saw both self-updates, by the two committers, in that order.
    for (const d of [alice, bob, carol]) {
      const updates = d.membership.filter((m) => m.epoch > epoch && m.added.length === 0 && m.removed.length === 0);
      expect(updates.map((m) => m.by?.jid)).toEqual([w.jid(winner), w.jid(loser)]);
    }
    const s = await w.settled([alice, bob, carol], room);
    expect(s.epoch).toBe(epoch + 2);

    const ids = [];
    for (const d of [alice, bob, carol]) ids.push({ d, id: (await say(w, d, room, `race-${d.user}`)).id });
    for (const { d, id } of ids) await w.allRead([alice, bob, carol].filter((x) => x !== d), [id]);
    expect([alice, bob, carol].flatMap((d) => d.errors)).toEqual([]);
  }, 60_000);

  it("11. the component's SQLite files and debug log hold none of the plaintexts sent", async () => {
    await w.expectNoPlaintextLeaks(w.room("three"), 11);
  });
});

/**
 * Holds the `<commit/>` requests of the wrapped connections until `count` of
 * them are waiting, then sends them all at once (only the first `count`).
 */
class CommitGate {
  readonly released: { user: string; epoch: number }[] = [];
  readonly replies: { user: string; reply: Element }[] = [];
  private waiting: { user: string; epoch: number; go: () => void }[] = [];
  private armed = true;

  constructor(private readonly count: number) {}

  wrap(user: string, t: XmppTransport): Transport {
    return new HookedTransport(t, {
      iq: async (s, timeoutMs, next) => {
        const commit = s.getChild("commit", NS_MLS);
        if (!commit || !this.armed) return next(s, timeoutMs);
        const bytes = Buffer.from(commit.getChild("commit-message")!.getText(), "base64");
        const m = decode(decodeMLSMessage, new Uint8Array(bytes));
        const epoch = m.wireFormat === "mls_public_message" ? Number(m.publicMessage.content.epoch) : -1;
        await this.hold(user, epoch);
        const reply = await next(s, timeoutMs);
        this.replies.push({ user, reply });
        return reply;
      },
    });
  }

  private hold(user: string, epoch: number): Promise<void> {
    return new Promise((go) => {
      this.waiting.push({ user, epoch, go });
      if (this.waiting.length >= this.count) this.open();
      else setTimeout(() => this.open(), 15_000).unref();
    });
  }

  private open(): void {
    if (!this.armed) return;
    this.armed = false;
    for (const x of this.waiting) {
      this.released.push({ user: x.user, epoch: x.epoch });
      x.go();
    }
    this.waiting = [];
  }
}
