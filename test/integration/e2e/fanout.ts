// What the multicast e2e tests share: recording the component's writes, and a
// chat in which every member reads every other member's messages exactly once.

import { expect } from "vitest";

import type { Device, World } from "./world.js";

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

export async function chat(w: World, members: readonly Device[], room: string, rounds: number): Promise<void> {
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
