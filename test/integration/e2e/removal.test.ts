// Removal and ban end to end: the removed user gets nothing sent after its
// removal, and its MLS state, saved or snapshotted before the removal, cannot
// decrypt any of it (checked on the raw <mls/> payloads another member
// received); whatever it sends to the room afterwards is refused.

import { describe, expect, it } from "vitest";

import { groupOptions } from "../../../client/mls-helpers.js";
import { ClientStore } from "../../../client/store.js";
import { applicationMessage } from "../../../client/xml.js";
import {
  basicCredential,
  decode,
  decodeMLSMessage,
  decodeRatchetTree,
  deserializeGroup,
  encode,
  encodeMLSMessage,
  ExtensionType,
  isMlsError,
  joinExternal,
  MlsError,
  nativeProvider,
  serializeGroup,
  utf8Bytes,
  type Group,
} from "../../../mls/node.js";
import type { TestClient } from "../harness/index.js";
import { nextStanza } from "../harness/index.js";
import {
  b64,
  deviceIq,
  entriesSeen,
  expectMlsError,
  NS_MLS,
  NS_MUC,
  NS_MUC_USER,
  parseError,
  rawIq,
  until,
  type World,
  worldPerSuite,
  xml,
  type Device,
  type Element,
  type SeenEntry,
} from "./world.js";

const USERS = ["alice-2", "bob-2", "carol-2", "alice-3", "bob-3", "carol-3"];

const say = (w: World, d: Device, room: string, label: string) => w.say(d, room, label);

function restore(state: Uint8Array): Group {
  return deserializeGroup(nativeProvider, state, groupOptions(2));
}

/** Processes `bytes` with `g`; returns the MlsError code (fails if it decrypts or throws anything else). */
function mlsRefusal(g: Group, bytes: Uint8Array): string {
  try {
    const r = g.process(decode(decodeMLSMessage, bytes));
    throw new Error(`decrypted/processed (${r.kind}) where it must not`);
  } catch (e) {
    if (!isMlsError(e)) throw e;
    expect(e).toBeInstanceOf(MlsError);
    return e.code;
  }
}

/** The same PrivateMessage claiming another epoch. */
function relabel(bytes: Uint8Array, epoch: bigint): Uint8Array {
  const m = decode(decodeMLSMessage, bytes);
  if (m.wireFormat !== "mls_private_message") throw new Error("not a PrivateMessage");
  return encode(encodeMLSMessage, { ...m, privateMessage: { ...m.privateMessage, epoch } });
}

/** The distinct entries (by seq) a device received from the room, in seq order. */
function bySeq(entries: readonly SeenEntry[]): SeenEntry[] {
  const m = new Map<number, SeenEntry>();
  for (const e of entries) if (e.kind !== "welcome" && !m.has(e.seq)) m.set(e.seq, e);
  return [...m.values()].sort((a, b) => a.seq - b.seq);
}

/** Joins a room with a raw client and resolves with the answer (self-presence or error). */
async function rawJoin(c: TestClient, occupant: string, device?: string): Promise<Element> {
  const got = nextStanza(
    c,
    (s) =>
      s.is("presence") &&
      s.attrs["from"] === occupant &&
      (s.attrs["type"] === "error" || (s.getChild("x", NS_MUC_USER)?.getChildren("status") ?? []).some((st) => st.attrs["code"] === "110")),
  );
  await c.send(xml("presence", { to: occupant }, xml("x", { xmlns: NS_MUC }), ...(device ? [xml("device", { xmlns: NS_MLS, id: device })] : [])));
  return got;
}

describe("removal and ban over Prosody with the real component", () => {
  let w: World;

  worldPerSuite({ users: USERS }, (x) => (w = x));

  /**
   * Common part of 2 and 3: after `exclude` (remove or ban) of bob, checks
   * delivery, decryption with bob's saved and snapshotted MLS state, and
   * returns what the refusal checks need.
   */
  async function excludeAndCheck(
    name: string,
    users: [string, string, string],
    exclude: (alice: Device, room: string, bobJid: string) => Promise<unknown>,
    statusCode: number,
  ): Promise<{ alice: Device; carol: Device; room: string; snapshot: Uint8Array; bobJid: string; bobDevice: string; bobDir: string; epoch: number }> {
    const [alice, bob, carol] = await Promise.all(users.map((u) => w.open(u)));
    const room = await w.groupRoom(name, alice!, [bob!, carol!]);
    const hello = await say(w, alice!, room, `${name}-hello`);
    await w.allRead([bob!, carol!], [hello.id]);
    await w.settled([alice!, bob!, carol!], room);

    // A copy of bob's MLS state while he is a member (what a device that kept its keys would have).
    const bobSession = await bob!.c.session(room);
    const snapshot = serializeGroup(bobSession.group!);
    const snapSeq = bobSession.lastSeq;
    const before = await say(w, carol!, room, `${name}-before`); // still for bob
    await w.allRead([alice!, bob!], [before.id]);

    await exclude(alice!, room, bob!.jid);
    await until(() => bob!.events.some((e) => e.name === "removed"), 15_000, "bob to learn of his removal");
    expect(bob!.events.find((e) => e.name === "left")?.payload).toMatchObject({ statusCodes: expect.arrayContaining([statusCode]) as unknown });
    const removal = alice!.membership.find((m) => m.removed.some((x) => x.jid === bob!.jid));
    expect(removal?.removed.map((x) => x.device)).toEqual([bob!.c.deviceId]);
    const commitSeq = removal!.seq!;
    expect(bob!.events.find((e) => e.name === "removed")?.payload).toMatchObject({ seq: commitSeq });
    const { epoch } = await w.settled([alice!, carol!], room);

    const after = [await say(w, alice!, room, `${name}-after-1`), await say(w, carol!, room, `${name}-after-2`), await say(w, alice!, room, `${name}-after-3`)];
    await w.allRead([carol!], [after[0]!.id, after[2]!.id]);
    await w.allRead([alice!], [after[1]!.id]);

    // The DS no longer delivers to bob. Barrier: the room answers a catch-up after every fan-out it did before.
    const cu = await deviceIq(bob!, room, "get", xml("catch-up", { xmlns: NS_MLS, device: bob!.c.deviceId, after: String(snapSeq) }));
    expect(cu.attrs["type"]).toBe("result");
    const newest = (await w.dsGroup(room))!.nextSeq - 1;
    expect(cu.getChild("caught-up", NS_MLS)?.attrs).toMatchObject({ last: String(newest), complete: "true" });
    const toBob = bySeq(entriesSeen(bob!, room));
    expect(Math.max(...toBob.map((e) => e.seq))).toBe(commitSeq); // the removing commit is the last thing he gets
    expect(toBob.filter((e) => e.seq > commitSeq)).toEqual([]);
    for (const m of after) expect(bob!.messages.some((x) => x.id === m.id)).toBe(false);
    // The SDK will not send for him: it tries to join again first, which the room refuses.
    const refused = (await bob!.c.send(room, "never sent").catch((e: unknown) => e)) as { code?: string; condition?: string };
    expect(refused.code === "removed" || refused.condition === (statusCode === 301 ? "forbidden" : "registration-required")).toBe(true);

    // The raw payloads, as alice's connection received them, are the ones the DS stored.
    const seenByAlice = bySeq(entriesSeen(alice!, room));
    const cts = seenByAlice.filter((e) => e.kind === "application" && e.seq > commitSeq);
    expect(cts.map((e) => e.seq)).toEqual(after.map((m) => m.seq));
    const log = await w.dsLog(room);
    for (const e of cts) expect(Buffer.from(log.find((r) => r.seq === e.seq)!.payload).equals(Buffer.from(e.bytes))).toBe(true);
    for (const e of cts) expect(e.epoch).toBe(epoch); // encrypted in the epoch the removal created

    // Bob's saved state (his state file after the removal): it cannot decrypt any of them.
    const bobJid = bob!.jid;
    const bobDevice = bob!.c.deviceId;
    await w.closeDevice(bob!);
    const store = await ClientStore.open(bob!.stateDir);
    const rec = await store.getRoom(room);
    await store.close();
    expect(rec?.status).toBe("removed");
    for (const e of cts) mlsRefusal(restore(rec!.groupState!), e.bytes);

    // The snapshot from before the removal decrypts what was sent before it (so it is a working state) ...
    const g = restore(snapshot);
    for (const e of seenByAlice.filter((x) => x.seq > snapSeq && x.seq <= commitSeq)) {
      const r = g.process(decode(decodeMLSMessage, e.bytes));
      if (e.kind === "application") {
        expect(r.kind).toBe("application");
        if (r.kind === "application") expect(new TextDecoder().decode(r.data)).toContain(before.text);
      }
      if (e.seq === commitSeq) expect(r.kind === "commit" && r.summary.selfRemoved).toBe(true);
    }
    // ... but, having processed the commit that removed it, not what came after;
    for (const e of cts) mlsRefusal(g, e.bytes);
    // and without processing that commit, it cannot open the new epoch's messages either.
    for (const e of cts) expect(mlsRefusal(restore(snapshot), e.bytes)).toBe("WrongEpoch");
    // Not only the epoch check: relabelled as his own epoch, his epoch secrets do not open them.
    for (const e of cts) {
      const mine = restore(snapshot);
      expect(mlsRefusal(mine, relabel(e.bytes, mine.epoch))).toBe("DecryptionFailed");
    }
    return { alice: alice!, carol: carol!, room, snapshot, bobJid, bobDevice, bobDir: bob!.stateDir, epoch };
  }

  /** Every request the excluded user can make is refused; the room is unchanged and keeps working. */
  async function refusals(
    name: string,
    r: Awaited<ReturnType<typeof excludeAndCheck>>,
    bobUser: string,
    joinCondition: string,
  ): Promise<void> {
    const { alice, carol, room } = r;
    const dsBefore = await w.dsGroup(room);
    const bob = await w.raw(bobUser);

    // Joining again: refused by the room (XEP-0045), with his MLS device or without.
    const j1 = await rawJoin(bob, `${room}/${bobUser}`, r.bobDevice);
    expect(parseError(j1).condition).toBe(joinCondition);
    const j2 = await rawJoin(bob, `${room}/${bobUser}`);
    expect(parseError(j2).condition).toBe(joinCondition);

    // An application message encrypted with his old keys: he is no occupant any more.
    const old = restore(r.snapshot);
    const ct = encode(encodeMLSMessage, old.encrypt(utf8Bytes(w.secret(`${name}-bob-late`))));
    const id = `late-${Date.now()}`;
    const bounced = nextStanza(bob, (s) => s.is("message") && s.attrs["type"] === "error" && s.attrs["id"] === id);
    await bob.send(applicationMessage(room, id, ct));
    expect(parseError(await bounced).condition).toBe("not-acceptable");

    // The GroupInfo, which an external join needs.
    expectMlsError(await rawIq(bob, room, "get", xml("group-info", { xmlns: NS_MLS })), { type: "auth", condition: "forbidden", app: "not-a-member" });

    // An external commit back into the group, built on the current GroupInfo (which a member could leak): refused.
    const gi = await deviceIq(alice, room, "get", xml("group-info", { xmlns: NS_MLS }));
    const giEl = gi.getChild("group-info", NS_MLS)!;
    const infoMsg = decode(decodeMLSMessage, new Uint8Array(Buffer.from(giEl.getChild("message")!.getText(), "base64")));
    const tree = decode(decodeRatchetTree, new Uint8Array(Buffer.from(giEl.getChild("ratchet-tree")!.getText(), "base64")));
    const store = await ClientStore.open(r.bobDir);
    const dev = (await store.getDevice())!;
    await store.close();
    const joined = joinExternal({
      cs: nativeProvider.suite(1),
      credential: basicCredential(utf8Bytes(r.bobJid)),
      signaturePrivateKey: dev.signaturePrivateKey,
      signaturePublicKey: dev.signaturePublicKey,
      leafExtensions: [{ extensionType: ExtensionType.application_id, extensionData: utf8Bytes(r.bobDevice) }],
      groupInfo: infoMsg,
      ratchetTree: tree,
      options: groupOptions(2),
    });
    const commit = await rawIq(
      bob,
      room,
      "set",
      xml(
        "commit",
        { xmlns: NS_MLS },
        xml("commit-message", {}, b64(encode(encodeMLSMessage, joined.commit))),
        xml("group-info", {}, b64(encode(encodeMLSMessage, joined.group.groupInfo({ ratchetTree: false, externalPub: true })))),
      ),
    );
    expectMlsError(commit, { type: "auth", condition: "forbidden", app: "not-a-member" });

    // Nothing changed: same epoch, same log, and the others still chat.
    expect(await w.dsGroup(room)).toEqual(dsBefore);
    const m1 = await say(w, alice, room, `${name}-still-1`);
    const m2 = await say(w, carol, room, `${name}-still-2`);
    await w.allRead([carol], [m1.id]);
    await w.allRead([alice], [m2.id]);
    const s = await w.settled([alice, carol], room);
    expect(s.epoch).toBe(r.epoch);
    expect((await alice.c.members(room)).devices.some((x) => x.jid === r.bobJid)).toBe(false);
    expect([alice, carol].flatMap((d) => d.errors)).toEqual([]);
  }

  it("2. a removed user receives nothing sent after its removal, cannot decrypt it, and is refused", async () => {
    const r = await excludeAndCheck("removal", ["alice-2", "bob-2", "carol-2"], (a, room, jid) => a.c.remove(room, jid), 321);
    const aff = (await r.alice.c.members(r.room)).affiliations ?? [];
    expect(aff.find((a) => a.jid === r.bobJid)).toBeUndefined();
    await refusals("removal", r, "bob-2", "registration-required");
  }, 60_000);

  it("3. a banned user (outcast) is removed and kicked, cannot rejoin, and cannot read later messages", async () => {
    const r = await excludeAndCheck("ban", ["alice-3", "bob-3", "carol-3"], (a, room, jid) => a.c.ban(room, jid), 301);
    const aff = (await r.alice.c.members(r.room)).affiliations ?? [];
    expect(aff.find((a) => a.jid === r.bobJid)?.affiliation).toBe("outcast");
    await refusals("ban", r, "bob-3", "forbidden");
  }, 60_000);

  it("11. the component's SQLite files and debug log hold none of the plaintexts sent", async () => {
    await w.expectNoPlaintextLeaks(w.room("removal"), 9);
  });
});
