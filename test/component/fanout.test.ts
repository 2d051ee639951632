// The fan-out fast path: one serialization per entry (copiesFor), the device ->
// JIDs map of a room, and delivery cursors written behind in one transaction.

import { describe, expect, it } from "vitest";

import { copiesFor, entryMessage, welcomeMessage } from "../../component/mls/stanzas.js";
import { Occupancy } from "../../component/mls/occupancy.js";
import { deviceKey } from "../../mapping/ds/identity.js";
import { DEFAULT_DS_OPTIONS, DeliveryService } from "../../mapping/ds/service.js";
import type { LogEntry } from "../../mapping/store/index.js";
import { openSqliteStore } from "../../mapping/store/index.js";
import { nativeProvider } from "../../mls/node.js";

const entry: LogEntry = {
  room: "team@mls.localhost",
  seq: 7n,
  kind: "application",
  epoch: 3n,
  stanzaId: "5f0c6a6e-1b7e-4d8e-9a4b-000000000007",
  clientId: "m-'&\"<>-1",
  originId: "o-1",
  senderJid: "bob@localhost",
  senderDevice: "dev-b",
  senderNick: "bob & <co>",
  payload: new Uint8Array([0, 1, 2, 250, 251, 252]),
  welcome: new Uint8Array([9, 8, 7]),
  ratchetTree: new Uint8Array([1, 2, 3]),
  createdAt: Date.UTC(2025, 10, 27),
};

describe("copiesFor", () => {
  const jids = ["alice@localhost/laptop", "bob@localhost/it's <me> & \"you\"", "carol@localhost/ü"];

  it("gives exactly what Element.toString() gives for each recipient", () => {
    const copy = copiesFor((to) => entryMessage(entry, to, { delayed: false }));
    for (const jid of jids) expect(copy(jid)).toBe(entryMessage(entry, jid, { delayed: false }).toString());
    const welcome = copiesFor((to) => welcomeMessage(entry, to, { delayed: false }));
    for (const jid of jids) expect(welcome(jid)).toBe(welcomeMessage(entry, jid, { delayed: false }).toString());
  });

  it("refuses a stanza without 'to'", () => {
    expect(() => copiesFor(() => entryMessage(entry, "x@y", { delayed: false }))).toThrow(/no 'to'/);
  });
});

describe("Occupancy.jidsByDevice", () => {
  it("groups the room's bound sessions by device", () => {
    const o = new Occupancy(60_000, Date.now);
    const a = { bareJid: "alice@localhost", deviceId: "A" };
    const b = { bareJid: "bob@localhost", deviceId: "B" };
    o.bind("r@mls", "alice@localhost/1", a, "alice");
    o.bind("r@mls", "bob@localhost/1", b, "bob");
    o.bind("other@mls", "bob@localhost/2", b, "bob");
    const m = o.jidsByDevice("r@mls");
    expect(m.get(deviceKey(a))).toEqual(["alice@localhost/1"]);
    expect(m.get(deviceKey(b))).toEqual(["bob@localhost/1"]);
    expect(o.jidsByDevice("none@mls").size).toBe(0);
    // Kept between fan-outs, and up to date after every change of the room's bindings.
    expect(o.jidsByDevice("r@mls")).toBe(m);
    o.bind("r@mls", "alice@localhost/2", a, "alice");
    expect(o.jidsByDevice("r@mls").get(deviceKey(a))).toEqual(["alice@localhost/2"]);
    o.unbind("r@mls", "bob@localhost/1", true);
    expect(o.jidsByDevice("r@mls").has(deviceKey(b))).toBe(false);
    o.forgetRoom("r@mls");
    expect(o.jidsByDevice("r@mls").size).toBe(0);
  });
});

describe("delivery cursors, written behind", () => {
  it("coalesces moves, writes them in one go, and survives a room deleted meanwhile", async () => {
    const store = await openSqliteStore(":memory:");
    const ds = new DeliveryService(store, { channelDevices: () => [] }, { ...DEFAULT_DS_OPTIONS, domain: "mls.localhost", provider: nativeProvider });
    const config = { description: "", changeSubject: false, publicRoom: false, whois: "anyone" as const };
    for (const jid of ["a@mls.localhost", "b@mls.localhost"]) {
      await store.createRoom({ jid, kind: "group", persistent: true, config, createdAt: 0 }, { bareJid: "owner@localhost" });
    }
    const d = { bareJid: "alice@localhost", deviceId: "A" };
    await ds.delivered("a@mls.localhost", d, 3n);
    await ds.delivered("a@mls.localhost", d, 5n);
    await ds.delivered("a@mls.localhost", d, 4n); // never backwards
    await ds.delivered("b@mls.localhost", d, 2n);
    expect(await store.getCursor("a@mls.localhost", d.bareJid, d.deviceId)).toBe(0n); // not yet written
    await store.deleteRoom("b@mls.localhost");
    await ds.flushCursors();
    expect(await store.getCursor("a@mls.localhost", d.bareJid, d.deviceId)).toBe(5n);
    await ds.delivered("a@mls.localhost", d, 9n);
    await ds.flushCursors();
    expect(await store.getCursor("a@mls.localhost", d.bareJid, d.deviceId)).toBe(9n);
    // Many devices at once (the store writes them in chunks of rows per statement).
    const many = Array.from({ length: 450 }, (_, i) => ({ bareJid: `u${i}@localhost`, deviceId: "D" }));
    for (const [i, m] of many.entries()) await ds.delivered("a@mls.localhost", m, BigInt(10 + i));
    await ds.flushCursors();
    for (const i of [0, 199, 200, 449]) expect(await store.getCursor("a@mls.localhost", many[i]!.bareJid, "D")).toBe(BigInt(10 + i));
    await store.close();
  });
});
