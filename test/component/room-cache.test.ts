// RoomHost keeps at most cacheSize rooms in memory besides those with
// occupants: idle rooms are dropped least recently used first and load again
// from the store with the same record and affiliations; a room with an
// occupant or with work on its lock is never dropped.

import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { RoomHost } from "../../component/rooms/host.js";
import { parseJid } from "../../component/xmpp/jid.js";
import { KeyedLock } from "../../mapping/keyed-lock.js";
import { openSqliteStore, type SqliteStore } from "../../mapping/store/index.js";

const DOMAIN = "mls.example.org";
const ALICE = parseJid("alice@example.org/laptop");

describe("the room host's cache of rooms", () => {
  let store: SqliteStore;
  let locks: KeyedLock;
  let host: RoomHost;

  beforeEach(async () => {
    store = await openSqliteStore(":memory:");
    locks = new KeyedLock();
    host = new RoomHost({ domain: DOMAIN, store, send: async () => {}, logger: pino({ level: "silent" }), defaultKind: "group", locks, cacheSize: 2 });
  });
  afterEach(async () => {
    await store.close();
  });

  const loaded = () => host.loadedRooms.map((r) => r.jid.split("@")[0]).sort();

  it("drops the least recently used idle rooms and reloads them from the store unchanged", async () => {
    for (const name of ["a", "b", "c"]) await host.create(`${name}@${DOMAIN}`, ALICE);
    expect(loaded()).toEqual(["b", "c"]);

    // An affiliation given to a room, which is then dropped: it comes back from the store.
    const b = (await host.load(`b@${DOMAIN}`))!;
    await host.setAffiliations(b, [{ bareJid: "bob@example.org", affiliation: "member", actor: "alice@example.org" }]);
    await host.load(`c@${DOMAIN}`); // b is now the least recently used
    const a = (await host.load(`a@${DOMAIN}`))!;
    expect(a.affiliationOf("alice@example.org")).toBe("owner");
    expect(loaded()).toEqual(["a", "c"]);
    const again = (await host.load(`b@${DOMAIN}`))!;
    expect(again).not.toBe(b);
    expect(again.affiliationOf("bob@example.org")).toBe("member");
    expect(again.record).toEqual(b.record);
    expect(loaded()).toEqual(["a", "b"]);
  });

  it("never drops a room with an occupant, nor one whose lock is held", async () => {
    const a = await host.create(`a@${DOMAIN}`, ALICE);
    a.addSession("alice", "alice@example.org", { realJid: ALICE.full, mlsDevice: undefined, payload: [], joinedAt: 0 });
    await locks.run(`b@${DOMAIN}`, async () => {
      await host.create(`b@${DOMAIN}`, ALICE);
      for (const name of ["c", "d", "e"]) await host.create(`${name}@${DOMAIN}`, ALICE);
      // a (occupied) and b (locked) fill the cache: the idle rooms go at once.
      expect(loaded()).toEqual(["a", "b"]);
    });
    expect(await host.load(`a@${DOMAIN}`)).toBe(a);
    // b's lock released, it is the least recently used idle room.
    await host.load(`c@${DOMAIN}`);
    expect(loaded()).toEqual(["a", "c"]);
    // Its last session gone, a is an idle room like the others.
    a.removeSession(ALICE.full);
    await host.load(`d@${DOMAIN}`);
    expect(loaded()).toEqual(["c", "d"]);
    expect((await host.load(`e@${DOMAIN}`))?.affiliationOf("alice@example.org")).toBe("owner");
  });
});
