/**
 * Round trips of every kind of group state through serializeGroup /
 * deserializeGroup (and the PublicGroup equivalents): the reloaded state
 * serializes to identical bytes and behaves exactly like the original.
 * Corrupted or truncated state gives an MlsError, never another exception.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bytesEqual,
  createGroup,
  createKeyPackage,
  deserializeGroup,
  deserializePublicGroup,
  joinFromWelcome,
  reinitGroup,
  serializeGroup,
  serializePublicGroup,
  STATE_FORMAT_VERSION,
  utf8Bytes,
  type Group,
  type PublicGroup,
} from "../../../mls/node.js";
import { runs } from "../robustness/mutate.js";
import { candidate, cs, expectApplication, externalPsk, identity, mlsCode, P, Rand, World, type Member } from "./harness.js";
import { outcome } from "../outcome.js";

/** Serializes, deserializes, checks the bytes are stable and that the input buffer is not aliased. */
function reload(w: World, m: Member): Uint8Array {
  const bytes = serializeGroup(m.group);
  const input = bytes.slice();
  const g = deserializeGroup(P, input, w.options);
  input.fill(0xee); // the caller may reuse its buffer
  expect(bytesEqual(serializeGroup(g), bytes)).toBe(true);
  // A second round trip is a fixed point too.
  expect(bytesEqual(serializeGroup(deserializeGroup(P, serializeGroup(g), w.options)), bytes)).toBe(true);
  m.group = g;
  return bytes;
}

function reloadPublic(w: World): Uint8Array {
  const bytes = serializePublicGroup(w.pub);
  const input = bytes.slice();
  const pub = deserializePublicGroup(P, input, { sameClient: w.options.sameClient });
  input.fill(0xee);
  expect(bytesEqual(serializePublicGroup(pub), bytes)).toBe(true);
  w.pub = pub;
  return bytes;
}

function reloadAll(w: World): void {
  for (const m of w.members) reload(w, m);
  reloadPublic(w);
}

/** States of every kind, collected for the corruption tests. */
const memberStates: { name: string; bytes: Uint8Array }[] = [];
const publicStates: { name: string; bytes: Uint8Array }[] = [];

describe("group state persistence", () => {
  it("a fresh one-member group", () => {
    const alice = identity("alice");
    const g = createGroup({ ...alice });
    const bytes = serializeGroup(g);
    memberStates.push({ name: "fresh", bytes });
    const g2 = deserializeGroup(P, bytes);
    expect(bytesEqual(serializeGroup(g2), bytes)).toBe(true);
    expect(g2.epoch).toBe(0n);
    expect(bytesEqual(g2.epochAuthenticator, g.epochAuthenticator)).toBe(true);
    expect(bytesEqual(g2.exportSecret("x", new Uint8Array(0), 16), g.exportSecret("x", new Uint8Array(0), 16))).toBe(true);
    // Both copies can go on (independently): the reloaded one adds bob.
    const bob = candidate("bob");
    const c = g2.commit({ add: [bob.keyPackage] });
    g2.mergePendingCommit();
    const b = joinFromWelcome({ cs, welcome: c.welcome!, keyPackage: bob.keyPackage, keyPackagePrivate: bob.privateKeys });
    expectApplication(b.process(g2.encrypt(utf8Bytes("hi"))), "hi", 0);
    expect(g.epoch).toBe(0n); // the original is untouched
  });

  it("a group with stored proposals (member, DS and own) commits them after reload", () => {
    const w = new World(5);
    const [a, b, c, d] = w.members as [Member, Member, Member, Member];
    const j1 = candidate(w.freshName());
    const j2 = candidate(w.freshName());
    w.broadcastProposal(b.group.proposeRemove(c.group.leafIndex), b);
    w.broadcastProposal(w.pub.proposeAdd(0, w.ds.privateKey, j1.keyPackage).message, undefined, true);
    w.broadcastProposal(d.group.proposeUpdate(), d);
    w.broadcastProposal(a.group.proposeAdd(j2.keyPackage), a);
    w.broadcastProposal(b.group.proposePsk(externalPsk(w, new Rand(3))), b);
    expect(a.group.pendingProposals()).toHaveLength(5);
    memberStates.push({ name: "proposals", bytes: reload(w, a) });
    reload(w, d); // its own Update is pending
    publicStates.push({ name: "proposals", bytes: reloadPublic(w) });
    expect(a.group.pendingProposals()).toHaveLength(5);
    expect(w.pub.pendingProposals()).toHaveLength(5);
    const s = w.commitAndDeliver(a, {}, [j1, j2], { removedNames: [c.id.name] });
    expect(s.updated).toEqual([d.group.leafIndex]);
    w.check();
  });

  it("a pending commit survives a reload: merge, or receive it back, and the others follow", () => {
    const w = new World(4);
    const [a, b] = w.members as [Member, Member];
    const j = candidate(w.freshName());
    const created = a.group.commit({ add: [j.keyPackage], remove: [w.members[3]!.group.leafIndex], forcePath: true });
    memberStates.push({ name: "pending commit", bytes: reload(w, a) });
    expect(a.group.hasPendingCommit).toBe(true);
    w.deliverCommit(a, created, [j], { removedNames: [w.members[3]!.id.name] });
    w.check();
    // Second form: the reloaded committer receives its own commit from the DS.
    const c2 = b.group.commit({ forcePath: true });
    reload(w, b);
    w.pub.process(c2.commit);
    const r = b.group.process(c2.commit);
    expect(r.kind).toBe("commit");
    for (const m of w.others(b)) m.group.process(c2.commit);
    w.check();
    // Third: a reloaded pending commit can still be dropped for a concurrent winner.
    const loser = b.group.commit({ forcePath: true });
    reload(w, b);
    const winner = a.group.commit({ forcePath: true });
    const staged = w.pub.process(winner.commit);
    expect(mlsCode(() => w.pub.stage(loser.commit))).toBe("WrongEpoch");
    b.group.clearPendingCommit();
    reload(w, b);
    expect(b.group.hasPendingCommit).toBe(false);
    w.deliverCommit(a, winner, [], {}, staged);
    w.check();
  });

  it("past epochs: a late message of the previous epochs is readable after a reload", () => {
    const w = new World(4);
    const [a, b, c] = w.members as [Member, Member, Member];
    const m1 = b.group.encrypt(utf8Bytes("two epochs ago"));
    w.commitAndDeliver(a, { forcePath: true });
    const m2 = b.group.encrypt(utf8Bytes("one epoch ago"));
    w.commitAndDeliver(a, { remove: [b.group.leafIndex] }); // and its sender is gone now
    memberStates.push({ name: "past epochs", bytes: reload(w, c) });
    expectApplication(c.group.process(m2), "one epoch ago", 1, w.epoch - 1n);
    // The consumed key is consumed in the stored state too.
    reload(w, c);
    expect(mlsCode(() => c.group.process(m2))).toBe("KeyReused");
    expectApplication(c.group.process(m1), "two epochs ago", 1, w.epoch - 2n);
    w.check();
  });

  it("out-of-order keys retained in the secret tree survive a reload", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const msgs = Array.from({ length: 6 }, (_, i) => a.group.encrypt(utf8Bytes(`m${i}`)));
    expectApplication(b.group.process(msgs[5]!), "m5", 0);
    reload(w, b);
    for (const i of [2, 0, 4, 1, 3]) expectApplication(b.group.process(msgs[i]!), `m${i}`, 0);
    reload(w, b);
    for (const x of msgs) expect(mlsCode(() => b.group.process(x))).toBe("KeyReused");
    w.check();
  });

  it("own Update proposals pending: the reloaded member decrypts the path to its new leaf", () => {
    const w = new World(4);
    const [a, b] = w.members as [Member, Member];
    w.broadcastProposal(b.group.proposeUpdate(), b);
    w.broadcastProposal(b.group.proposeUpdate(), b); // two: the most recent wins
    memberStates.push({ name: "own updates", bytes: reload(w, b) });
    const s = w.commitAndDeliver(a, {});
    expect(s.updated).toEqual([b.group.leafIndex]);
    w.check();
    reloadAll(w);
    w.check();
  });

  it("resumption PSKs of earlier epochs survive a reload", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const e0 = w.epoch;
    w.commitAndDeliver(a, { forcePath: true });
    w.commitAndDeliver(b, { forcePath: true });
    reloadAll(w);
    const psk = { pskType: "resumption" as const, usage: "application" as const, pskGroupId: w.pub.groupId, pskEpoch: e0, pskNonce: cs.randomBytes(32) };
    w.commitAndDeliver(b, { psks: [psk] });
    w.check();
  });

  it("a removed (inactive) member's state", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    w.commitAndDeliver(a, { remove: [b.group.leafIndex] });
    const removed = w.removed.at(-1)!;
    const bytes = serializeGroup(removed.group);
    memberStates.push({ name: "removed", bytes });
    const g = deserializeGroup(P, bytes, w.options);
    expect(bytesEqual(serializeGroup(g), bytes)).toBe(true);
    expect(g.isActive).toBe(false);
    expect(mlsCode(() => g.encrypt(utf8Bytes("x")))).toBe("GroupInactive");
    expect(mlsCode(() => g.commit())).toBe("GroupInactive");
    w.check();
  });

  it("after a reinit: the old group's state keeps the ReInit, and the reloaded states start the new group", () => {
    const w = new World(3);
    const [a, b, c] = w.members as [Member, Member, Member];
    const newId = utf8Bytes("the new group");
    w.broadcastProposal(c.group.proposeReInit({ groupId: newId, version: 1, cipherSuite: cs.id, extensions: [] }), c);
    w.commitAndDeliver(a, {});
    for (const m of w.members) {
      const bytes = reload(w, m);
      if (m === a) memberStates.push({ name: "reinit", bytes });
      expect(m.group.reinit?.groupId).toEqual(newId);
      expect(m.group.isActive).toBe(false);
    }
    const kb = createKeyPackage(b.id);
    const kc = createKeyPackage(c.id);
    const created = reinitGroup(a.group, { identity: a.id, keyPackages: [kb.keyPackage, kc.keyPackage] });
    const gb = joinFromWelcome({ cs, welcome: created.welcome, keyPackage: kb.keyPackage, keyPackagePrivate: kb.privateKeys, previousGroup: b.group });
    const gc = joinFromWelcome({ cs, welcome: created.welcome, keyPackage: kc.keyPackage, keyPackagePrivate: kc.privateKeys, previousGroup: c.group });
    for (const g of [gb, gc]) expect(bytesEqual(g.epochAuthenticator, created.group.epochAuthenticator)).toBe(true);
    // And the new group's states round-trip as well.
    const nb = deserializeGroup(P, serializeGroup(created.group));
    expectApplication(gc.process(nb.encrypt(utf8Bytes("new"))), "new", nb.leafIndex);
    memberStates.push({ name: "after reinit", bytes: serializeGroup(gb) });
  });

  it("a PublicGroup with pending proposals processes the commit after a reload", () => {
    const w = new World(4);
    const [a, b, c] = w.members as [Member, Member, Member];
    w.broadcastProposal(b.group.proposeUpdate(), b);
    w.broadcastProposal(w.pub.proposeRemove(0, w.ds.privateKey, c.group.leafIndex).message, undefined, true);
    const bytes = reloadPublic(w);
    expect(w.pub.pendingProposals()).toHaveLength(2);
    const created = a.group.commit();
    w.deliverCommit(a, created, [], { removedNames: [c.id.name] });
    w.check();
    publicStates.push({ name: "with proposals", bytes });
    publicStates.push({ name: "after commit", bytes: serializePublicGroup(w.pub) });
    memberStates.push({ name: "after many", bytes: serializeGroup(a.group) });
  });

  it("many random steps with every member and the DS reloaded each time", () => {
    const w = new World(4);
    const r = new Rand(99);
    for (let i = 0; i < 12; i++) {
      const m = r.pick(w.members);
      switch (r.int(4)) {
        case 0: {
          const j = candidate(w.freshName());
          w.commitAndDeliver(m, { add: [j.keyPackage] }, [j]);
          break;
        }
        case 1:
          if (w.members.length > 3) {
            const t = r.pick(w.others(m));
            w.commitAndDeliver(m, { remove: [t.group.leafIndex] });
          }
          break;
        case 2: {
          const u = r.pick(w.others(m));
          w.broadcastProposal(u.group.proposeUpdate(), u);
          reloadAll(w);
          w.commitAndDeliver(m, {});
          break;
        }
        default:
          w.externalJoin(m);
      }
      reloadAll(w);
      w.check(r);
    }
  });
});

describe("corrupted state", () => {
  const allowed = new Set(["InvalidState", "UnsupportedStateVersion"]);

  const memberOutcome = (bytes: Uint8Array) => outcome(() => deserializeGroup(P, bytes));
  const publicOutcome = (bytes: Uint8Array) => outcome(() => deserializePublicGroup(P, bytes));
  const kinds = [
    { kind: "member", states: memberStates, outcome: memberOutcome },
    { kind: "public", states: publicStates, outcome: publicOutcome },
  ];

  it("collected states of every kind", () => {
    expect(memberStates.length).toBeGreaterThanOrEqual(8);
    expect(publicStates.length).toBeGreaterThanOrEqual(3);
  });

  it("header checks: magic, format version, kind, empty input", () => {
    const m = memberStates[0]!.bytes;
    const badMagic = m.slice();
    badMagic[0] ^= 1;
    expect(mlsCode(() => deserializeGroup(P, badMagic))).toBe("InvalidState");
    const future = m.slice();
    future[5] = STATE_FORMAT_VERSION + 1;
    expect(mlsCode(() => deserializeGroup(P, future))).toBe("UnsupportedStateVersion");
    expect(mlsCode(() => deserializePublicGroup(P, m))).toBe("InvalidState");
    expect(mlsCode(() => deserializeGroup(P, publicStates[0]!.bytes))).toBe("InvalidState");
    expect(mlsCode(() => deserializeGroup(P, new Uint8Array(0)))).toBe("InvalidState");
    expect(mlsCode(() => deserializePublicGroup(P, new Uint8Array(3)))).toBe("InvalidState");
  });

  for (const { kind, states, outcome } of kinds) {
    it(`${kind}: every truncation and every appended byte is InvalidState`, () => {
      fc.assert(
        fc.property(fc.nat(), fc.nat(), (which, cut) => {
          const s = states[which % states.length]!.bytes;
          const n = cut % s.length;
          expect(outcome(s.subarray(0, n))).toBe("InvalidState");
        }),
        { numRuns: runs(300) },
      );
      for (const { bytes } of states) {
        const longer = new Uint8Array(bytes.length + 1);
        longer.set(bytes);
        expect(outcome(longer)).toBe("InvalidState");
        // Near the end every cut is checked.
        for (let n = Math.max(0, bytes.length - 40); n < bytes.length; n++) expect(outcome(bytes.subarray(0, n))).toBe("InvalidState");
      }
    });

    it(`${kind}: random byte corruption gives an MlsError of the state kind (or an undetectable change)`, () => {
      fc.assert(
        fc.property(
          fc.nat(),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constantFrom("xor", "insert", "delete")), { minLength: 1, maxLength: 4 }),
          (which, edits) => {
            const orig = states[which % states.length]!.bytes;
            let s = orig.slice();
            let suiteTouched = false;
            for (const [pos, v, op] of edits) {
              const i = pos % (s.length + (op === "insert" ? 1 : 0));
              if (i <= 8) suiteTouched ||= i >= 7 || op !== "xor";
              if (op === "xor") s[i] = s[i]! ^ v;
              else if (op === "insert") s = Uint8Array.from([...s.subarray(0, i), v, ...s.subarray(i)]);
              else s = Uint8Array.from([...s.subarray(0, i), ...s.subarray(i + 1)]);
            }
            const o = outcome(s);
            if (o === "ok") return;
            // A corrupted suite id may name a suite this provider lacks.
            if (o === "UnsupportedCipherSuite" && suiteTouched) return;
            expect(allowed.has(o), `${o} from corrupted state`).toBe(true);
          },
        ),
        { numRuns: runs(400) },
      );
    });
  }

  it("a reloaded state that decodes after corruption of a secret still fails only with MlsErrors when used", () => {
    // Flip a byte of the signature private key: the state loads, signing then fails or produces bad signatures.
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const bytes = serializeGroup(b.group);
    const hacked = bytes.slice();
    hacked[12] ^= 0x55; // inside the signature private key (after the 9-byte header and its length)
    const g: Group = deserializeGroup(P, hacked, w.options);
    const msg = g.encrypt(utf8Bytes("forged?"));
    expect(mlsCode(() => a.group.process(msg))).toBe("InvalidSignature");
    const pub: PublicGroup = w.pub;
    const prop = g.proposeUpdate();
    expect(mlsCode(() => pub.stage(prop))).toBe("InvalidSignature");
  });
});
