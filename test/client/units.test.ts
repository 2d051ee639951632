// Small pieces of the client SDK: SASL choice, content envelope, stanza errors, state file.

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { xml } from "@xmpp/xml";
import { describe, expect, it } from "vitest";

import { stanzaError } from "../../client/errors.js";
import { fingerprint, leafIdentity, makeKeyPackage } from "../../client/mls-helpers.js";
import { SqliteDb } from "../../client/sqlite.js";
import { ClientStore, STATE_FILE } from "../../client/store.js";
import { chooseMechanism, isLoopbackService, saslCredentials } from "../../client/transport.js";
import { buildContent, fromBase64, parseContent, parseEntry, toBase64 } from "../../client/xml.js";
import { nativeProvider } from "../../mls/node.js";

describe("SASL mechanism choice", () => {
  it("PLAIN only on TLS or loopback unless asked", () => {
    expect(chooseMechanism(["SCRAM-SHA-1", "PLAIN"], undefined, false, true)).toBe("PLAIN");
    expect(chooseMechanism(["SCRAM-SHA-1", "PLAIN"], undefined, true, false)).toBe("PLAIN");
    expect(chooseMechanism(["SCRAM-SHA-1", "PLAIN"], undefined, false, false)).toBe("SCRAM-SHA-1");
    expect(chooseMechanism(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-1"], undefined, false, false)).toBe("SCRAM-SHA-256");
    expect(() => chooseMechanism(["PLAIN"], undefined, false, false)).toThrow(/neither TLS nor loopback/);
    expect(chooseMechanism(["PLAIN"], "PLAIN", false, false)).toBe("PLAIN");
    expect(() => chooseMechanism(["PLAIN"], "SCRAM-SHA-1", true, true)).toThrow(/not offered/);
  });
  it("hands the SASL layer UTF-8 bytes, so that its btoa() sends what RFC 4616 and RFC 5802 ask for", () => {
    const password = "pässwörd ✓ 密码";
    const plain = saslCredentials("PLAIN", "dörte", password);
    // The PLAIN message as @xmpp/sasl builds and encodes it: btoa(authzid NUL authcid NUL passwd).
    expect(btoa(`\0${plain.username}\0${plain.password}`)).toBe(Buffer.from(`\0dörte\0${password}`, "utf8").toString("base64"));
    // SCRAM: the name goes into n= (encoded the same way); its library UTF-8-encodes the password itself.
    const scram = saslCredentials("SCRAM-SHA-1", "dörte", password);
    expect(btoa(`n,,n=${scram.username}`)).toBe(Buffer.from("n,,n=dörte", "utf8").toString("base64"));
    expect(scram.password).toBe(password);
    // ASCII is unchanged.
    expect(saslCredentials("PLAIN", "alice", "alice-pw")).toEqual({ username: "alice", password: "alice-pw" });
  });
  it("recognizes loopback services", () => {
    expect(isLoopbackService("xmpp://127.0.0.1:5222")).toBe(true);
    expect(isLoopbackService("xmpp://127.3.2.1:5222")).toBe(true);
    expect(isLoopbackService("xmpp://localhost:5222")).toBe(true);
    expect(isLoopbackService("xmpp://[::1]:5222")).toBe(true);
    expect(isLoopbackService("xmpp://example.org:5222")).toBe(false);
    expect(isLoopbackService(undefined)).toBe(false);
  });
});

describe("<content/> envelope (§6.7.1)", () => {
  it("round-trips text with markup characters and drops characters XML cannot carry", () => {
    const s = buildContent("id-1", "a <b> & 'c' \"d\" \u0001 ü 😀", new Date("2025-11-27T10:06:10.123Z"));
    expect(s.startsWith("<content xmlns=\"urn:xmpp:mls:0\" id=\"id-1\" time=\"2025-11-27T10:06:10Z\">")).toBe(true);
    const c = parseContent(new TextEncoder().encode(s));
    expect(c.id).toBe("id-1");
    expect(c.body).toBe("a <b> & 'c' \"d\"  ü 😀");
    expect(c.time?.toISOString()).toBe("2025-11-27T10:06:10.000Z");
  });
  it("parses the spec's example", () => {
    const c = parseContent(
      new TextEncoder().encode(
        "<content xmlns='urn:xmpp:mls:0' id='66cc397b-7448-44bf-84b7-04cc2232d417' time='2025-11-27T10:06:10Z'><body xmlns='jabber:client'>Hi Alice, the encrypted room works.</body></content>",
      ),
    );
    expect(c.body).toBe("Hi Alice, the encrypted room works.");
  });
  it.each([
    ["<message xmlns='urn:xmpp:mls:0' id='x'/>", "not a <content/>"],
    ["<content xmlns='jabber:client' id='x'/>", "not a <content/>"],
    ["<content xmlns='urn:xmpp:mls:0'/>", "valid id"],
    ["<?xml version='1.0'?><content xmlns='urn:xmpp:mls:0' id='x'/>", "processing instruction"],
    ["<!DOCTYPE x><content xmlns='urn:xmpp:mls:0' id='x'/>", "DOCTYPE"],
    ["<content xmlns='urn:xmpp:mls:0' id='x'>", "well-formed"],
  ])("refuses %s", (text, why) => {
    expect(() => parseContent(new TextEncoder().encode(text))).toThrow(why);
  });
  it("refuses non-UTF-8", () => {
    expect(() => parseContent(new Uint8Array([0xff, 0xfe]))).toThrow(/UTF-8/);
  });
});

describe("wire details", () => {
  it("canonical base64 only", () => {
    expect(toBase64(new Uint8Array([1, 2, 3]))).toBe("AQID");
    expect(fromBase64("AQID", "x")).toEqual(new Uint8Array([1, 2, 3]));
    for (const bad of ["", "AQI", "AQ ID", "AQID\n", "A===", "AQ=="+"="]) expect(() => fromBase64(bad, "x")).toThrow(/base64/);
  });
  it("parses entries with seq, epoch, stanza-id by the room, origin-id and delay", () => {
    const room = "team@mls.example.org";
    const e = parseEntry(
      xml(
        "message",
        { type: "groupchat", from: room, id: "m-bob-1" },
        xml("mls", { xmlns: "urn:xmpp:mls:0", kind: "application", epoch: "2", seq: "5", sender: "bob" }, "AAEAAg=="),
        xml("stanza-id", { xmlns: "urn:xmpp:sid:0", by: "someone-else", id: "nope" }),
        xml("stanza-id", { xmlns: "urn:xmpp:sid:0", by: room, id: "f6fa" }),
        xml("origin-id", { xmlns: "urn:xmpp:sid:0", id: "66cc" }),
        xml("delay", { xmlns: "urn:xmpp:delay", stamp: "2025-11-27T10:06:10.482Z" }),
      ),
      room,
    )!;
    expect(e).toMatchObject({ kind: "application", seq: 5, epoch: 2, stanzaId: "f6fa", originId: "66cc", senderNick: "bob", stanzaIdAttr: "m-bob-1" });
    expect(e.delay?.toISOString()).toBe("2025-11-27T10:06:10.482Z");
    expect(() => parseEntry(xml("message", {}, xml("mls", { xmlns: "urn:xmpp:mls:0", kind: "application", epoch: "01", seq: "5" }, "AA==")), room)).toThrow();
    expect(() => parseEntry(xml("message", {}, xml("mls", { xmlns: "urn:xmpp:mls:0", kind: "bogus", epoch: "1", seq: "5" }, "AA==")), room)).toThrow();
    expect(parseEntry(xml("message", {}, xml("body", {}, "plain")), room)).toBeUndefined();
  });
  it("maps stanza errors with the urn:xmpp:mls:0 condition", () => {
    const iq = xml(
      "iq",
      { type: "error" },
      xml(
        "error",
        { type: "wait" },
        xml("conflict", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
        xml("missing-proposals", { xmlns: "urn:xmpp:mls:0" }, xml("proposal", { seq: "7" }), xml("proposal", { seq: "9" })),
        xml("text", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }, "commit again"),
      ),
    );
    const e = stanzaError(iq, "commit", "team@x");
    expect(e).toMatchObject({ code: "stanza", condition: "conflict", type: "wait", mlsCondition: "missing-proposals", missingSeqs: [7, 9], text: "commit again", room: "team@x" });
    const m = stanzaError(
      xml("message", { type: "error" }, xml("error", { type: "modify" }, xml("not-acceptable", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }), xml("stale-epoch", { xmlns: "urn:xmpp:mls:0", "current-epoch": "3" }))),
      "message",
    );
    expect(m.mlsCondition).toBe("stale-epoch");
    expect(m.currentEpoch).toBe(3);
  });
  it("KeyPackages carry the JID, the device id and a lifetime within the service maximum", () => {
    const cs = nativeProvider.suite(1);
    const kp = cs.signature.generateKeyPair();
    const { keyPackage, record } = makeKeyPackage({
      cs,
      jid: "bob@example.net",
      deviceId: "Vb4nT6yE",
      signaturePrivateKey: kp.privateKey,
      signaturePublicKey: kp.publicKey,
      lastResort: false,
      lifetimeSeconds: 7_776_000,
    });
    expect(leafIdentity(keyPackage.leafNode)).toEqual({ jid: "bob@example.net", device: "Vb4nT6yE" });
    const lt = keyPackage.leafNode.leafNodeSource === "key_package" ? keyPackage.leafNode.lifetime : undefined;
    expect(Number(lt!.notAfter - lt!.notBefore)).toBeLessThanOrEqual(7_776_000);
    expect(record.ref).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprint(kp.publicKey)).toMatch(/^([0-9a-f]{8} ){7}[0-9a-f]{8}$/);
  });
});

describe("state file", () => {
  it("is created 0600 in a 0700 directory", async () => {
    const base = mkdtempSync(join(tmpdir(), "mls-client-store-"));
    try {
      const dir = join(base, "state");
      const store = await ClientStore.open(dir);
      await store.close();
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, STATE_FILE)).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("upgrades a schema-1 file: its rooms keep their state and get leaf_updated_at = 0 (unknown)", async () => {
    const base = mkdtempSync(join(tmpdir(), "mls-client-store-"));
    try {
      // A schema-1 state file, as the previous release wrote it.
      const old = await SqliteDb.open(join(base, STATE_FILE));
      for (const stmt of [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT INTO meta VALUES ('schema_version', '1')",
        `CREATE TABLE rooms (room TEXT PRIMARY KEY, kind TEXT, status TEXT NOT NULL, group_state BLOB,
          last_seq INTEGER NOT NULL DEFAULT 0, join_epoch INTEGER NOT NULL DEFAULT 0,
          needs_self_update INTEGER NOT NULL DEFAULT 0, auto_join INTEGER NOT NULL DEFAULT 0, nick TEXT,
          updated_at INTEGER NOT NULL)`,
        `INSERT INTO rooms (room, kind, status, last_seq, join_epoch, auto_join, nick, updated_at)
          VALUES ('r@mls.localhost', 'group', 'member', 7, 2, 1, 'al', 1)`,
      ]) {
        await old.run(stmt);
      }
      await old.close();
      const store = await ClientStore.open(base);
      expect(await store.getRoom("r@mls.localhost")).toMatchObject({ kind: "group", status: "member", lastSeq: 7, joinEpoch: 2, autoJoin: true, nick: "al", leafUpdatedAt: 0 });
      await store.close();
      const again = await ClientStore.open(base); // idempotent
      expect((await again.getRoom("r@mls.localhost"))?.lastSeq).toBe(7);
      await again.close();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
