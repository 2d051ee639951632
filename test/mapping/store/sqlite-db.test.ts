// The connection wrapper under the store: run() keeps prepared statements.

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { SqliteDb } from "../../../mapping/store/sqlite/db.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "xmb-db-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("SqliteDb: run() keeps its prepared statements", () => {
  it("one statement text with many parameter sets writes each row; a constraint error leaves it usable", async () => {
    const db = await SqliteDb.open(path.join(dir, "a.db"));
    await db.exec("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)");
    const insert = "INSERT INTO t (a, b) VALUES (?, ?)";
    for (let i = 1; i <= 50; i++) expect(await db.run(insert, [i, `v${i}`])).toEqual({ changes: 1, lastID: i });
    await expect(db.run(insert, [7, "again"])).rejects.toThrow(/UNIQUE constraint failed/);
    await expect(db.run(insert, [51, null])).rejects.toThrow(/NOT NULL constraint failed/);
    expect(await db.run(insert, [51, "v51"])).toEqual({ changes: 1, lastID: 51 });
    // Concurrent runs of one statement inside a transaction each get their own parameters.
    await db.transaction(() => Promise.all([52, 53, 54].map((i) => db.run(insert, [i, `v${i}`]))));
    expect(await db.run("UPDATE t SET b = b || '!' WHERE a > ?", [50])).toMatchObject({ changes: 4 });
    const rows = await db.all<{ a: number; b: string }>("SELECT a, b FROM t ORDER BY a");
    expect(rows).toHaveLength(54);
    expect(rows.every((r) => r.b === (r.a > 50 ? `v${r.a}!` : `v${r.a}`))).toBe(true);
    await db.close();
  });

  it("a statement that fails to prepare rejects with SQLite's error, and is prepared anew the next time", async () => {
    const db = await SqliteDb.open(path.join(dir, "b.db"));
    const insert = "INSERT INTO later (x) VALUES (?)";
    await expect(db.run(insert, [1])).rejects.toThrow(/no such table: later/);
    await expect(db.run(insert, [1])).rejects.toThrow(/no such table: later/);
    await db.exec("CREATE TABLE later (x INTEGER)");
    expect(await db.run(insert, [1])).toMatchObject({ changes: 1 });
    await db.close();
  });

  it("more statement texts than are kept all run; close() finalizes the kept ones and the file reopens with every row", async () => {
    const file = path.join(dir, "c.db");
    const db = await SqliteDb.open(file);
    await db.exec("CREATE TABLE t (k INTEGER, v INTEGER)");
    // 300 texts (more than the 256 kept), each run twice: evicted statements are finalized, not lost.
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < 300; k++) await db.run(`INSERT INTO t (k, v) VALUES (${k}, ?)`, [round]);
    }
    await db.close();
    const again = await SqliteDb.open(file);
    expect(await again.get<{ n: number }>("SELECT count(*) AS n FROM t")).toEqual({ n: 600 });
    await again.close();
  });

  it("kept statements hold no read snapshot: a checkpoint copies the whole WAL back", async () => {
    const db = await SqliteDb.open(path.join(dir, "d.db"), { checkpointIntervalMs: 60_000 });
    await db.exec("CREATE TABLE t (a INTEGER)");
    for (let i = 0; i < 20; i++) await db.run("INSERT INTO t (a) VALUES (?)", [i]);
    await db.run("DELETE FROM t WHERE a < ?", [5]);
    const c = await db.checkpoint()!;
    expect(c.busy).toBe(0);
    expect(c.checkpointed).toBe(c.log);
    await db.close();
  });
});
