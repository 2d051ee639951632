// What the multicast e2e tests (Prosody's mod_mls_multicast, ejabberd's
// mod_multicast) share: recording the component's writes, a chat in which
// every member reads every other member's messages exactly once, and the
// checks of a fan-out the service refused.

import { expect } from "vitest";

import { until, type Device, type World } from "./world.js";

/** A stanza for the multicast service (either recipient-list form). */
export const viaService = (x: string) => x.includes("<addresses xmlns=");

/** Records every write of the in-process component to the XMPP server. */
export function recordWrites(w: World): string[] {
  const writes: string[] = [];
  const connection = w.comp!.connection;
  const sendRaw = connection.sendRaw.bind(connection);
  connection.sendRaw = (text: string) => {
    writes.push(text);
    return sendRaw(text);
  };
  return writes;
}

async function chat(w: World, members: readonly Device[], room: string, rounds: number): Promise<void> {
  const ids: Map<Device, string[]> = new Map(members.map((d) => [d, []]));
  for (let i = 0; i < rounds; i++) {
    for (const d of members) ids.get(d)!.push((await d.c.send(room, w.secret(`mc-${d.user}-${i}`))).id);
  }
  for (const reader of members) {
    await w.allRead([reader], [...ids.entries()].filter(([d]) => d !== reader).flatMap(([, l]) => l));
  }
  for (const reader of members) {
    const got = reader.messages.filter((m) => m.room === room);
    expect(new Set(got.map((m) => m.id)).size).toBe(got.length); // each message once
  }
}

/**
 * Once the service answered the probe: `users` make a group room and each
 * sends two messages that every other member reads once. Returns the
 * component's writes of application messages from the room's creation on.
 */
export async function chatThroughService(
  w: World,
  users: readonly string[],
  roomName: string,
): Promise<{ members: Device[]; room: string; writes: string[] }> {
  await until(() => w.comp!.multicast?.state === "available", 10_000, "the multicast probe");
  const members = await Promise.all(users.map((u) => w.open(u)));
  const writes = recordWrites(w);
  const room = await w.groupRoom(roomName, members[0]!, members.slice(1));
  await chat(w, members, room, 2);
  for (const d of members) expect(d.errors).toEqual([]);
  return { members, room, writes };
}

/**
 * A service that refuses the component (its probe succeeds: disco#info is
 * open to all): the refused fan-outs are each re-sent directly once, and the
 * component sends one stanza per device from then on, so that nothing is lost.
 */
export async function expectRefusedThenDirect(w: World, users: readonly string[], roomName: string): Promise<void> {
  const { members, writes } = await chatThroughService(w, users, roomName);
  expect(w.comp!.multicast?.state).toBe("unavailable");
  expect(w.logText()).toContain("the multicast service refused a fan-out");
  const refused = writes.filter(viaService);
  const direct = writes.filter((x) => !viaService(x));
  // The first fan-out to several devices (and any sent before the refusal came back), each re-sent once.
  expect(refused.length).toBeGreaterThanOrEqual(1);
  for (const x of refused) {
    const id = /<message [^>]*\bid="([^"]+)"/.exec(x)![1]!;
    expect(direct.filter((d) => d.includes(`id="${id}"`))).toHaveLength(1);
  }
  const chats = direct.filter((x) => x.includes('kind="application"'));
  expect(chats).toHaveLength(2 * members.length);
  for (const x of chats) expect(x.match(/<message /g)).toHaveLength(members.length);
}
