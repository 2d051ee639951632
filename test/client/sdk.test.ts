// The client SDK against the fake DS: rooms, chat, devices, removal,
// conflicting commits, disordered delivery, restarts.

import { afterEach, describe, expect, it } from "vitest";

import { isClientError } from "../../client/errors.js";
import { ClientStore } from "../../client/store.js";
import { NS } from "../../client/ns.js";
import type { Element } from "../../client/xml.js";
import { World, settle, texts, until, type TestClient } from "./helpers.js";

const ALICE = "alice@localhost";
const BOB = "bob@localhost";
const CAROL = "carol@localhost";

/** alice creates `team`, invites bob, bob joins. */
async function aliceAndBob(w: World, name = "team"): Promise<{ room: string; alice: TestClient; bob: TestClient }> {
  const room = w.room(name);
  const alice = await w.open(ALICE);
  const bob = await w.open(BOB);
  await alice.client.createRoom(room, { kind: "group" });
  await alice.client.invite(room, BOB);
  await bob.client.join(room);
  await settled(w, room, [alice, bob]);
  return { room, alice, bob };
}

/** Waits until every client is idle and in the DS's epoch. */
async function settled(w: World, room: string, clients: readonly TestClient[]): Promise<void> {
  await until(() => clients.every((c) => c.client.epochOf(room) === w.ds.epoch(room)), 5000, "all clients in the DS epoch");
  await settle(30);
  for (const c of clients) await c.client.idle(room);
  await until(() => clients.every((c) => c.client.epochOf(room) === w.ds.epoch(room)), 5000, "all clients in the DS epoch (after idle)");
}

function sameAuthenticator(room: string, clients: readonly TestClient[]): boolean {
  const a = clients.map((c) => Buffer.from(c.client.epochAuthenticator(room) ?? []).toString("hex"));
  return a.every((x) => x !== "" && x === a[0]);
}

const isMlsMessageTo = (to: string, kind?: string) => (t: string, s: Element) =>
  t === to && s.name === "message" && s.getChild("mls", NS.MLS) !== undefined && (kind === undefined || s.getChild("mls", NS.MLS)?.attrs["kind"] === kind);

describe("MlsClient with a fake DS", () => {
  let w: World;
  afterEach(async () => {
    await w?.dispose();
  });

  it("creates a group room, binds it, adds bob by Welcome; both chat; the GroupInfos sent carry no tree", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    // bob joined by Welcome, then refreshed his leaf with an empty commit (§6.5.1).
    expect(bob.events.find((e) => e.name === "joined")?.payload).toMatchObject({ room, via: "welcome" });
    expect(w.ds.memberKeys(room)).toEqual([`${ALICE}/${alice.client.deviceId}`, `${BOB}/${bob.client.deviceId}`].sort());
    expect(w.ds.epoch(room)).toBe(2);
    expect(w.ds.stats.groupInfosWithTree).toBe(0);

    const s1 = await alice.client.send(room, "hello bob");
    const s2 = await bob.client.send(room, "hi alice <&> 'ü'");
    expect(s2.seq).toBeGreaterThan(s1.seq);
    await until(() => texts(bob).includes("hello bob") && texts(alice).includes("hi alice <&> 'ü'"));
    const m = alice.messages.find((x) => x.text.startsWith("hi alice"))!;
    expect(m).toMatchObject({ room, from: BOB, device: bob.client.deviceId, id: s2.id, seq: s2.seq, epoch: 2, stanzaId: s2.stanzaId });
    // Nobody reads their own message as a received one.
    expect(texts(alice)).not.toContain("hello bob");
    expect(sameAuthenticator(room, [alice, bob])).toBe(true);

    const members = await alice.client.members(room);
    expect(members.devices.map((d) => `${d.jid}/${d.device}`).sort()).toEqual(w.ds.memberKeys(room));
    expect(members.affiliations).toEqual(expect.arrayContaining([{ jid: ALICE, affiliation: "owner" }, { jid: BOB, affiliation: "member" }]));
    expect(members.devices[0]!.fingerprint).toMatch(/^([0-9a-f]{8} ){7}[0-9a-f]{8}$/);
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it("joining a room that does not exist fails with item-not-found, and leaves no room behind", async () => {
    w = new World();
    const room = w.room("nowhere");
    const bob = await w.open(BOB);
    const t0 = Date.now();
    await expect(bob.client.join(room)).rejects.toMatchObject({ code: "stanza", condition: "item-not-found", room });
    // At once, not after the join timeout.
    expect(Date.now() - t0).toBeLessThan(1500);
    // bob left the room his presence created, so the service dropped it; nothing of it is stored.
    await until(() => !w.ds.rooms.has(room), 2000, "the accidental room dropped");
    expect(await bob.client.rooms()).toEqual([]);
    await expect(bob.client.send(room, "anyone?")).rejects.toMatchObject({ condition: "item-not-found" });
    // The room can then be created as usual, and bob joins it once invited.
    const alice = await w.open(ALICE);
    await alice.client.createRoom(room);
    expect(w.ds.room(room).owner).toBe(ALICE);
    await alice.client.invite(room, BOB);
    await bob.client.join(room);
    await alice.client.send(room, "now it exists");
    await until(() => texts(bob).includes("now it exists"));
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it("keeps KeyPackages published: count, top-up, last resort; refuses to reuse a state dir for another JID", async () => {
    w = new World();
    const alice = await w.open(ALICE);
    const dev = w.ds.devices.get(ALICE)!.get(alice.client.deviceId)!;
    expect(dev.kps.length).toBe(20);
    expect(dev.lastResort).toBeDefined();
    // Below the low-water mark: the next connection tops up.
    dev.kps.splice(0, 15);
    await w.close(alice);
    const again = await w.open(ALICE, { stateDir: alice.stateDir });
    expect(again.client.deviceId).toBe(alice.client.deviceId);
    expect(w.ds.devices.get(ALICE)!.get(alice.client.deviceId)!.kps.length).toBe(20);
    await w.close(again);
    await expect(w.open(BOB, { stateDir: alice.stateDir })).rejects.toMatchObject({ code: "invalid-argument" });
  });

  it("the low-water headline makes the device publish more KeyPackages", async () => {
    w = new World({ lowWater: 20 });
    const room = w.room("team");
    const alice = await w.open(ALICE);
    const bob = await w.open(BOB);
    const dev = () => w.ds.devices.get(BOB)!.get(bob.client.deviceId)!;
    expect(dev().kps.length).toBe(20);
    const published = w.ds.stats.published;
    await alice.client.createRoom(room);
    await alice.client.invite(room, BOB); // claims one of bob's KeyPackages: 19 < 20
    await until(() => w.ds.stats.published > published && dev().kps.length === 20, 5000, "bob replenished");
  });

  it("two devices of one account: the second is added while the first is online, and both read and write", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    const alice2 = await w.open(ALICE); // publishing registers the device; the DS proposes its Add; alice commits it
    await until(() => w.ds.memberKeys(room).includes(`${ALICE}/${alice2.client.deviceId}`), 5000, "alice2 added");
    expect(alice2.client.deviceId).not.toBe(alice.client.deviceId);
    await alice2.client.join(room);
    await settled(w, room, [alice, alice2, bob]);
    expect(alice.warnings.some((x) => x.kind === "new-own-device" && x.device === alice2.client.deviceId)).toBe(true);

    await bob.client.send(room, "to both alices");
    await alice.client.send(room, "from laptop");
    await alice2.client.send(room, "from phone");
    await until(() => texts(alice).includes("to both alices") && texts(alice2).includes("to both alices"));
    await until(() => texts(alice2).includes("from laptop") && texts(alice).includes("from phone"));
    await until(() => texts(bob).includes("from laptop") && texts(bob).includes("from phone"));
    const fromPhone = bob.messages.find((m) => m.text === "from phone")!;
    expect(fromPhone.from).toBe(ALICE);
    expect(fromPhone.device).toBe(alice2.client.deviceId);
    expect(sameAuthenticator(room, [alice, alice2, bob])).toBe(true);

    // The phone is lost: the laptop retires it; the service removes its leaf, and it learns it.
    await alice.client.retireDevice(alice2.client.deviceId, w.ds.domain);
    await until(() => alice2.events.some((e) => e.name === "removed"), 5000, "alice2 removed");
    expect(w.ds.memberKeys(room)).not.toContain(`${ALICE}/${alice2.client.deviceId}`);
    await alice.client.send(room, "phone gone");
    await until(() => texts(bob).includes("phone gone"));
    expect(texts(alice2)).not.toContain("phone gone");
  });

  it("removal: the removed device learns it, gets nothing more, and cannot decrypt what is sent later", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    const carol = await w.open(CAROL);
    await alice.client.invite(room, CAROL);
    await carol.client.join(room);
    await settled(w, room, [alice, bob, carol]);

    // Capture what alice sends after the removal, to replay it to bob.
    const leaked: Element[] = [];
    w.net.addOutboundInterceptor((from, s) => {
      if (from === alice.transport.jid && s.name === "message") leaked.push(s);
      return "deliver";
    });
    const r = await alice.client.remove(room, BOB);
    expect(r.devices).toEqual([{ jid: BOB, device: bob.client.deviceId }]);
    await until(() => bob.events.some((e) => e.name === "removed"), 5000, "bob removed event");
    expect(w.ds.memberKeys(room)).not.toContain(`${BOB}/${bob.client.deviceId}`);
    expect(bob.membership.at(-1)!.removed.map((d) => d.jid)).toEqual([BOB]);

    await alice.client.send(room, "after bob left");
    await until(() => texts(carol).includes("after bob left"));
    // Replay the ciphertext to bob as if the DS had sent it.
    const ct = leaked.find((s) => s.getChild("mls", NS.MLS))!;
    const mls = ct.getChild("mls", NS.MLS)!;
    const { xml } = await import("@xmpp/xml");
    bob.transport.receive(
      xml(
        "message",
        { type: "groupchat", from: room, to: bob.transport.jid, id: "x" },
        xml("mls", { xmlns: NS.MLS, kind: "application", epoch: String(w.ds.epoch(room)), seq: "999" }, mls.getText()),
      ),
    );
    await settle(100);
    expect(texts(bob)).not.toContain("after bob left");
    await expect(bob.client.send(room, "still here?")).rejects.toSatisfy((e) => isClientError(e) && (e.code === "removed" || e.code === "stanza"));
  });

  it("an active device refreshes its leaf once the self-update interval passed (§6.5.1), and only then", async () => {
    w = new World();
    const room = w.room("refresh");
    let clock = Date.UTC(2026, 0, 1);
    const DAY = 86_400_000;
    const alice = await w.open(ALICE, { now: () => clock });
    const bob = await w.open(BOB, { now: () => clock, selfUpdateIntervalSeconds: 0 });
    await alice.client.createRoom(room, { kind: "group" });
    await alice.client.invite(room, BOB);
    await bob.client.join(room);
    await settled(w, room, [alice, bob]);
    const epoch = w.ds.epoch(room);
    // Within the interval (7 days by default), activity does not commit.
    clock += 6 * DAY;
    await alice.client.send(room, "fresh");
    await settled(w, room, [alice, bob]);
    expect(w.ds.epoch(room)).toBe(epoch);
    // Past it: bob (interval 0: never) stays put; alice's next activity, here reading, commits an empty path update.
    clock += 2 * DAY;
    await bob.client.send(room, "bob is active");
    await until(() => texts(alice).includes("bob is active"));
    await settled(w, room, [alice, bob]);
    const refreshed = w.ds.epoch(room);
    expect(refreshed).toBe(epoch + 1);
    expect(alice.membership.at(-1)).toMatchObject({ added: [], removed: [] });
    // The refresh restarts the clock.
    clock += 6 * DAY;
    await alice.client.send(room, "again");
    await settled(w, room, [alice, bob]);
    expect(w.ds.epoch(room)).toBe(refreshed);
    expect(sameAuthenticator(room, [alice, bob])).toBe(true);
    // The time of the refresh is in the device's state file (it survives a restart).
    await w.close(alice);
    const store = await ClientStore.open(alice.stateDir);
    expect((await store.getRoom(room))!.leafUpdatedAt).toBe(Math.floor((clock - 6 * DAY) / 1000));
    await store.close();
  }, 30_000);

  it("conflicting commits: one wins, the other rebases and its change (a self-update) lands", async () => {
    w = new World();
    const room = w.room("team");
    const alice = await w.open(ALICE);
    const bob = await w.open(BOB);
    await alice.client.createRoom(room);
    // bob's self-update after his Welcome and alice's commit of carol's Add race for the same epoch.
    await alice.client.invite(room, BOB);
    w.ds.holdCommits = true;
    await bob.client.join(room); // joins by Welcome; self-update commit is held
    await until(() => w.ds.heldCommits.length === 1, 5000, "bob's self-update held");
    const carol = await w.open(CAROL);
    const inviting = alice.client.invite(room, CAROL);
    // bob's queue waits for the answer to his commit; alice commits carol's Add.
    await until(() => w.ds.heldCommits.length === 2, 5000, "alice's commit of carol's Add held");
    const epochBefore = w.ds.epoch(room);
    // alice's first: bob's self-update loses with epoch-mismatch.
    const aliceIdx = w.ds.heldCommits.findIndex((h) => h.from === alice.transport.jid);
    w.ds.holdCommits = false;
    w.ds.releaseCommits([aliceIdx, 1 - aliceIdx]);
    await inviting;
    expect(w.ds.stats.commitsRefused).toBe(1);
    await carol.client.join(room);
    await settled(w, room, [alice, bob, carol]);
    // bob's rebased self-update and carol's landed on top of alice's commit.
    expect(w.ds.epoch(room)).toBeGreaterThanOrEqual(epochBefore + 2);
    const bobCommits = w.ds.room(room).log.filter((e) => e.kind === "commit" && e.senderNick === "bob");
    expect(bobCommits.length).toBeGreaterThanOrEqual(1);
    expect(sameAuthenticator(room, [alice, bob, carol])).toBe(true);
    await bob.client.send(room, "after the race");
    await until(() => texts(alice).includes("after the race") && texts(carol).includes("after the race"));
    expect([...alice.errors, ...bob.errors, ...carol.errors]).toEqual([]);
  });

  it("sending while DS proposals are pending commits them first (and rebases when another commit wins)", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    const carol = await w.open(CAROL);
    w.ds.holdCommits = true;
    await alice.client.invite(room, CAROL, { wait: false });
    await until(() => w.ds.heldCommits.length === 2, 5000, "both commits held");
    const sending = alice.client.send(room, "sent after the commit");
    await settle(30);
    // bob's commit wins; alice's (and the one made for sending) lose; alice catches up, then sends.
    const bobIdx = w.ds.heldCommits.findIndex((h) => h.from === bob.transport.jid);
    w.ds.releaseCommits([bobIdx, 1 - bobIdx]);
    w.ds.holdCommits = false;
    w.ds.releaseCommits();
    const sent = await sending;
    expect(sent.epoch).toBe(w.ds.epoch(room));
    await carol.client.join(room);
    await until(() => texts(bob).includes("sent after the commit"));
    // The message went out in the epoch that added carol: she reads it too.
    await until(() => texts(carol).includes("sent after the commit"));
    expect(w.ds.room(room).log.filter((e) => e.kind === "application").map((e) => e.epoch)).toEqual([sent.epoch]);
  });

  it("out-of-order and duplicated delivery: processed once each, in seq order", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    const stop = w.net.addInterceptor((to, s) => (isMlsMessageTo(bob.transport.jid, "application")(to, s) ? "hold" : "deliver"));
    for (let i = 0; i < 6; i++) await alice.client.send(room, `m${i}`);
    stop();
    expect(w.net.heldStanzas.length).toBe(6);
    w.net.releaseHeld([5, 3, 4, 0, 2, 1, 3, 5], true);
    await until(() => bob.messages.length >= 6);
    await settle(100);
    expect(texts(bob)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    const seqs = bob.messages.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("a gap is filled by catch-up after the gap timeout", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    let dropped = 0;
    const stop = w.net.addInterceptor((to, s) => {
      if (isMlsMessageTo(bob.transport.jid, "application")(to, s) && s.getChild("delay", "urn:xmpp:delay") === undefined && dropped < 1) {
        dropped++;
        return "drop";
      }
      return "deliver";
    });
    await alice.client.send(room, "lost live");
    await alice.client.send(room, "arrives");
    await until(() => texts(bob).length === 2, 5000, "catch-up");
    stop();
    expect(texts(bob)).toEqual(["lost live", "arrives"]);
    expect(bob.messages[0]!.delayed).toBe(true);
  });

  it("restart from the state dir: nothing lost, nothing processed twice", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    await alice.client.send(room, "before");
    await until(() => texts(bob).includes("before"));
    await w.close(bob);
    await alice.client.send(room, "while away 1");
    await alice.client.send(room, "while away 2");
    const bob2 = await w.open(BOB, { stateDir: bob.stateDir });
    expect(bob2.client.deviceId).toBe(bob.client.deviceId);
    await bob2.client.join(room);
    await until(() => texts(bob2).length >= 2);
    await settle(100);
    expect(texts(bob2)).toEqual(["while away 1", "while away 2"]);
    expect(bob2.messages.every((m) => m.delayed)).toBe(true);
    await bob2.client.send(room, "back");
    await until(() => texts(alice).includes("back"));
    // Restart again without anything new: nothing is delivered twice.
    await w.close(bob2);
    const bob3 = await w.open(BOB, { stateDir: bob.stateDir });
    await bob3.client.join(room);
    await settle(150);
    expect(texts(bob3)).toEqual([]);
    expect(sameAuthenticator(room, [alice, bob3])).toBe(true);
  });

  it("a connection loss: rejoin and catch up on reconnect", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    bob.transport.disconnect();
    await alice.client.send(room, "while offline 1");
    await alice.client.send(room, "while offline 2");
    expect(texts(bob)).toEqual([]);
    bob.transport.reconnect();
    await until(() => texts(bob).length === 2, 5000, "catch-up after reconnect");
    expect(texts(bob)).toEqual(["while offline 1", "while offline 2"]);
    await bob.client.send(room, "back online");
    await until(() => texts(alice).includes("back online"));
  });

  /** Alice and bob in a room; bob reconnects while the service is down, and retries his rejoin. */
  async function reconnectWhileServiceDown(minRetries: number, rejoinRetryMs = 20) {
    w = new World();
    w.clientDefaults = { rejoinRetryMs };
    const { room, alice, bob } = await aliceAndBob(w);
    bob.transport.disconnect();
    w.net.setComponentDown(w.ds.domain, true);
    bob.transport.reconnect();
    const retries = () => bob.warnings.filter((x) => x.kind === "rejoin-retry");
    await until(() => retries().length >= minRetries, 5000, "rejoin retries");
    return { room, alice, bob, retries };
  }

  it("a reconnect while the service is down: the rejoin is retried until the service is back, no error", async () => {
    const { room, alice, bob, retries } = await reconnectWhileServiceDown(3);
    expect(retries()[0]!.message).toMatch(/unreachable.*remote-server-timeout/);
    w.net.setComponentDown(w.ds.domain, false);
    await alice.client.send(room, "the service is back");
    await until(() => texts(bob).includes("the service is back"), 5000, "bob back in the room");
    const n = retries().length;
    await settle(200);
    expect(retries().length).toBe(n);
    expect(bob.errors).toEqual([]);
    await bob.client.send(room, "me too");
    await until(() => texts(alice).includes("me too"));
  });

  it("a pending retry is dropped when the room was joined meanwhile (send joins): one join presence, not two", async () => {
    const { room, alice, bob, retries } = await reconnectWhileServiceDown(1, 300);
    w.net.setComponentDown(w.ds.domain, false);
    const joins = () => bob.transport.sent.filter((x) => x.name === "presence" && x.getChild("x", NS.MUC) !== undefined).length;
    const before = joins();
    await bob.client.send(room, "back before the retry");
    await until(() => texts(alice).includes("back before the retry"));
    expect(joins()).toBe(before + 1);
    // The retry's timer (300 ms, then 600) passes without a second join.
    await settle(1000);
    expect(joins()).toBe(before + 1);
    expect(retries()).toHaveLength(1);
    expect(bob.errors).toEqual([]);
  });

  it("retries of a rejoin stop when the connection drops again; a lasting outage on open is retried too", async () => {
    const { room, alice, bob, retries } = await reconnectWhileServiceDown(2);
    bob.transport.disconnect();
    const n = retries().length;
    await settle(300);
    expect(retries().length).toBeLessThanOrEqual(n + 1);
    expect(bob.errors).toEqual([]);
    // A client opened on the same state while the service is down rejoins when it is back.
    await w.close(bob);
    const bob2 = await w.open(BOB, { stateDir: bob.stateDir, mlsService: undefined });
    await until(() => bob2.warnings.some((x) => x.kind === "rejoin-retry"), 5000, "rejoin retries on open");
    w.net.setComponentDown(w.ds.domain, false);
    await alice.client.send(room, "welcome back");
    await until(() => texts(bob2).includes("welcome back"), 5000, "bob2 rejoined");
    expect(bob2.errors).toEqual([]);
  });

  it("a failed state write: the step is redone from the file, the message is delivered once", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    const store = bob.client.store;
    const orig = store.saveRoom.bind(store);
    let failures = 0;
    store.saveRoom = async (r, wr) => {
      if (failures === 0 && (wr?.seen?.length ?? 0) > 0) {
        failures++;
        throw new Error("disk full");
      }
      return orig(r, wr);
    };
    await alice.client.send(room, "survives");
    await until(() => texts(bob).includes("survives"), 5000, "redelivered by catch-up");
    await alice.client.send(room, "next");
    await until(() => texts(bob).includes("next"));
    expect(texts(bob)).toEqual(["survives", "next"]);
    expect(failures).toBe(1);
    expect(bob.errors.some((e) => e.code === "storage")).toBe(true);
    // The state on disk follows: a restart delivers nothing again.
    await w.close(bob);
    const bob2 = await w.open(BOB, { stateDir: bob.stateDir });
    await bob2.client.join(room);
    await settle(100);
    expect(texts(bob2)).toEqual([]);
  });

  it("a message that never reached the DS is re-sent after a restart, once", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    const stop = w.net.addOutboundInterceptor((from, s) => (from === alice.transport.jid && s.name === "message" ? "drop" : "deliver"));
    const p = alice.client.send(room, "eventually").catch((e: unknown) => e);
    await settle(50);
    await w.close(alice);
    expect(await p).toMatchObject({ code: "closed" });
    stop();
    const alice2 = await w.open(ALICE, { stateDir: alice.stateDir });
    await alice2.client.join(room);
    await until(() => texts(bob).includes("eventually"));
    await until(() => alice2.events.some((e) => e.name === "sent"));
    await settle(100);
    expect(texts(bob).filter((t) => t === "eventually").length).toBe(1);
    expect(w.ds.room(room).log.filter((e) => e.kind === "application").length).toBe(1);
  });

  it("a message whose reflection was lost is not sent twice after a restart", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    const stop = w.net.addInterceptor((to, s) => (isMlsMessageTo(alice.transport.jid, "application")(to, s) ? "drop" : "deliver"));
    const p = alice.client.send(room, "once").catch((e: unknown) => e);
    await until(() => texts(bob).includes("once"));
    await w.close(alice);
    expect(await p).toMatchObject({ code: "closed" });
    stop();
    const alice2 = await w.open(ALICE, { stateDir: alice.stateDir });
    await alice2.client.join(room);
    await until(() => alice2.events.some((e) => e.name === "sent"));
    await settle(100);
    expect(w.ds.room(room).log.filter((e) => e.kind === "application").length).toBe(1);
    expect(texts(alice2)).toEqual([]);
  });

  it("stale-epoch: a message encrypted before a removal is refused, re-encrypted after catch-up with the same id", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    const carol = await w.open(CAROL);
    await alice.client.invite(room, CAROL);
    await carol.client.join(room);
    await settled(w, room, [alice, bob, carol]);
    // bob does not see the removal commit live.
    const stop = w.net.addInterceptor((to, s) =>
      isMlsMessageTo(bob.transport.jid)(to, s) && s.getChild("delay", "urn:xmpp:delay") === undefined && s.getChild("mls", NS.MLS)!.attrs["kind"] !== "application"
        ? "drop"
        : "deliver",
    );
    await alice.client.remove(room, CAROL);
    const sent = await bob.client.send(room, "bob after the removal");
    stop();
    expect(w.ds.stats.staleRefusals).toBe(1);
    expect(sent.epoch).toBe(w.ds.epoch(room));
    await until(() => texts(alice).includes("bob after the removal"));
    expect(texts(carol)).not.toContain("bob after the removal");
    expect(alice.messages.find((m) => m.text === "bob after the removal")!.id).toBe(sent.id);
  });

  it("channels: a device that is not a member joins by external commit", async () => {
    w = new World();
    const room = w.room("lobby");
    const alice = await w.open(ALICE);
    const carol = await w.open(CAROL);
    await alice.client.createRoom(room, { kind: "channel" });
    await carol.client.join(room);
    expect(carol.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "external-commit" });
    await settled(w, room, [alice, carol]);
    await carol.client.send(room, "hello lobby");
    await until(() => texts(alice).includes("hello lobby"));
    await alice.client.send(room, "welcome carol");
    await until(() => texts(carol).includes("welcome carol"));
    // carol leaves: the DS removes her leaf (no grace in the fake DS); alice commits it.
    await carol.client.leave(room);
    await until(() => !w.ds.memberKeys(room).some((k) => k.startsWith(CAROL)), 5000, "carol's leaf removed");
    // She comes back: a fresh external join (her old state is gone).
    await carol.client.join(room);
    await settled(w, room, [alice, carol]);
    await alice.client.send(room, "welcome back");
    await until(() => texts(carol).includes("welcome back"));
  });

  it("a device with state but whose leaf was lost resyncs by external commit", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    // Forget bob's group state (as if its Welcome key had been lost) but keep the device.
    await w.close(bob);
    const { ClientStore } = await import("../../client/store.js");
    const store = await ClientStore.open(bob.stateDir);
    const rec = (await store.getRoom(room))!;
    await store.saveRoom({ ...rec, status: "new", groupState: undefined, lastSeq: 0 });
    await store.close();
    const bob2 = await w.open(BOB, { stateDir: bob.stateDir, welcomeWaitMs: 100 });
    await bob2.client.join(room);
    expect(bob2.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "external-commit" });
    await settled(w, room, [alice, bob2]);
    // Still one leaf for bob's device.
    expect(w.ds.memberKeys(room).filter((k) => k.startsWith(BOB))).toEqual([`${BOB}/${bob.client.deviceId}`]);
    await alice.client.send(room, "after resync");
    await until(() => texts(bob2).includes("after resync"));
  });

  it("invite of a user without KeyPackages resolves without devices; the user's first device joins by external commit", async () => {
    w = new World();
    const room = w.room("team");
    const alice = await w.open(ALICE);
    await alice.client.createRoom(room);
    const r = await alice.client.invite(room, "dave@localhost", { proposalWaitMs: 100 });
    expect(r.devices).toEqual([]);
    await w.close(alice);
    // dave's device appears later, with nobody online to commit its Add.
    const dave = await w.open("dave@localhost", { welcomeWaitMs: 100 });
    await dave.client.join(room);
    expect(dave.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "external-commit" });
  });

  it("five devices, concurrent invites, commits and messages: everyone reads everything once, one epoch", async () => {
    w = new World();
    const room = w.room("crowd");
    const users = ["u0", "u1", "u2", "u3", "u4"].map((u) => `${u}@localhost`);
    const cs: TestClient[] = [];
    for (const u of users) cs.push(await w.open(u, { commitDelayMs: 30 }));
    await cs[0]!.client.createRoom(room);
    // Invites in parallel: DS proposals interleave with commits of several members.
    await Promise.all(users.slice(1).map((u) => cs[0]!.client.invite(room, u)));
    await Promise.all(cs.slice(1).map((c) => c.client.join(room)));
    await settled(w, room, cs);
    const sends: Promise<unknown>[] = [];
    for (let round = 0; round < 3; round++) {
      for (const [i, c] of cs.entries()) sends.push(c.client.send(room, `r${round} from u${i}`));
    }
    await Promise.all(sends);
    for (const [i, c] of cs.entries()) {
      const expected = cs.flatMap((_, j) => (j === i ? [] : [0, 1, 2].map((r) => `r${r} from u${j}`))).sort();
      await until(() => c.messages.length >= expected.length, 5000, `u${i} reads all`);
      expect(texts(c).sort()).toEqual(expected);
    }
    await settled(w, room, cs);
    expect(sameAuthenticator(room, cs)).toBe(true);
    expect(cs.flatMap((c) => c.errors)).toEqual([]);
  });

  it.each([7, 42, 1234])("chaos (seed %i): invites while chatting, messages reordered, held and duplicated", async (seed0) => {
    w = new World();
    const room = w.room("chaos");
    const users = ["u0", "u1", "u2", "u3", "u4", "u5"].map((u) => `${u}@localhost`);
    const cs: TestClient[] = [];
    for (const u of users) cs.push(await w.open(u, { commitDelayMs: 20 }));
    await cs[0]!.client.createRoom(room);
    await cs[0]!.client.invite(room, users[1]!);
    await cs[1]!.client.join(room);
    let seed = seed0;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const stop = w.net.addInterceptor((_to, st) => (st.name === "message" && rnd() < 0.3 ? "hold" : "deliver"));
    const timer = setInterval(() => {
      const n = w.net.heldStanzas.length;
      if (n > 0) w.net.releaseHeld([...Array(n).keys()].sort(() => rnd() - 0.5), rnd() < 0.3);
    }, 15);
    try {
      const sends: Promise<unknown>[] = [];
      for (let i = 2; i < users.length; i++) {
        sends.push(cs[0]!.client.send(room, `a${i}`));
        sends.push(cs[1]!.client.send(room, `b${i}`));
        await cs[0]!.client.invite(room, users[i]!);
        await cs[i]!.client.join(room);
        sends.push(cs[i]!.client.send(room, `hello from u${i}`));
      }
      await Promise.all(sends);
    } finally {
      stop();
      clearInterval(timer);
      w.net.releaseHeld();
    }
    await settled(w, room, cs);
    expect(sameAuthenticator(room, cs)).toBe(true);
    for (let i = 2; i < users.length; i++) {
      expect(texts(cs[0]!)).toContain(`hello from u${i}`);
      expect(texts(cs[1]!)).toContain(`hello from u${i}`);
    }
    for (const c of cs) expect(new Set(c.messages.map((m) => `${m.from}/${m.id}`)).size).toBe(c.messages.length);
    expect(cs.flatMap((c) => c.errors)).toEqual([]);
  });

  it("errors are typed: joining a members-only room without affiliation, sending to an unknown room", async () => {
    w = new World();
    const room = w.room("team");
    const alice = await w.open(ALICE);
    const bob = await w.open(BOB);
    await alice.client.createRoom(room);
    await expect(bob.client.join(room)).rejects.toMatchObject({ code: "stanza", condition: "registration-required" });
    await expect(alice.client.createRoom(room)).rejects.toMatchObject({ code: "conflict" });
    await expect(alice.client.send("not a jid", "x")).rejects.toMatchObject({ code: "invalid-argument" });
    await expect(bob.client.invite(room, ALICE)).rejects.toMatchObject({ code: "stanza" });
  });
});
