// The Delivery Service without XMPP: real MLS members (the library's Group)
// talk to it through its API, on an in-memory SQLite store.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  basicCredential,
  createGroup,
  createKeyPackage,
  decode,
  decodeMLSMessage,
  decodeRatchetTree,
  encode,
  encodeMLSMessage,
  externalSendersExtension,
  joinFromWelcome,
  nativeProvider,
  utf8Bytes,
  type Group,
  type KeyPackagePrivate,
  type MLSMessage,
} from "../../../mls/node.js";
import { applicationIdExtension, type DeviceRef } from "../../../mapping/ds/identity.js";
import { DEFAULT_DS_OPTIONS, DeliveryService, type DsOutput } from "../../../mapping/ds/service.js";
import { openSqliteStore, type SqliteStore } from "../../../mapping/store/index.js";

const cs = nativeProvider.suite(1);
const ROOM = "team@mls.localhost";
const bytes = (m: MLSMessage) => encode(encodeMLSMessage, m);
const msg = (b: Uint8Array) => decode(decodeMLSMessage, b);

interface Device {
  ref: DeviceRef;
  signaturePrivateKey: Uint8Array;
  keyPackages: Map<string, KeyPackagePrivate>;
  group?: Group;
}

function device(bareJid: string, deviceId: string): Device {
  const sig = cs.signature.generateKeyPair();
  return { ref: { bareJid, deviceId }, signaturePrivateKey: sig.privateKey, keyPackages: new Map() };
}

function identity(d: Device) {
  return {
    cs,
    credential: basicCredential(utf8Bytes(d.ref.bareJid)),
    signaturePrivateKey: d.signaturePrivateKey,
    leafExtensions: [applicationIdExtension(d.ref.deviceId)],
  };
}

let store: SqliteStore;
let ds: DeliveryService;
let channelDevices: DeviceRef[] = [];
let clock = Date.now();

beforeEach(async () => {
  store = await openSqliteStore(":memory:");
  let id = 0;
  ds = new DeliveryService(store, { channelDevices: () => channelDevices }, {
    ...DEFAULT_DS_OPTIONS,
    domain: "mls.localhost",
    provider: nativeProvider,
    now: () => clock,
    newId: () => `sid-${++id}`,
  });
  await ds.start();
});

afterEach(async () => {
  await store.close();
});

async function publish(d: Device, n = 2): Promise<DsOutput> {
  const pkgs = [];
  for (let i = 0; i < n; i++) {
    const kp = createKeyPackage({ ...identity(d), lifetime: { notBefore: BigInt(Math.floor(clock / 1000)) - 60n, notAfter: BigInt(Math.floor(clock / 1000)) + 30n * 86400n } });
    d.keyPackages.set(String(i), kp.privateKeys);
    pkgs.push({ bytes: bytes({ version: 1, wireFormat: "mls_key_package", keyPackage: kp.keyPackage }), lastResort: false, kp });
  }
  const { output } = await ds.publish(d.ref, `${d.ref.bareJid}/r`, pkgs, false);
  (d as Device & { pkgs?: typeof pkgs }).pkgs = pkgs;
  return output;
}

async function createBoundRoom(owner: Device): Promise<DsOutput> {
  await store.createRoom(
    { jid: ROOM, kind: "group", persistent: true, config: { description: "", changeSubject: false, publicRoom: false, whois: "anyone" }, createdAt: clock },
    { bareJid: owner.ref.bareJid },
  );
  owner.group = createGroup({
    ...identity(owner),
    groupId: cs.randomBytes(32),
    extensions: [externalSendersExtension([{ signatureKey: ds.externalSenderKey, credential: basicCredential(utf8Bytes("mls.localhost")) }])],
  });
  return ds.bind(ROOM, bytes(owner.group.groupInfo()), owner.ref);
}

/** Every member processes the fanned-out entries (Welcomes join the device). */
function deliver(out: DsOutput, devices: Device[]): void {
  for (const f of out.fanout) {
    for (const to of f.to) {
      const d = devices.find((x) => x.ref.bareJid === to.bareJid && x.ref.deviceId === to.deviceId)!;
      if (f.asWelcome) {
        const pkgs = (d as Device & { pkgs: { kp: ReturnType<typeof createKeyPackage> }[] }).pkgs;
        const w = msg(f.entry.welcome!);
        for (const p of pkgs) {
          try {
            d.group = joinFromWelcome({
              cs,
              welcome: w,
              keyPackage: p.kp.keyPackage,
              keyPackagePrivate: p.kp.privateKeys,
              ratchetTree: decode(decodeRatchetTree, f.entry.ratchetTree!),
            });
            break;
          } catch {
            /* not this package */
          }
        }
      } else if (d.group && f.entry.kind !== "application") {
        const m = msg(f.entry.payload);
        // The committer merges on acceptance, not from the fan-out.
        if (f.entry.kind === "commit" && f.entry.senderDevice === d.ref.deviceId && f.entry.senderJid === d.ref.bareJid) continue;
        d.group.process(m);
      }
    }
  }
}

async function commitPending(d: Device, devices: Device[]) {
  const c = d.group!.commit({ forcePath: true });
  const r = await ds.submitCommit(ROOM, {
    commit: bytes(c.commit),
    groupInfo: bytes(c.groupInfo),
    welcome: c.welcome ? bytes(c.welcome) : undefined,
    senderJid: d.ref.bareJid,
    occupantDevice: d.ref.deviceId,
  });
  d.group!.mergePendingCommit();
  deliver(r.output, devices);
  return r;
}

describe("DeliveryService", () => {
  it("binds, adds affiliated devices by DS proposal, accepts one commit per epoch, removes on revocation", async () => {
    const alice = device("alice@localhost", "laptop");
    const phone = device("alice@localhost", "phone");
    const bob = device("bob@localhost", "desk");
    const all = [alice, phone, bob];
    await publish(alice);
    await publish(phone);
    const out0 = await createBoundRoom(alice);
    // Alice's phone is affiliated (owner) and registered: the DS proposes its Add at bind.
    expect(out0.fanout).toHaveLength(1);
    expect(out0.fanout[0]!.entry.kind).toBe("proposal");
    deliver(out0, all);
    const r1 = await commitPending(alice, all);
    expect(r1.epoch).toBe(1n);
    expect(phone.group?.epoch).toBe(1n);
    expect(phone.group!.epochAuthenticator).toEqual(alice.group!.epochAuthenticator);

    // Bob becomes a member: his device is proposed once it has KeyPackages.
    await publish(bob);
    await store.setAffiliations(ROOM, [{ bareJid: "bob@localhost", affiliation: "member" }], clock);
    const out1 = await ds.converge(ROOM);
    expect(out1.fanout.map((f) => f.entry.kind)).toEqual(["proposal"]);
    deliver(out1, all);

    // Two members commit the same epoch: the first wins, the second gets epoch-mismatch.
    const c1 = alice.group!.commit({ forcePath: true });
    const c2 = phone.group!.commit({ forcePath: true });
    const win = await ds.submitCommit(ROOM, {
      commit: bytes(c2.commit),
      groupInfo: bytes(c2.groupInfo),
      welcome: bytes(c2.welcome!),
      senderJid: "alice@localhost",
      occupantDevice: "phone",
    });
    await expect(
      ds.submitCommit(ROOM, { commit: bytes(c1.commit), groupInfo: bytes(c1.groupInfo), welcome: bytes(c1.welcome!), senderJid: "alice@localhost", occupantDevice: "laptop" }),
    ).rejects.toMatchObject({ condition: "epoch-mismatch", attrs: { "current-epoch": "2" } });
    phone.group!.mergePendingCommit();
    alice.group!.clearPendingCommit();
    deliver(win.output, all);
    expect(bob.group?.epoch).toBe(2n);
    expect(alice.group!.epoch).toBe(2n);
    expect(bob.group!.epochAuthenticator).toEqual(alice.group!.epochAuthenticator);

    // Application message: stored, fanned out to the members.
    const app = alice.group!.encrypt(utf8Bytes("hi"));
    const sent = await ds.submitApplication(ROOM, { message: bytes(app), device: alice.ref, originId: "o1" });
    expect(sent.entry.seq).toBe(win.seq + 1n);
    await sent.stored;
    const got = bob.group!.process(msg(sent.entry.payload));
    expect(got.kind === "application" && new TextDecoder().decode(got.data)).toBe("hi");

    // The stored next seq follows the log (one INSERT per application message), so a restarted DS continues after it.
    expect((await store.getGroup(ROOM))!.nextSeq).toBe(sent.entry.seq + 1n);
    const restarted = new DeliveryService(store, { channelDevices: () => channelDevices }, { ...DEFAULT_DS_OPTIONS, domain: "mls.localhost", provider: nativeProvider });
    await restarted.start();
    const again = await restarted.submitApplication(ROOM, { message: bytes(alice.group!.encrypt(utf8Bytes("again"))), device: alice.ref });
    expect(again.entry.seq).toBe(sent.entry.seq + 1n);
    expect((await store.getGroup(ROOM))!.nextSeq).toBe(again.entry.seq + 1n);
    bob.group!.process(msg(again.entry.payload));

    // Bob's catch-up (e.g. after being offline) starts at his Welcome.
    const cu = await ds.catchUp(ROOM, bob.ref, 0n, 100);
    expect(cu.entries[0]!.asWelcome).toBe(true);
    expect(cu.entries.map((e) => e.seq)).toEqual([win.seq, sent.entry.seq, again.entry.seq]);
    expect(cu.complete).toBe(true);

    // Revoking Bob: Remove proposed; his application delivery stops at once.
    await store.setAffiliations(ROOM, [{ bareJid: "bob@localhost", affiliation: "none" }], clock);
    const bobLate = bob.group!.encrypt(utf8Bytes("x"));
    const out2 = await ds.converge(ROOM);
    expect(out2.fanout).toHaveLength(1);
    deliver(out2, all);
    await expect(ds.submitApplication(ROOM, { message: bytes(bobLate), device: bob.ref })).rejects.toMatchObject({
      condition: "not-a-member",
    });
    const removal = await commitPending(alice, all);
    expect(bob.group!.isActive).toBe(false);
    const after = alice.group!.encrypt(utf8Bytes("secret"));
    const s2 = await ds.submitApplication(ROOM, { message: bytes(after), device: alice.ref });
    expect(s2.output.fanout[0]!.to.map((d) => d.bareJid)).not.toContain("bob@localhost");
    const cuBob = await ds.catchUp(ROOM, bob.ref, removal.seq - 1n, 100);
    expect(cuBob.entries.map((e) => e.seq)).toEqual([removal.seq]);
    expect(() => bob.group!.process(msg(s2.entry.payload))).toThrow();
  });

  it("refuses commits that skip DS proposals, from non-members, and for a wrong group", async () => {
    const alice = device("alice@localhost", "laptop");
    const bob = device("bob@localhost", "desk");
    await publish(alice);
    await createBoundRoom(alice);
    await publish(bob);
    await store.setAffiliations(ROOM, [{ bareJid: "bob@localhost", affiliation: "member" }], clock);
    const out = await ds.converge(ROOM);
    // Alice commits without having seen the DS proposal.
    const c = alice.group!.commit({ forcePath: true });
    await expect(
      ds.submitCommit(ROOM, { commit: bytes(c.commit), groupInfo: bytes(c.groupInfo), senderJid: "alice@localhost", occupantDevice: "laptop" }),
    ).rejects.toMatchObject({ condition: "missing-proposals", missingSeqs: [out.fanout[0]!.entry.seq] });
    alice.group!.clearPendingCommit();
    deliver(out, [alice, bob]);
    const c2 = alice.group!.commit({ forcePath: true });
    await expect(
      ds.submitCommit(ROOM, { commit: bytes(c2.commit), groupInfo: bytes(c2.groupInfo), welcome: bytes(c2.welcome!), senderJid: "mallory@localhost" }),
    ).rejects.toMatchObject({ condition: "identity-mismatch" });
    await expect(
      ds.submitCommit(ROOM, { commit: new Uint8Array([0, 1, 2]), groupInfo: bytes(c2.groupInfo), senderJid: "alice@localhost" }),
    ).rejects.toMatchObject({ condition: "malformed-message" });
  });

  it("validates published KeyPackages: identity, device, duplicates", async () => {
    const alice = device("alice@localhost", "laptop");
    const kp = createKeyPackage(identity(alice));
    const b = bytes({ version: 1, wireFormat: "mls_key_package", keyPackage: kp.keyPackage });
    await expect(ds.publish({ bareJid: "mallory@localhost", deviceId: "laptop" }, "m@l/r", [{ bytes: b, lastResort: false }], false)).rejects.toMatchObject({
      condition: "invalid-key-package",
      attrs: { index: "0", reason: "identity" },
    });
    await expect(ds.publish({ bareJid: "alice@localhost", deviceId: "other" }, "a@l/r", [{ bytes: b, lastResort: false }], false)).rejects.toMatchObject({
      attrs: { reason: "device" },
    });
    const ok = await ds.publish(alice.ref, "alice@localhost/r", [{ bytes: b, lastResort: true }], false);
    expect(ok.count).toEqual({ available: 0, lastResort: true });
    await expect(ds.publish(alice.ref, "alice@localhost/r", [{ bytes: b, lastResort: false }], false)).rejects.toMatchObject({ attrs: { reason: "duplicate" } });
  });
});

describe("DeliveryService: group commit of application messages", () => {
  /** Alice's bound group room with Bob in it (epoch 2). */
  async function aliceAndBob(): Promise<{ alice: Device; bob: Device }> {
    const alice = device("alice@localhost", "laptop");
    const bob = device("bob@localhost", "desk");
    await publish(alice);
    await publish(bob);
    deliver(await createBoundRoom(alice), [alice, bob]);
    await store.setAffiliations(ROOM, [{ bareJid: "bob@localhost", affiliation: "member" }], clock);
    deliver(await ds.converge(ROOM), [alice, bob]);
    await commitPending(alice, [alice, bob]);
    expect(bob.group?.epoch).toBe(alice.group!.epoch);
    return { alice, bob };
  }
  const say = (d: Device, text: string) => ds.submitApplication(ROOM, { message: bytes(d.group!.encrypt(utf8Bytes(text))), device: d.ref });

  it("numbers messages at once, writes those that arrive during a write together, and catch-up includes them", async () => {
    const { alice, bob } = await aliceAndBob();
    const batches = vi.spyOn(store, "appendEntries");
    const subs = await Promise.all(["a", "b", "c", "d", "e", "f"].map((t) => say(alice, t)));
    const first = subs[0]!.entry.seq;
    expect(subs.map((x) => x.entry.seq)).toEqual([0n, 1n, 2n, 3n, 4n, 5n].map((i) => first + i));
    // A catch-up asked before the writes finished still contains them all, in order.
    const cu = await ds.catchUp(ROOM, bob.ref, first - 1n, 100);
    expect(cu.entries.map((e) => e.seq)).toEqual(subs.map((x) => x.entry.seq));
    await Promise.all(subs.map((x) => x.stored));
    // Six messages, fewer writes: those queued behind the first write went in one.
    expect(batches.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(batches.mock.calls.length).toBeLessThan(6);
    expect(batches.mock.calls.flatMap((c) => c[0].map((e) => e.seq))).toEqual(subs.map((x) => x.entry.seq));
    expect((await store.getGroup(ROOM))!.nextSeq).toBe(first + 6n);
    const texts = cu.entries.map((e) => {
      const r = bob.group!.process(msg(e.payload));
      return r.kind === "application" ? new TextDecoder().decode(r.data) : "?";
    });
    expect(texts).toEqual(["a", "b", "c", "d", "e", "f"]);
    // A commit waits for the messages on their way: it is numbered after them.
    const c = await commitPending(alice, [alice, bob]);
    expect(c.seq).toBe(first + 6n);
  });

  it("a batch larger than one statement takes (64 rows) is written whole, in order", async () => {
    const { alice, bob } = await aliceAndBob();
    const texts = Array.from({ length: 70 }, (_, i) => `m${i}`);
    const subs = await Promise.all(texts.map((t) => say(alice, t)));
    await Promise.all(subs.map((x) => x.stored));
    const first = subs[0]!.entry.seq;
    const cu = await ds.catchUp(ROOM, bob.ref, first - 1n, 100);
    expect(cu.entries.map((e) => e.seq)).toEqual(subs.map((x) => x.entry.seq));
    expect(cu.entries.map((e) => {
      const r = bob.group!.process(msg(e.payload));
      return r.kind === "application" ? new TextDecoder().decode(r.data) : "?";
    })).toEqual(texts);
    expect((await store.getGroup(ROOM))!.nextSeq).toBe(first + 70n);
  });

  it("a message that cannot be stored fails with the room's messages after it, and the room goes on without a hole", async () => {
    const { alice, bob } = await aliceAndBob();
    const next = (await store.getGroup(ROOM))!.nextSeq;
    // The entry numbered next + 1 cannot be written, alone or in a batch.
    const real = store.appendEntries.bind(store);
    const broken = vi.spyOn(store, "appendEntries").mockImplementation(async (es) => {
      if (es.some((e) => e.seq === next + 1n)) throw new Error("disk full");
      return real(es);
    });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((t) => say(alice, t)));
    expect([a!.entry.seq, b!.entry.seq, c!.entry.seq]).toEqual([next, next + 1n, next + 2n]);
    await expect(a!.stored).resolves.toBeUndefined();
    await expect(b!.stored).rejects.toThrow(/disk full/);
    await expect(c!.stored).rejects.toThrow(/could not be stored/);
    broken.mockRestore();
    // The room's next seq was reloaded from the store: the next message takes b's number.
    const d = await say(alice, "d");
    expect(d.entry.seq).toBe(next + 1n);
    await d.stored;
    const cu = await ds.catchUp(ROOM, bob.ref, next - 1n, 100);
    expect(cu.entries.map((e) => e.seq)).toEqual([next, next + 1n]);
    const texts = cu.entries.map((e) => {
      const r = bob.group!.process(msg(e.payload));
      return r.kind === "application" ? new TextDecoder().decode(r.data) : "?";
    });
    expect(texts).toEqual(["a", "d"]);
  });
});
