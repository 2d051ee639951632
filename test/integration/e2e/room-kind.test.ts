// §6.10 end to end: the owner switches a bound room between channel and
// group with the SDK's setRoomKind(). Channel -> group: the occupant without
// an affiliation is removed from the room (status 322) and from the MLS
// group, and reads nothing sent after; group -> channel: an occupant without
// an affiliation can join again.

import { describe, expect, it } from "vitest";

import { until, type World, worldPerSuite } from "./world.js";

describe("changing the kind of a bound room", () => {
  let w: World;

  worldPerSuite({ users: ["alice-k", "bob-k", "carol-k"] }, (x) => (w = x));

  it("channel -> group removes the unaffiliated occupant's device; group -> channel lets it join again", async () => {
    const [alice, bob, carol] = await Promise.all(["alice-k", "bob-k", "carol-k"].map((u) => w.open(u)));
    const room = w.room("switch");
    await alice!.c.createRoom(room, { kind: "channel" });
    await alice!.c.invite(room, carol!.jid); // carol is affiliated, bob is not
    await Promise.all([bob!.c.join(room), carol!.c.join(room)]);
    await w.settled([alice!, bob!, carol!], room);
    const m1 = await w.say(alice!, room, "kind-open");
    await w.allRead([bob!, carol!], [m1.id]);

    // Channel -> group: bob is not affiliated, so he leaves the room (322) and his leaf is removed.
    await alice!.c.setRoomKind(room, "group");
    expect((await alice!.c.rooms()).find((r) => r.room === room)?.kind).toBe("group");
    await until(() => alice!.membership.some((m) => m.removed.some((x) => x.jid === bob!.jid)), 15_000, "bob's removal committed");
    expect(bob!.events.find((e) => e.name === "left")?.payload).toMatchObject({ statusCodes: expect.arrayContaining([322]) as unknown });
    await w.settled([alice!, carol!], room);
    const members = await alice!.c.members(room);
    expect(members.devices.map((d) => d.jid).sort()).toEqual([alice!.jid, carol!.jid].sort());
    const m2 = await w.say(carol!, room, "kind-members-only");
    await w.allRead([alice!], [m2.id]);
    expect(bob!.messages.some((m) => m.id === m2.id)).toBe(false);
    // He cannot come back while the room is members-only.
    const again = (await bob!.c.join(room).catch((e: unknown) => e)) as { condition?: string };
    expect(again.condition).toBe("registration-required");

    // Group -> channel: open again; bob joins (external commit) and reads what is sent next.
    await alice!.c.setRoomKind(room, "channel");
    await bob!.c.join(room);
    await w.settled([alice!, bob!, carol!], room);
    const m3 = await w.say(alice!, room, "kind-open-again");
    await w.allRead([bob!, carol!], [m3.id]);
    expect(bob!.messages.some((m) => m.id === m2.id)).toBe(false); // what was sent while he was out stays unreadable
    for (const d of [alice!, bob!, carol!]) expect(d.errors).toEqual([]);
  }, 90_000);
});
