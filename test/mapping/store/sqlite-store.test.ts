import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sqlite3 from "sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import {
  isStoreError,
  LATEST_VERSION,
  MIGRATIONS,
  openSqliteStore,
  StoreError,
  type Migration,
  type NewRoom,
  type RoomConfig,
  type SqliteStore,
} from "../../../mapping/store/index.js";

const CONFIG: RoomConfig = { description: "", changeSubject: false, publicRoom: false, whois: "anyone" };
const T0 = 1_700_000_000_000;

function newRoom(jid: string, extra: Partial<NewRoom> = {}): NewRoom {
  return { jid, kind: "group", persistent: true, config: CONFIG, createdAt: T0, ...extra };
}

/** Raw access to a database file, bypassing the store. */
function rawExec(file: string, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.exec(sql, (e) => db.close(() => (e ? reject(e) : resolve())));
    });
  });
}

let dir: string;
const open: SqliteStore[] = [];
async function openAt(file: string, migrations?: readonly Migration[]): Promise<SqliteStore> {
  const s = await openSqliteStore(file, migrations ? { migrations } : {});
  open.push(s);
  return s;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "xmb-store-"));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe("SQLite store: opening and migrations", () => {
  it("creates a fresh database at the latest version, with the durability pragmas", async () => {
    const file = path.join(dir, "db.sqlite");
    const store = await openAt(file);
    expect(store.schemaVersion).toBe(LATEST_VERSION);
    expect(LATEST_VERSION).toBe(MIGRATIONS.length);
    expect(await store.pragma("journal_mode")).toBe("wal");
    expect(await store.pragma("synchronous")).toBe(2); // FULL
    expect(await store.pragma("foreign_keys")).toBe(1);
    expect(await store.pragma("busy_timeout")).toBe(5000);
    expect(await store.pragma("application_id")).toBe(0x584d4253);
    expect(await store.listRooms()).toEqual([]);
  });

  it("a deferred-durability transaction commits like any other and leaves the connection at synchronous=FULL", async () => {
    const store = await openAt(path.join(dir, "deferred.sqlite"));
    let inside: unknown;
    await store.transaction(async (tx) => {
      await tx.createRoom(newRoom("d@mls.example.org"), { bareJid: "alice@example.org" });
      inside = await store.pragma("synchronous");
    }, { durability: "deferred" });
    expect(inside).toBe(1); // NORMAL: not fsynced on its own
    expect(await store.getRoom("d@mls.example.org")).toBeDefined();
    expect(await store.pragma("synchronous")).toBe(2);
    // Rolled back: nothing written, and the pragma restored all the same.
    const boom = new Error("boom");
    await expect(
      store.transaction(async (tx) => {
        await tx.createRoom(newRoom("e@mls.example.org"), { bareJid: "alice@example.org" });
        throw boom;
      }, { durability: "deferred" }),
    ).rejects.toBe(boom);
    expect(await store.getRoom("e@mls.example.org")).toBeUndefined();
    expect(await store.pragma("synchronous")).toBe(2);
  });

  it("reopens without re-applying migrations", async () => {
    const file = path.join(dir, "db.sqlite");
    const calls: number[] = [];
    const counted: Migration[] = MIGRATIONS.map((m) => ({ ...m, up: (db) => (calls.push(m.version), m.up(db)) }));
    const first = await openAt(file, counted);
    await first.createRoom(newRoom("a@mls.example.org"), { bareJid: "alice@example.org" });
    await first.close();
    expect(calls).toEqual(MIGRATIONS.map((m) => m.version));

    const second = await openAt(file, counted);
    expect(calls).toHaveLength(MIGRATIONS.length); // nothing ran again
    expect((await second.getRoom("a@mls.example.org"))?.kind).toBe("group");
  });

  it("applies only the pending migrations of an older database", async () => {
    const file = path.join(dir, "db.sqlite");
    await (await openAt(file)).close();
    const extra: Migration = {
      version: MIGRATIONS.length + 1,
      name: "test: extra table",
      up: (db) => db.exec("CREATE TABLE extra (x INTEGER)"),
    };
    const upgraded = await openAt(file, [...MIGRATIONS, extra]);
    expect(upgraded.schemaVersion).toBe(MIGRATIONS.length + 1);
    await upgraded.close();
    // And the old program now refuses the upgraded database.
    await expect(openSqliteStore(file)).rejects.toSatisfy((e: unknown) => isStoreError(e, "schema_too_new"));
  });

  it("refuses a database whose schema version is newer than the code knows, with a clear message", async () => {
    const file = path.join(dir, "db.sqlite");
    await (await openAt(file)).close();
    await rawExec(file, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)");
    const err = await openSqliteStore(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe("schema_too_new");
    expect((err as StoreError).message).toMatch(/schema version 999.*knows versions up to \d+.*newer release/);
  });

  it("refuses a database whose applied migration differs from the code's", async () => {
    const file = path.join(dir, "db.sqlite");
    await (await openAt(file)).close();
    await rawExec(file, "UPDATE schema_migrations SET name = 'something else' WHERE version = 1");
    await expect(openSqliteStore(file)).rejects.toSatisfy((e: unknown) => isStoreError(e, "schema_mismatch"));
  });

  it("refuses someone else's SQLite file", async () => {
    const file = path.join(dir, "other.sqlite");
    await rawExec(file, "CREATE TABLE notes (t TEXT)");
    await expect(openSqliteStore(file)).rejects.toSatisfy((e: unknown) => isStoreError(e, "foreign_database"));
  });

  it("a failing migration leaves the database at the previous version", async () => {
    const file = path.join(dir, "db.sqlite");
    const broken: Migration = {
      version: MIGRATIONS.length + 1,
      name: "test: broken",
      up: async (db) => {
        await db.exec("CREATE TABLE half (x INTEGER)");
        await db.exec("THIS IS NOT SQL");
      },
    };
    await expect(openSqliteStore(file, { migrations: [...MIGRATIONS, broken] })).rejects.toThrow(/THIS IS NOT SQL|syntax/);
    const store = await openAt(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    await store.close();
    const again = await openAt(file, [...MIGRATIONS, { ...broken, up: (db) => db.exec("CREATE TABLE half (x INTEGER)") }]);
    expect(again.schemaVersion).toBe(MIGRATIONS.length + 1); // "half" was rolled back, so creating it works
  });

  it("has an in-memory mode", async () => {
    const a = await openAt(":memory:");
    const b = await openAt(":memory:");
    await a.createRoom(newRoom("a@mls.example.org"), { bareJid: "alice@example.org" });
    expect(await a.listRooms()).toHaveLength(1);
    expect(await b.listRooms()).toHaveLength(0); // private to each store
  });
});

describe("SQLite store: rooms and affiliations", () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = await openAt(":memory:");
  });

  it("creates, reads, updates, lists and deletes rooms", async () => {
    const { room, owner } = await store.createRoom(newRoom("team@mls.example.org", { name: "Team" }), {
      bareJid: "alice@example.org",
      actor: "alice@example.org",
    });
    expect(room).toEqual({
      jid: "team@mls.example.org",
      kind: "group",
      persistent: true,
      name: "Team",
      subject: "",
      config: CONFIG,
      affiliationClock: 1,
      createdAt: T0,
    });
    expect(owner).toEqual({
      room: "team@mls.example.org",
      bareJid: "alice@example.org",
      affiliation: "owner",
      actor: "alice@example.org",
      clock: 1,
      updatedAt: T0,
    });
    await expect(store.createRoom(newRoom("team@mls.example.org"), { bareJid: "x@example.org" })).rejects.toSatisfy(
      (e: unknown) => isStoreError(e, "exists"),
    );

    const updated = await store.updateRoom("team@mls.example.org", {
      kind: "channel",
      persistent: false,
      subject: "Plans",
      subjectBy: "alice",
      subjectAt: T0 + 5,
      config: { ...CONFIG, publicRoom: true, description: "d" },
    });
    expect(updated).toMatchObject({ kind: "channel", persistent: false, subject: "Plans", subjectBy: "alice", subjectAt: T0 + 5 });
    expect(updated.config).toEqual({ ...CONFIG, publicRoom: true, description: "d" });
    const cleared = await store.updateRoom("team@mls.example.org", { subjectBy: null, subjectAt: null });
    expect(cleared.subjectBy).toBeUndefined();
    expect(cleared.subjectAt).toBeUndefined();
    await expect(store.updateRoom("nope@mls.example.org", { name: "x" })).rejects.toSatisfy((e: unknown) =>
      isStoreError(e, "not_found"),
    );

    await store.createRoom(newRoom("b@mls.example.org"), { bareJid: "bob@example.org" });
    expect((await store.listRooms()).map((r) => r.jid)).toEqual(["b@mls.example.org", "team@mls.example.org"]);
    expect((await store.listRooms({ kind: "channel" })).map((r) => r.jid)).toEqual(["team@mls.example.org"]);
    expect((await store.listRooms({ persistent: true })).map((r) => r.jid)).toEqual(["b@mls.example.org"]);

    expect(await store.deleteRoom("team@mls.example.org")).toBe(true);
    expect(await store.deleteRoom("team@mls.example.org")).toBe(false);
    expect(await store.getRoom("team@mls.example.org")).toBeUndefined();
    // Its affiliations went with it (ON DELETE CASCADE).
    expect(await store.listAffiliations("team@mls.example.org", { includeNone: true })).toEqual([]);
  });

  it("ticks the room's logical clock on every effective affiliation change and keeps tombstones", async () => {
    const room = "team@mls.example.org";
    await store.createRoom(newRoom(room), { bareJid: "alice@example.org" });
    const applied = await store.setAffiliations(
      room,
      [
        { bareJid: "bob@example.org", affiliation: "member", actor: "alice@example.org" },
        { bareJid: "carol@example.org", affiliation: "admin", reason: "helps", actor: "alice@example.org" },
        { bareJid: "alice@example.org", affiliation: "owner" }, // no-op: no tick
      ],
      T0 + 1,
    );
    expect(applied.map((a) => [a.record.bareJid, a.previous, a.record.affiliation, a.record.clock])).toEqual([
      ["bob@example.org", "none", "member", 2],
      ["carol@example.org", "none", "admin", 3],
    ]);
    expect((await store.getRoom(room))?.affiliationClock).toBe(3);

    const revoked = await store.setAffiliations(room, [{ bareJid: "bob@example.org", affiliation: "none" }], T0 + 2);
    expect(revoked).toEqual([
      { previous: "member", record: { room, bareJid: "bob@example.org", affiliation: "none", clock: 4, updatedAt: T0 + 2 } },
    ]);
    // The tombstone stays, but listings leave it out.
    expect((await store.getAffiliation(room, "bob@example.org"))?.affiliation).toBe("none");
    expect((await store.listAffiliations(room)).map((a) => a.bareJid)).toEqual(["alice@example.org", "carol@example.org"]);
    expect((await store.listAffiliations(room, { includeNone: true })).map((a) => a.bareJid)).toEqual([
      "alice@example.org",
      "bob@example.org",
      "carol@example.org",
    ]);
    expect((await store.listAffiliations(room, { affiliation: "admin" })).map((a) => a.reason)).toEqual(["helps"]);
    // Setting "none" again is a no-op.
    expect(await store.setAffiliations(room, [{ bareJid: "bob@example.org", affiliation: "none" }], T0 + 3)).toEqual([]);
    expect((await store.getRoom(room))?.affiliationClock).toBe(4);

    await store.createRoom(newRoom("other@mls.example.org"), { bareJid: "carol@example.org" });
    expect((await store.listAffiliationsOf("carol@example.org")).map((a) => [a.room, a.affiliation])).toEqual([
      ["other@mls.example.org", "owner"],
      [room, "admin"],
    ]);
    expect(await store.listAffiliationsOf("bob@example.org")).toEqual([]);
  });

  it("lists a room's member devices in one query: owners, admins and members; not outcasts, tombstones or retired devices", async () => {
    const room = "team@mls.example.org";
    await store.createRoom(newRoom(room), { bareJid: "alice@example.org" });
    await store.setAffiliations(
      room,
      [
        { bareJid: "bob@example.org", affiliation: "member" },
        { bareJid: "carol@example.org", affiliation: "admin" },
        { bareJid: "dave@example.org", affiliation: "outcast" },
        { bareJid: "erin@example.org", affiliation: "member" },
      ],
      T0 + 1,
    );
    await store.setAffiliations(room, [{ bareJid: "erin@example.org", affiliation: "none" }], T0 + 2); // a tombstone
    const device = (bareJid: string, deviceId: string, retired = false) =>
      store.saveDevice({ bareJid, deviceId, retired, lastJid: undefined, registeredAt: T0, lastSeen: T0 });
    await device("bob@example.org", "b2");
    await device("bob@example.org", "b1");
    await device("bob@example.org", "b0", true);
    await device("alice@example.org", "a1");
    await device("carol@example.org", "c1");
    await device("dave@example.org", "d1");
    await device("erin@example.org", "e1");
    await device("frank@example.org", "f1"); // no affiliation
    const listed = (await store.listMemberDevices(room)).map((d) => `${d.bareJid}/${d.deviceId}`);
    expect(listed).toEqual(["alice@example.org/a1", "bob@example.org/b1", "bob@example.org/b2", "carol@example.org/c1"]);
    expect(await store.listMemberDevices("other@mls.example.org")).toEqual([]);

    // Several devices by key in one query; unknown ones are left out.
    const got = await store.getDevices([
      { bareJid: "bob@example.org", deviceId: "b0" },
      { bareJid: "frank@example.org", deviceId: "f1" },
      { bareJid: "bob@example.org", deviceId: "nope" },
      { bareJid: "nobody@example.org", deviceId: "b0" },
    ]);
    expect(got.map((d) => [d.bareJid, d.deviceId, d.retired]).sort()).toEqual([
      ["bob@example.org", "b0", true],
      ["frank@example.org", "f1", false],
    ]);
    expect(await store.getDevices([])).toEqual([]);
  });

  it("refuses bad values and unknown rooms", async () => {
    await expect(store.setAffiliations("nope@mls.example.org", [{ bareJid: "a@b", affiliation: "member" }], T0)).rejects.toSatisfy(
      (e: unknown) => isStoreError(e, "not_found"),
    );
    await store.createRoom(newRoom("r@mls.example.org"), { bareJid: "alice@example.org" });
    await expect(
      store.setAffiliations("r@mls.example.org", [{ bareJid: "a@b", affiliation: "king" as never }], T0),
    ).rejects.toSatisfy((e: unknown) => isStoreError(e, "invalid"));
    await expect(store.createRoom(newRoom("x@mls.example.org", { kind: "lobby" as never }), { bareJid: "a@b" })).rejects.toSatisfy(
      (e: unknown) => isStoreError(e, "invalid"),
    );
  });
});

describe("SQLite store: transactions", () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = await openAt(":memory:");
  });

  it("rolls back everything when the callback fails", async () => {
    const boom = new Error("boom");
    await expect(
      store.transaction(async (tx) => {
        await tx.createRoom(newRoom("r@mls.example.org"), { bareJid: "alice@example.org" });
        await tx.setAffiliations("r@mls.example.org", [{ bareJid: "bob@example.org", affiliation: "member" }], T0);
        expect(await tx.getRoom("r@mls.example.org")).toBeDefined(); // visible inside
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await store.getRoom("r@mls.example.org")).toBeUndefined();
    expect(await store.listAffiliationsOf("bob@example.org")).toEqual([]);
  });

  it("rolls back a multi-statement method that fails half-way", async () => {
    await store.createRoom(newRoom("r@mls.example.org"), { bareJid: "alice@example.org" });
    await expect(
      store.setAffiliations(
        "r@mls.example.org",
        [
          { bareJid: "bob@example.org", affiliation: "member" },
          { bareJid: "", affiliation: "member" }, // invalid: refused before anything is written
        ],
        T0,
      ),
    ).rejects.toSatisfy((e: unknown) => isStoreError(e, "invalid"));
    expect(await store.getAffiliation("r@mls.example.org", "bob@example.org")).toBeUndefined();
    expect((await store.getRoom("r@mls.example.org"))?.affiliationClock).toBe(1);
  });

  it("detects nested transactions", async () => {
    await expect(store.transaction(() => store.transaction(async () => 1))).rejects.toSatisfy((e: unknown) =>
      isStoreError(e, "nested_transaction"),
    );
    // The outer one was rolled back and the store still works.
    expect(await store.transaction(async (tx) => (await tx.listRooms()).length)).toBe(0);
  });

  it("serializes transactions: no statement of one runs inside another", async () => {
    await store.createRoom(newRoom("r@mls.example.org"), { bareJid: "alice@example.org" });
    const order: string[] = [];
    const slow = store.transaction(async (tx) => {
      order.push("A begin");
      await tx.setAffiliations("r@mls.example.org", [{ bareJid: "a@x", affiliation: "member" }], T0);
      await new Promise((r) => setTimeout(r, 30));
      order.push("A end");
      throw new Error("A fails");
    });
    // Started while A is open: must not see A's write, and must not be rolled back with it.
    const outside = (async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push("B start");
      await store.setAffiliations("r@mls.example.org", [{ bareJid: "b@x", affiliation: "member" }], T0);
      order.push("B done");
    })();
    await expect(slow).rejects.toThrow("A fails");
    await outside;
    expect(order).toEqual(["A begin", "B start", "A end", "B done"]);
    expect((await store.listAffiliations("r@mls.example.org")).map((a) => a.bareJid)).toEqual(["alice@example.org", "b@x"]);
  });

  it("methods of the store itself called inside a transaction take part in it", async () => {
    await expect(
      store.transaction(async () => {
        await store.createRoom(newRoom("r@mls.example.org"), { bareJid: "alice@example.org" });
        throw new Error("undo");
      }),
    ).rejects.toThrow("undo");
    expect(await store.getRoom("r@mls.example.org")).toBeUndefined();
  });

  it("refuses work after close", async () => {
    await store.close();
    await expect(store.listRooms()).rejects.toSatisfy((e: unknown) => isStoreError(e, "closed"));
    await expect(store.transaction(async () => 1)).rejects.toSatisfy((e: unknown) => isStoreError(e, "closed"));
    await store.close(); // idempotent
  });
});

describe("SQLite store: durability", () => {
  it("keeps what was written across close and reopen", async () => {
    const file = path.join(dir, "durable.sqlite");
    const a = await openAt(file);
    await a.createRoom(newRoom("team@mls.example.org", { name: "Team" }), { bareJid: "alice@example.org" });
    await a.transaction(async (tx) => {
      await tx.setAffiliations("team@mls.example.org", [{ bareJid: "bob@example.org", affiliation: "member" }], T0 + 1);
      await tx.updateRoom("team@mls.example.org", { subject: "Hello", subjectBy: "alice", subjectAt: T0 + 2 });
    });
    await a.close();

    const b = await openAt(file);
    expect(await b.getRoom("team@mls.example.org")).toMatchObject({ name: "Team", subject: "Hello", affiliationClock: 2 });
    expect((await b.listAffiliations("team@mls.example.org")).map((x) => [x.bareJid, x.affiliation])).toEqual([
      ["alice@example.org", "owner"],
      ["bob@example.org", "member"],
    ]);
  });

  it("checkpoints the WAL from a background connection, not inside the commits", async () => {
    const file = path.join(dir, "wal.sqlite");
    const store = await openAt(file);
    expect(await store.pragma("wal_autocheckpoint")).toBe(0);
    for (let i = 0; i < 40; i++) await store.createRoom(newRoom(`r${i}@mls.example.org`), { bareJid: "alice@example.org" });
    const r = await store.checkpoint();
    expect(r?.busy).toBe(0);
    expect(r?.log).toBeGreaterThan(0);
    expect(r?.checkpointed).toBe(r?.log); // every frame copied into the database file
    await store.close();
    expect(await (await openAt(file)).listRooms()).toHaveLength(40);

    // Without it: SQLite's automatic checkpoints.
    const plain = await openSqliteStore(path.join(dir, "auto.sqlite"), { checkpointIntervalMs: 0 });
    open.push(plain);
    expect(await plain.pragma("wal_autocheckpoint")).toBe(1000);
    expect(plain.checkpoint()).toBeUndefined();
  });

  it("a write that resolved survives the process dying without close() (WAL, synchronous=FULL)", async () => {
    const file = path.join(dir, "crash.sqlite");
    const child = await import("node:child_process");
    const script = `
      import { openSqliteStore } from ${JSON.stringify(path.resolve("mapping/store/index.ts"))};
      const s = await openSqliteStore(${JSON.stringify(file)});
      await s.createRoom({ jid: "r@mls.example.org", kind: "channel", persistent: true, config: { description: "", changeSubject: false, publicRoom: true, whois: "anyone" }, createdAt: 1 }, { bareJid: "a@example.org" });
      process.kill(process.pid, "SIGKILL");
    `;
    const tsx = path.resolve("node_modules/.bin/tsx");
    const scriptFile = path.join(dir, "crash.mts");
    writeFileSync(scriptFile, script);
    await new Promise<void>((resolve) => {
      const p = child.spawn(tsx, [scriptFile], { stdio: "ignore" });
      p.on("exit", () => resolve());
    });
    const store = await openAt(file);
    expect((await store.getRoom("r@mls.example.org"))?.kind).toBe("channel");
  });
});
