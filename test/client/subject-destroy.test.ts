// The SDK's XEP-0045 subject (§8.1) and room destruction (§10.9) against the
// fake DS: setSubject / subject() / the "subject" event, and destroyRoom /
// the "destroyed" event with the state it drops.

import { xml } from "@xmpp/xml";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ClientStore } from "../../client/store.js";
import type { DestroyedEvent, SubjectEvent } from "../../client/types.js";
import type { Element } from "../../client/xml.js";
import { World, settle, texts, until, type TestClient } from "./helpers.js";

const ALICE = "alice@localhost";
const BOB = "bob@localhost";
const CAROL = "carol@localhost";

/** alice creates `name` (a group room), invites bob, bob joins; both in the DS's epoch. */
async function aliceAndBob(w: World, name = "team", o: Parameters<World["open"]>[1] = {}): Promise<{ room: string; alice: TestClient; bob: TestClient }> {
  const room = w.room(name);
  const alice = await w.open(ALICE, o);
  const bob = await w.open(BOB, o);
  await alice.client.createRoom(room, { kind: "group" });
  await alice.client.invite(room, BOB);
  await bob.client.join(room);
  await until(() => [alice, bob].every((c) => c.client.epochOf(room) === w.ds.epoch(room)), 5000, "both in the DS epoch");
  for (const c of [alice, bob]) await c.client.idle(room);
  return { room, alice, bob };
}

const subjects = (tc: TestClient, room: string): SubjectEvent[] =>
  tc.events.filter((e) => e.name === "subject").map((e) => e.payload as SubjectEvent).filter((e) => e.room === room);

const destroyedEvents = (tc: TestClient): DestroyedEvent[] => tc.events.filter((e) => e.name === "destroyed").map((e) => e.payload as DestroyedEvent);

const eventNames = (tc: TestClient, room: string): string[] =>
  tc.events.filter((e) => (e.payload as { room?: string }).room === room).map((e) => e.name);

/** Records what `from` sends (after the call). */
function outbound(w: World, from: TestClient): Element[] {
  const seen: Element[] = [];
  w.net.addOutboundInterceptor((f, s) => {
    if (f === from.transport.jid) seen.push(s);
    return "deliver";
  });
  return seen;
}

describe("room subject (XEP-0045 §8.1)", () => {
  let w: World;
  afterEach(async () => {
    vi.restoreAllMocks();
    await w?.dispose();
  });

  it("set by the owner, reflected to everyone, sent to a later joiner with its delay; refused to a participant", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    // Every join ends with the room's subject: none yet, so "" from the room itself.
    await until(() => subjects(bob, room).length > 0, 2000, "bob's subject on join");
    expect(subjects(bob, room)[0]).toMatchObject({ room, subject: "", by: undefined, delayed: false });
    expect(bob.client.subject(room)).toBe("");

    const sent = outbound(w, alice);
    const before = Date.now();
    await alice.client.setSubject(room, "Q3 planning <&> 'ü'");
    // Resolved on the reflection: the subject is known at once.
    expect(alice.client.subject(room)).toBe("Q3 planning <&> 'ü'");
    expect(subjects(alice, room).at(-1)).toMatchObject({ subject: "Q3 planning <&> 'ü'", by: "alice", delayed: false });
    // What went out: a groupchat message with only <subject/>: no body, no MLS payload.
    const msg = sent.find((s) => s.name === "message" && s.getChild("subject"))!;
    expect(msg.attrs["type"]).toBe("groupchat");
    expect(msg.attrs["to"]).toBe(room);
    expect(msg.getChildElements().map((c) => c.name)).toEqual(["subject"]);
    // Not encrypted: the service holds it in the clear (docs/protocol.md §11).
    expect(w.ds.room(room).subject).toBe("Q3 planning <&> 'ü'");

    await until(() => bob.client.subject(room) === "Q3 planning <&> 'ü'", 2000, "bob sees the subject");
    const live = subjects(bob, room).at(-1)!;
    expect(live).toMatchObject({ room, subject: "Q3 planning <&> 'ü'", by: "alice", delayed: false });
    expect(live.time.getTime()).toBeGreaterThanOrEqual(before - 1000);

    // bob is a member (participant): the room does not let participants change the subject.
    const err = await bob.client.setSubject(room, "mine now").catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "ClientError", code: "stanza", condition: "forbidden", type: "auth", room });
    expect(w.ds.room(room).subject).toBe("Q3 planning <&> 'ü'");
    expect(bob.client.subject(room)).toBe("Q3 planning <&> 'ü'");

    // Where the room allows it (muc#roomconfig_changesubject), a participant may.
    w.ds.room(room).changeSubject = true;
    await bob.client.setSubject(room, "bob's turn");
    await until(() => alice.client.subject(room) === "bob's turn", 2000, "alice sees bob's subject");
    expect(subjects(alice, room).at(-1)).toMatchObject({ by: "bob", delayed: false });

    // A member joining later gets the current subject at the end of its join, delayed, with who and when.
    const setAt = w.ds.room(room).subjectAt!;
    const carol = await w.open(CAROL);
    await alice.client.invite(room, CAROL);
    await carol.client.join(room);
    await until(() => subjects(carol, room).length > 0, 2000, "carol's subject on join");
    expect(subjects(carol, room)).toEqual([{ room, subject: "bob's turn", by: "bob", delayed: true, time: setAt }]);
    expect(carol.client.subject(room)).toBe("bob's turn");

    // "" clears it.
    await alice.client.setSubject(room, "");
    await until(() => carol.client.subject(room) === "", 2000, "carol sees the subject cleared");
    expect([...alice.errors, ...bob.errors, ...carol.errors]).toEqual([]);
  });

  it("a message with a body is not a subject change; an unreflected change times out", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w, "team", { sendTimeoutMs: 300 });
    await until(() => bob.client.subject(room) === "", 2000, "bob's subject on join");
    const n = subjects(bob, room).length;
    // §8.1: <subject/> with a <body/> is an ordinary message with a subject.
    bob.transport.receive(
      xml("message", { type: "groupchat", from: `${room}/alice`, to: bob.transport.jid, id: "x1" }, xml("subject", {}, "not a change"), xml("body", {}, "hi")),
    );
    await settle(50);
    expect(subjects(bob, room).length).toBe(n);
    expect(bob.client.subject(room)).toBe("");

    // The room never reflects it: setSubject gives up with a timeout.
    w.net.addOutboundInterceptor((from, s) => (from === alice.transport.jid && s.name === "message" && s.getChild("subject") ? "drop" : "deliver"));
    await expect(alice.client.setSubject(room, "lost")).rejects.toMatchObject({ code: "timeout", room });
    expect(alice.client.subject(room)).toBe("");
  });
});

describe("room destruction (XEP-0045 §10.9)", () => {
  let w: World;
  afterEach(async () => {
    vi.restoreAllMocks();
    await w?.dispose();
  });

  it("the owner destroys the room: both drop its state, emit left then destroyed once, stop; the JID can be created again", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    await alice.client.send(room, "before the end");
    await until(() => texts(bob).includes("before the end"));
    expect((await bob.client.rooms()).map((r) => r.room)).toEqual([room]);

    // Not an owner: refused, nothing changes.
    await expect(bob.client.destroyRoom(room, { reason: "mine" })).rejects.toMatchObject({ code: "stanza", condition: "forbidden" });
    expect(w.ds.rooms.has(room)).toBe(true);
    expect(destroyedEvents(bob)).toEqual([]);

    const alt = w.room("team2");
    await alice.client.destroyRoom(room, { reason: "project over", alternate: alt });
    // Resolved after alice's own state was dropped and her event fired (once, from her <destroy/> presence).
    expect(destroyedEvents(alice)).toEqual([{ room, reason: "project over", alternate: alt }]);
    expect(await alice.client.rooms()).toEqual([]);
    expect(alice.client.epochOf(room)).toBeUndefined();
    expect(w.ds.rooms.has(room)).toBe(false);

    await until(() => destroyedEvents(bob).length > 0, 2000, "bob's destroyed event");
    expect(destroyedEvents(bob)).toEqual([{ room, reason: "project over", alternate: alt }]);
    // The occupant left (110), then the room's state was dropped.
    const order = eventNames(bob, room);
    expect(order.slice(order.indexOf("left"))).toEqual(["left", "destroyed"]);
    expect(bob.events.find((e) => e.name === "left")?.payload).toEqual({ room, statusCodes: [110] });
    expect(await bob.client.rooms()).toEqual([]);
    expect(bob.client.epochOf(room)).toBeUndefined();

    // Nothing is attempted any more: no rejoin after a reconnect.
    const bobOut = outbound(w, bob);
    bob.transport.disconnect();
    bob.transport.reconnect();
    await settle(200);
    expect(bobOut.filter((s) => (s.attrs["to"] ?? "").startsWith(room))).toEqual([]);
    expect(destroyedEvents(bob).length).toBe(1);
    expect(destroyedEvents(alice).length).toBe(1);

    // The state file holds nothing of the room (group state, outbox, dedup entries).
    await w.close(bob);
    const store = await ClientStore.open(bob.stateDir);
    try {
      expect(await store.getRoom(room)).toBeUndefined();
      expect(await store.outboxPending(room)).toEqual([]);
      expect(await store.hasSeen(room, ALICE, bob.messages[0]!.id)).toBe(false);
    } finally {
      await store.close();
    }

    // The same JID again: a new room and a new group (epoch 0, then bob's Add).
    await alice.client.createRoom(room, { kind: "group" });
    expect(alice.client.epochOf(room)).toBe(0);
    expect((await alice.client.rooms()).map((r) => [r.room, r.status])).toEqual([[room, "member"]]);
    const bob2 = await w.open(BOB, { stateDir: bob.stateDir });
    await alice.client.invite(room, BOB);
    await bob2.client.join(room);
    await alice.client.send(room, "a fresh start");
    await until(() => texts(bob2).includes("a fresh start"));
    expect([...alice.errors, ...bob.errors, ...bob2.errors]).toEqual([]);
  });

  it("cancels pending commits and fails what waits on the room with code 'destroyed'", async () => {
    w = new World();
    // Commit timers wait commitDelayMs * Math.random(): none while setting up, then 1 s.
    let r = 0;
    vi.spyOn(Math, "random").mockImplementation(() => r);
    const { room, alice, bob } = await aliceAndBob(w, "team", { commitDelayMs: 2000 });
    await until(() => w.ds.epoch(room) === 2 && alice.client.epochOf(room) === 2 && bob.client.epochOf(room) === 2, 5000, "bob's self-update");
    const carol = await w.open(CAROL);
    r = 0.5;
    const commits: string[] = [];
    w.net.addOutboundInterceptor((from, s) => {
      if (s.name === "iq" && s.getChild("commit", "urn:xmpp:mls:0")) commits.push(from);
      return "deliver";
    });
    // bob's subject change never reaches the room: setSubject() waits for its reflection.
    w.net.addOutboundInterceptor((from, s) => (from === bob.transport.jid && s.name === "message" && s.getChild("subject") ? "drop" : "deliver"));
    const changing = bob.client.setSubject(room, "never reflected").catch((e: unknown) => e);
    // invite() waits for the commit adding carol; the DS's Add is pending at both members.
    const inviting = alice.client.invite(room, CAROL).catch((e: unknown) => e);
    const [as, bs] = [await alice.client.session(room), await bob.client.session(room)];
    await until(
      () => (as.group?.pendingProposals().length ?? 0) > 0 && (bs.group?.pendingProposals().length ?? 0) > 0,
      2000,
      "both have carol's Add pending",
    );

    await alice.client.destroyRoom(room, { reason: "gone" });
    expect(await inviting).toMatchObject({ name: "ClientError", code: "destroyed", room });
    await until(() => destroyedEvents(bob).length > 0, 2000, "bob's destroyed event");
    expect(await changing).toMatchObject({ name: "ClientError", code: "destroyed", room });
    await settle(1300); // past the commit timers
    expect(commits).toEqual([]);
    expect(carol.events.filter((e) => e.name === "joined")).toEqual([]);
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it("an owner that is not in the room destroys it; a device away during the destruction finds out when it rejoins", async () => {
    w = new World();
    const { room, alice, bob } = await aliceAndBob(w);
    await alice.client.leave(room);
    await w.close(bob);

    await alice.client.destroyRoom(room);
    // No <destroy/> presence came (alice was not an occupant): the result alone drops her state, once.
    expect(destroyedEvents(alice)).toEqual([{ room, reason: undefined, alternate: undefined }]);
    expect(alice.events.filter((e) => e.name === "left")).toEqual([]);
    expect(await alice.client.rooms()).toEqual([]);

    // bob comes back (rejoin on open): his join creates the room anew (201), so the old one is gone.
    const bob2 = await w.open(BOB, { stateDir: bob.stateDir });
    await until(() => destroyedEvents(bob2).length > 0, 3000, "bob's destroyed event on rejoin");
    expect(destroyedEvents(bob2)).toEqual([{ room, reason: undefined, alternate: undefined }]);
    expect(await bob2.client.rooms()).toEqual([]);
    // He left the room his presence created, so the service dropped it again (§6.2) and alice can create it.
    await until(() => !w.ds.rooms.has(room), 2000, "the accidental room dropped");
    await alice.client.createRoom(room);
    expect(w.ds.room(room).owner).toBe(ALICE);
    expect([...alice.errors, ...bob2.errors]).toEqual([]);
  });
});
