// XEP-0045 subject (§8.1) and room destruction (§10.9) end to end, with the
// SDK's setSubject() / "subject" and destroyRoom() / "destroyed": the owner
// sets the subject and the members see it, a participant is refused, a later
// joiner gets the current subject at the end of its join; the owner destroys
// the room, every member drops its state for it, and the JID can be created
// again from scratch.

import { describe, expect, it } from "vitest";

import type { DestroyedEvent, SubjectEvent } from "../../../client/types.js";
import { until, type World, worldPerSuite, type Device } from "./world.js";

const subjects = (d: Device, room: string): SubjectEvent[] =>
  d.events.filter((e) => e.name === "subject").map((e) => e.payload as SubjectEvent).filter((e) => e.room === room);

const destroyed = (d: Device): DestroyedEvent[] => d.events.filter((e) => e.name === "destroyed").map((e) => e.payload as DestroyedEvent);

describe("room subject and destruction", () => {
  let w: World;

  worldPerSuite({ users: ["alice-s", "bob-s", "carol-s"] }, (x) => (w = x));

  it("subject set, refused, sent on join; the room destroyed, dropped by every member, and created again", async () => {
    const [alice, bob, carol] = (await Promise.all(["alice-s", "bob-s", "carol-s"].map((u) => w.open(u)))) as [Device, Device, Device];
    const room = await w.groupRoom("agenda", alice, [bob]);
    // Every join ends with the room's subject: none yet.
    await until(() => subjects(bob, room).length > 0, 5000, "bob's subject on join");
    expect(subjects(bob, room)[0]).toMatchObject({ room, subject: "", delayed: false });
    const m1 = await w.say(alice, room, "before-subject");
    await w.allRead([bob], [m1.id]);

    // The owner (a moderator) sets it: resolved on the room's reflection, seen by bob live.
    await alice.c.setSubject(room, "Q3 planning");
    expect(alice.c.subject(room)).toBe("Q3 planning");
    await until(() => subjects(bob, room).some((s) => s.subject === "Q3 planning"), 5000, "bob's subject event");
    expect(subjects(bob, room).at(-1)).toMatchObject({ room, subject: "Q3 planning", by: "alice-s", delayed: false });
    expect(bob.c.subject(room)).toBe("Q3 planning");
    // Plain MUC metadata: the service stores it in the clear (docs/protocol.md §11).
    expect(await w.query<{ subject: string; subject_by: string }>("SELECT subject, subject_by FROM rooms WHERE jid = ?", [room])).toEqual([
      { subject: "Q3 planning", subject_by: "alice-s" },
    ]);

    // bob is a member, hence a participant; the room does not let participants change the subject.
    const refused = await bob.c.setSubject(room, "bob's agenda").catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: "ClientError", code: "stanza", condition: "forbidden", room });
    expect(bob.c.subject(room)).toBe("Q3 planning");
    expect(alice.c.subject(room)).toBe("Q3 planning");

    // carol, invited later, gets the current subject at the end of her join, with its time of setting.
    const r = await alice.c.invite(room, carol.jid);
    expect(r.devices.map((d) => d.device)).toEqual([carol.c.deviceId]);
    await carol.c.join(room);
    await until(() => subjects(carol, room).length > 0, 5000, "carol's subject on join");
    expect(subjects(carol, room)).toEqual([
      { room, subject: "Q3 planning", by: "alice-s", delayed: true, time: expect.any(Date) as unknown },
    ]);
    expect(carol.c.subject(room)).toBe("Q3 planning");
    await w.settled([alice, bob, carol], room);

    // The owner destroys the room.
    await alice.c.destroyRoom(room, { reason: "project over" });
    expect(destroyed(alice)).toEqual([{ room, reason: "project over", alternate: undefined }]);
    await until(() => destroyed(bob).length > 0 && destroyed(carol).length > 0, 10_000, "bob's and carol's destroyed events");
    for (const d of [bob, carol]) {
      expect(destroyed(d)).toEqual([{ room, reason: "project over", alternate: undefined }]);
      // The occupant's unavailable presence (left), then the state dropped (destroyed).
      const names = d.events.filter((e) => (e.payload as { room?: string } | undefined)?.room === room).map((e) => e.name);
      expect(names.slice(-2)).toEqual(["left", "destroyed"]);
    }
    for (const d of [alice, bob, carol]) {
      expect((await d.c.rooms()).map((x) => x.room)).not.toContain(room);
      expect(d.c.epochOf(room)).toBeUndefined();
    }
    expect(await w.dsGroup(room)).toBeUndefined();
    expect(await w.query("SELECT jid FROM rooms WHERE jid = ?", [room])).toEqual([]);

    // The same JID again: a new room, a new group from epoch 0; bob joins it from scratch and reads.
    await alice.c.createRoom(room, { kind: "group" });
    expect(alice.c.epochOf(room)).toBe(0);
    expect((await alice.c.rooms()).filter((x) => x.room === room).map((x) => x.status)).toEqual(["member"]);
    await alice.c.invite(room, bob.jid);
    await bob.c.join(room);
    await w.settled([alice, bob], room);
    const m2 = await w.say(alice, room, "after-recreate");
    await w.allRead([bob], [m2.id]);
    expect(bob.messages.filter((m) => m.room === room).map((m) => m.id)).toEqual([m1.id, m2.id]);
    // The new room has its own subject: none.
    expect(bob.c.subject(room)).toBe("");
    for (const d of [alice, bob, carol]) expect(d.errors).toEqual([]);

    await w.expectNoPlaintextLeaks(room, 2);
  }, 120_000);
});
