/**
 * Model-based scenario tests: groups driven through long random sequences of
 * adds, removes, updates, external joins and resyncs, PSKs, GroupContext
 * extensions, application traffic (out of order and late) and concurrent
 * commits, with a Delivery Service (PublicGroup) that sees every handshake
 * first. The invariants of World.check run after every step.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  branchGroup,
  bytesEqual,
  createKeyPackage,
  deserializeGroup,
  deserializePublicGroup,
  ExtensionType,
  joinFromWelcome,
  reinitGroup,
  requiredCapabilitiesExtension,
  serializeGroup,
  serializePublicGroup,
  utf8Bytes,
  type CommitOptions,
  type Extension,
  type MLSMessage,
  type PreSharedKeyID,
} from "../../../mls/node.js";
import {
  candidate,
  cs,
  expectApplication,
  EXT_TYPE,
  externalPsk,
  identity,
  mlsCode,
  P,
  Rand,
  World,
  type Candidate,
  type Member,
} from "./harness.js";

const MIN = 3;
const MAX = 13;

type Step = (w: World, r: Rand) => void;

interface StepKind {
  readonly name: string;
  readonly weight: number;
  readonly pre: (w: World) => boolean;
  readonly run: Step;
}

const canGrow = (w: World) => w.members.length < MAX;
const canShrink = (w: World) => w.members.length > MIN;
const always = () => true;

/** Removal targets for a committer: anyone but it. */
function target(w: World, r: Rand, not: readonly Member[]): Member {
  return r.pick(w.members.filter((m) => !not.includes(m)));
}

function gceExtensions(w: World, r: Rand): Extension[] {
  const exts: Extension[] = [w.externalSendersExt()];
  const v = r.int(3);
  if (v >= 1) exts.push({ extensionType: EXT_TYPE, extensionData: r.bytes(r.int(20)) });
  if (v === 2) exts.push(requiredCapabilitiesExtension({ extensionTypes: [EXT_TYPE], proposalTypes: [], credentialTypes: [1] }));
  return r.shuffle(exts);
}

function resumptionPsk(w: World, r: Rand): PreSharedKeyID {
  const cur = w.epoch;
  let lo = cur - 7n;
  for (const m of w.members) if (m.joinEpoch > lo) lo = m.joinEpoch;
  const epoch = lo + BigInt(r.int(Number(cur - lo) + 1));
  return { pskType: "resumption", usage: "application", pskGroupId: w.pub.groupId, pskEpoch: epoch, pskNonce: cs.randomBytes(cs.kdf.nh) };
}

const KINDS: StepKind[] = [
  {
    name: "addByValue",
    weight: 4,
    pre: canGrow,
    run: (w, r) => {
      const c = r.pick(w.members);
      const joiners = Array.from({ length: 1 + r.int(Math.min(2, MAX - w.members.length)) }, () => candidate(w.freshName()));
      w.commitAndDeliver(c, { add: joiners.map((j) => j.keyPackage), forcePath: r.bool(0.3) }, joiners);
    },
  },
  {
    name: "addByMemberProposal",
    weight: 3,
    pre: canGrow,
    run: (w, r) => {
      const proposer = r.pick(w.members);
      const committer = r.pick(w.members);
      const j = candidate(w.freshName());
      w.broadcastProposal(proposer.group.proposeAdd(j.keyPackage), proposer);
      w.commitAndDeliver(committer, {}, [j]);
    },
  },
  {
    name: "addByDsProposal",
    weight: 3,
    pre: canGrow,
    run: (w, r) => {
      const j = candidate(w.freshName());
      const { message } = w.pub.proposeAdd(0, w.ds.privateKey, j.keyPackage);
      w.broadcastProposal(message, undefined, true);
      w.commitAndDeliver(r.pick(w.members), {}, [j]);
    },
  },
  {
    name: "removeByValue",
    weight: 3,
    pre: canShrink,
    run: (w, r) => {
      const c = r.pick(w.members);
      const t = target(w, r, [c]);
      w.commitAndDeliver(c, { remove: [t.group.leafIndex] }, [], { removedNames: [t.id.name] });
    },
  },
  {
    name: "removeByMemberProposal",
    weight: 3,
    pre: canShrink,
    run: (w, r) => {
      const t = r.pick(w.members);
      const proposer = r.pick(w.members); // may be the target itself (a self-removal request)
      const c = target(w, r, [t]);
      w.broadcastProposal(proposer.group.proposeRemove(t.group.leafIndex), proposer);
      w.commitAndDeliver(c, { forcePath: r.bool(0.2) }, [], { removedNames: [t.id.name] });
    },
  },
  {
    name: "removeByDsProposal",
    weight: 3,
    pre: canShrink,
    run: (w, r) => {
      const t = r.pick(w.members);
      const { message } = w.pub.proposeRemove(0, w.ds.privateKey, t.group.leafIndex);
      w.broadcastProposal(message, undefined, true);
      w.commitAndDeliver(target(w, r, [t]), {}, [], { removedNames: [t.id.name] });
    },
  },
  {
    name: "update",
    weight: 3,
    pre: (w) => w.members.length >= 2,
    run: (w, r) => {
      const u = r.pick(w.members);
      const c = target(w, r, [u]);
      const oldKey = u.group.ownLeafNode().encryptionKey;
      w.broadcastProposal(u.group.proposeUpdate(), u);
      const s = w.commitAndDeliver(c, {});
      expect(s.updated).toEqual([u.group.leafIndex]);
      expect(s.pathIncluded).toBe(true);
      expect(bytesEqual(u.group.ownLeafNode().encryptionKey, oldKey)).toBe(false);
    },
  },
  {
    name: "emptyCommit",
    weight: 3,
    pre: always,
    run: (w, r) => {
      const c = r.pick(w.members);
      const s = w.commitAndDeliver(c, { forcePath: r.bool(0.7) });
      expect(s.pathIncluded).toBe(true); // an empty commit always carries a path (§12.4)
    },
  },
  {
    name: "externalJoin",
    weight: 2,
    pre: canGrow,
    run: (w, r) => {
      w.externalJoin(r.pick(w.members));
    },
  },
  {
    name: "resync",
    weight: 2,
    pre: (w) => w.members.length >= 2,
    run: (w, r) => {
      const m = r.pick(w.members);
      w.externalJoin(target(w, r, [m]), m);
    },
  },
  {
    name: "externalPsk",
    weight: 2,
    pre: always,
    run: (w, r) => {
      const psk = externalPsk(w, r);
      const c = r.pick(w.members);
      if (r.bool()) {
        const p = r.pick(w.members);
        w.broadcastProposal(p.group.proposePsk(psk), p);
        w.commitAndDeliver(c, { forcePath: r.bool() });
      } else {
        // By value, sometimes with an Add: the joiner needs the PSK too.
        const joiners = canGrow(w) && r.bool() ? [candidate(w.freshName())] : [];
        w.commitAndDeliver(c, { psks: [psk], add: joiners.map((j) => j.keyPackage) }, joiners);
      }
    },
  },
  {
    name: "resumptionPsk",
    weight: 2,
    pre: always,
    run: (w, r) => {
      const psk = resumptionPsk(w, r);
      const c = r.pick(w.members);
      if (r.bool()) {
        const p = r.pick(w.members);
        w.broadcastProposal(p.group.proposePsk(psk), p);
        w.commitAndDeliver(c, {});
      } else {
        w.commitAndDeliver(c, { psks: [psk], forcePath: r.bool() });
      }
    },
  },
  {
    name: "groupContextExtensions",
    weight: 2,
    pre: always,
    run: (w, r) => {
      const exts = gceExtensions(w, r);
      const c = r.pick(w.members);
      const how = r.int(3);
      if (how === 0) {
        w.commitAndDeliver(c, { groupContextExtensions: exts });
      } else if (how === 1) {
        const p = r.pick(w.members);
        w.broadcastProposal(p.group.proposeGroupContextExtensions(exts), p);
        w.commitAndDeliver(c, {});
      } else {
        const { message } = w.pub.externalProposal(0, w.ds.privateKey, { type: "group_context_extensions", extensions: exts });
        w.broadcastProposal(message, undefined, true);
        w.commitAndDeliver(c, {});
      }
      const got = w.pub.groupContext.extensions;
      expect(got.map((e) => e.extensionType)).toEqual(exts.map((e) => e.extensionType));
      expect(got.every((e, i) => bytesEqual(e.extensionData, exts[i]!.extensionData))).toBe(true);
    },
  },
  {
    name: "chatOutOfOrder",
    weight: 4,
    pre: (w) => w.members.length >= 2,
    run: (w, r) => {
      const senders = r.shuffle(w.members).slice(0, 1 + r.int(3));
      const sent: { from: Member; text: string; msg: MLSMessage }[] = [];
      for (const s of senders) {
        for (let k = 0, n = 1 + r.int(5); k < n; k++) {
          const text = `${s.id.name}#${k}@${w.epoch}`;
          sent.push({ from: s, text, msg: s.group.encrypt(utf8Bytes(text)) });
        }
      }
      for (const m of w.members) {
        for (const x of r.shuffle(sent)) {
          if (x.from === m) continue;
          expectApplication(m.group.process(x.msg), x.text, x.from.group.leafIndex, w.epoch, x.from.id.name);
        }
      }
      // Each message is readable once: a replay is refused.
      const x = r.pick(sent);
      const other = w.members.find((m) => m !== x.from)!;
      expect(mlsCode(() => other.group.process(x.msg))).toBe("KeyReused");
    },
  },
  {
    name: "lateMessage",
    weight: 3,
    pre: (w) => w.members.length >= 3,
    run: (w, r) => {
      const s = r.pick(w.members);
      const epoch = w.epoch;
      const text = `late from ${s.id.name}@${epoch}`;
      const msg = s.group.encrypt(utf8Bytes(text));
      const senderLeaf = s.group.leafIndex;
      const early = new Set(r.shuffle(w.others(s)).slice(0, r.int(w.members.length - 1)));
      for (const m of early) expectApplication(m.group.process(msg), text, senderLeaf, epoch, s.id.name);
      const late = w.others(s).filter((m) => !early.has(m));
      // One or two epochs pass (two are retained by default); the commit may remove the sender.
      const commits = 1 + r.int(2);
      for (let i = 0; i < commits; i++) {
        const c = r.pick(w.members);
        const v = r.int(3);
        if (v === 1 && canShrink(w) && w.members.includes(s) && c !== s) {
          w.commitAndDeliver(c, { remove: [s.group.leafIndex] });
        } else if (v === 2 && canShrink(w)) {
          const t = target(w, r, [c, s]);
          if (late.includes(t)) late.splice(late.indexOf(t), 1);
          w.commitAndDeliver(c, { remove: [t.group.leafIndex] });
        } else {
          w.commitAndDeliver(c, { forcePath: true });
        }
      }
      // A departed sender's credential is no longer known (its leaf may even have a new occupant).
      const senderName = w.members.includes(s) ? s.id.name : "";
      for (const m of late) {
        if (!w.members.includes(m)) continue;
        expectApplication(m.group.process(msg), text, senderLeaf, epoch, senderName);
      }
    },
  },
  {
    name: "concurrentCommits",
    weight: 3,
    pre: (w) => w.members.length >= 2,
    run: (w, r) => {
      const [x, y] = r.shuffle(w.members) as [Member, Member];
      type Intent = { kind: "empty" } | { kind: "add"; cand: Candidate } | { kind: "remove"; who: Member };
      const intent = (self: Member): Intent => {
        const v = r.int(3);
        if (v === 1 && canGrow(w) && w.members.length + 2 <= MAX) return { kind: "add", cand: candidate(w.freshName()) };
        if (v === 2 && w.members.length > MIN + 1) return { kind: "remove", who: target(w, r, [self]) };
        return { kind: "empty" };
      };
      const opts = (i: Intent): CommitOptions =>
        i.kind === "add" ? { add: [i.cand.keyPackage] } : i.kind === "remove" ? { remove: [i.who.group.leafIndex] } : { forcePath: true };
      const ix = intent(x);
      const iy = intent(y);
      const cx = x.group.commit(opts(ix));
      const cy = y.group.commit(opts(iy));
      // The DS accepts whichever arrives first and refuses the other (§14).
      const staged = w.pub.process(cx.commit);
      expect(mlsCode(() => w.pub.stage(cy.commit))).toBe("WrongEpoch");
      y.group.clearPendingCommit();
      expect(mlsCode(() => y.group.mergePendingCommit())).toBe("NoPendingCommit");
      w.deliverCommit(x, cx, ix.kind === "add" ? [ix.cand] : [], ix.kind === "remove" ? { removedNames: [ix.who.id.name] } : {}, staged);
      // Nobody accepts the loser's commit any more.
      for (const m of w.members) if (m !== y) expect(mlsCode(() => m.group.process(cy.commit))).toBe("WrongEpoch");
      if (!w.members.includes(y)) return; // the winner removed the loser
      if (iy.kind === "remove" && !w.members.includes(iy.who)) {
        w.commitAndDeliver(y, { forcePath: true });
      } else {
        w.commitAndDeliver(y, opts(iy), iy.kind === "add" ? [iy.cand] : [], iy.kind === "remove" ? { removedNames: [iy.who.id.name] } : {});
      }
    },
  },
  {
    name: "batch",
    weight: 3,
    pre: (w) => w.members.length >= 2,
    run: (w, r) => {
      const c = r.pick(w.members);
      const joiners: Candidate[] = [];
      const targets = new Set<Member>();
      // A joiner cannot have a resumption PSK of an epoch before it joined: never both in one commit.
      let resumption = false;
      for (let k = 0, n = 2 + r.int(4); k < n; k++) {
        const p = r.pick(w.members);
        switch (r.int(7)) {
          case 0:
          case 1: {
            if (resumption || w.members.length + joiners.length - targets.size >= MAX + 1) break;
            const j = candidate(w.freshName());
            joiners.push(j);
            if (r.bool()) w.broadcastProposal(p.group.proposeAdd(j.keyPackage), p);
            else w.broadcastProposal(w.pub.proposeAdd(0, w.ds.privateKey, j.keyPackage).message, undefined, true);
            break;
          }
          case 2: {
            if (w.members.length - targets.size <= MIN) break;
            const t = target(w, r, [c]);
            targets.add(t);
            if (r.bool()) w.broadcastProposal(p.group.proposeRemove(t.group.leafIndex), p);
            else w.broadcastProposal(w.pub.proposeRemove(0, w.ds.privateKey, t.group.leafIndex).message, undefined, true);
            break;
          }
          case 3:
          case 4:
            w.broadcastProposal(p.group.proposeUpdate(), p);
            break;
          case 5: {
            const useResumption = joiners.length === 0 && r.bool();
            resumption ||= useResumption;
            w.broadcastProposal(p.group.proposePsk(useResumption ? resumptionPsk(w, r) : externalPsk(w, r)), p);
            break;
          }
          case 6:
            w.broadcastProposal(p.group.proposeGroupContextExtensions(gceExtensions(w, r)), p);
            break;
        }
      }
      expect(w.pub.pendingProposals().length).toBe(c.group.pendingProposals().length);
      w.commitAndDeliver(c, { forcePath: r.bool(0.2) }, joiners, { removedNames: [...targets].map((t) => t.id.name) });
    },
  },
  {
    name: "reload",
    weight: 2,
    pre: always,
    run: (w, r) => {
      const m = r.pick(w.members);
      const bytes = serializeGroup(m.group);
      m.group = deserializeGroup(P, bytes, w.options);
      expect(bytesEqual(serializeGroup(m.group), bytes)).toBe(true);
      if (r.bool()) {
        const pb = serializePublicGroup(w.pub);
        w.pub = deserializePublicGroup(P, pb, { sameClient: w.options.sameClient });
        expect(bytesEqual(serializePublicGroup(w.pub), pb)).toBe(true);
      }
    },
  },
];

class StepCommand implements fc.Command<World, World> {
  constructor(
    readonly kind: StepKind,
    readonly seed: number,
  ) {}
  check(w: Readonly<World>): boolean {
    return this.kind.pre(w as World);
  }
  run(_m: World, w: World): void {
    const r = new Rand(this.seed);
    this.kind.run(w, r);
    w.check(r);
  }
  toString(): string {
    return `${this.kind.name}(${this.seed})`;
  }
}

const stepArb: fc.Arbitrary<fc.Command<World, World>> = fc.oneof(
  ...KINDS.map((k) => ({ weight: k.weight, arbitrary: fc.integer().map((seed) => new StepCommand(k, seed)) })),
);

const shrink = process.env.MLS_SCENARIO_SHRINK === "1";
const RUNS = Number(process.env.MLS_SCENARIO_RUNS ?? 3);
const SEED = process.env.MLS_SCENARIO_SEED === undefined ? undefined : Number(process.env.MLS_SCENARIO_SEED);

describe("group scenarios", () => {
  it(
    "random sequences of every operation keep members and the DS in agreement",
    () => {
      const used = new Map<string, number>();
      let totalSteps = 0;
      fc.assert(
        fc.property(fc.integer({ min: 3, max: 5 }), fc.array(stepArb, { minLength: 170, maxLength: 230 }), (size, cmds) => {
          const w = new World(size);
          let maxSize = 0;
          fc.modelRun(() => ({ model: w, real: w }), {
            *[Symbol.iterator]() {
              for (const c of cmds) {
                yield c;
                maxSize = Math.max(maxSize, w.members.length);
              }
            },
          });
          for (const c of cmds) {
            const name = (c as StepCommand).kind.name;
            used.set(name, (used.get(name) ?? 0) + 1);
          }
          totalSteps += w.steps;
          expect(w.steps).toBeGreaterThanOrEqual(150);
          expect(maxSize).toBeGreaterThanOrEqual(8);
        }),
        { numRuns: RUNS, endOnFailure: !shrink, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
      // Every kind of step ran.
      for (const k of KINDS) expect(used.get(k.name) ?? 0, k.name).toBeGreaterThan(0);
      expect(totalSteps).toBeGreaterThanOrEqual(150 * RUNS);
    },
    Math.max(120_000, RUNS * 20_000),
  );

  it("a removed member's late handshake and its own old messages are refused", () => {
    const w = new World(4);
    const [a, b, c] = w.members as [Member, Member, Member];
    const pre = b.group.proposeUpdate(); // b's proposal in epoch e
    w.pub.process(pre);
    w.commitAndDeliver(a, { remove: [b.group.leafIndex] }, [], { removedNames: [b.id.name] });
    // The stale proposal of the removed member is for an old epoch.
    expect(mlsCode(() => c.group.process(pre))).toBe("WrongEpoch");
    expect(mlsCode(() => w.pub.stage(pre))).toBe("WrongEpoch");
    w.check();
  });

  it("late messages are readable for exactly maxPastEpochs epochs", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const msgs = [0, 1, 2].map((i) => {
      const m = a.group.encrypt(utf8Bytes(`e${i}`));
      w.commitAndDeliver(a, { forcePath: true });
      return m;
    });
    // b is now 3 epochs past msgs[0], 2 past msgs[1], 1 past msgs[2].
    expect(mlsCode(() => b.group.process(msgs[0]!))).toBe("WrongEpoch");
    expectApplication(b.group.process(msgs[1]!), "e1", a.group.leafIndex, w.epoch - 2n);
    expectApplication(b.group.process(msgs[2]!), "e2", a.group.leafIndex, w.epoch - 1n);
    w.check();
  });

  it("a late message from a member removed at the right edge of the tree (the tree truncates) is still readable", () => {
    const w = new World(5); // leaves 0..4 of an 8-leaf tree
    const [a, b] = w.members as [Member, Member];
    const last = w.byLeaf(4);
    const msg = last.group.encrypt(utf8Bytes("last words"));
    w.commitAndDeliver(a, { remove: [4] }, [], { removedNames: [last.id.name] });
    expect(w.pub.ratchetTree().length).toBeLessThan(9); // truncated to 4 leaves
    expectApplication(b.group.process(msg), "last words", 4, w.epoch - 1n);
    // Also two epochs later, and with a new member in the old leaf's place.
    const msg2 = w.byLeaf(3).group.encrypt(utf8Bytes("from 3"));
    const c3 = w.byLeaf(3);
    const msg3 = c3.group.encrypt(utf8Bytes("again"));
    w.commitAndDeliver(a, { remove: [3] }, [], { removedNames: [c3.id.name] });
    const j = candidate(w.freshName());
    w.commitAndDeliver(b, { add: [j.keyPackage] }, [j]);
    expect(w.byLeaf(3).id.name).toBe(j.id.name);
    // Signed by the old occupant of leaf 3: never attributed to the new one.
    expectApplication(a.group.process(msg2), "from 3", 3, w.epoch - 2n, "");
    expectApplication(b.group.process(msg3), "again", 3, w.epoch - 2n, "");
    // A late message from a sender still in the group keeps its credential.
    const fromB = b.group.encrypt(utf8Bytes("still here"));
    w.commitAndDeliver(a, { forcePath: true });
    expectApplication(a.group.process(fromB), "still here", b.group.leafIndex, w.epoch - 1n, b.id.name);
    w.check();
  });

  it("Remove of the only leaf in the right half plus an Add in one commit: the removed leaf does not come back", () => {
    // The tree truncates from 8 to 4 leaves, then grows back to 8 for the Add.
    const w = new World(7);
    const [a] = w.members as [Member];
    w.commitAndDeliver(a, { remove: [4, 5] });
    const m6 = w.byLeaf(6);
    const j = candidate(w.freshName());
    w.commitAndDeliver(a, { remove: [6], add: [j.keyPackage] }, [j], { removedNames: [m6.id.name] });
    expect(w.pub.members().map((m) => m.leafIndex)).toEqual([0, 1, 2, 3, 4]);
    expect(w.pub.ratchetTree().length).toBe(9);
    w.check();
  });

  it("resync of a member alone at the right edge (truncate, then the joiner's leaf regrows the tree)", () => {
    const w = new World(5);
    const [a] = w.members as [Member];
    const m4 = w.byLeaf(4);
    w.commitAndDeliver(m4, { forcePath: true });
    const again = w.externalJoin(a, m4);
    expect(again.group.leafIndex).toBe(4);
    w.check();
    // And with the removed leaf not first in the cut-off half.
    w.commitAndDeliver(a, { remove: [4] });
    const j = candidate(w.freshName());
    w.commitAndDeliver(a, { add: [j.keyPackage] }, [j]); // leaf 4
    const k = candidate(w.freshName());
    w.commitAndDeliver(a, { add: [k.keyPackage] }, [k]); // leaf 5
    w.commitAndDeliver(a, { remove: [4] });
    const m5 = w.byLeaf(5);
    w.externalJoin(a, m5); // removes leaf 5 (tree 8 -> 4 leaves), takes leaf 4 (4 -> 8)
    expect(w.pub.members().map((m) => m.leafIndex)).toEqual([0, 1, 2, 3, 4]);
    w.check();
  });

  it("branch: two members branch a subgroup with the branch resumption PSK", () => {
    const w = new World(4);
    const r = new Rand(7);
    for (let i = 0; i < 6; i++) KINDS.find((k) => k.name === (i % 2 ? "update" : "emptyCommit"))!.run(w, r);
    const [a, b] = w.members as [Member, Member];
    const bkp = createKeyPackage(b.id);
    const branched = branchGroup(a.group, { identity: a.id, keyPackages: [bkp.keyPackage] });
    const bb = joinFromWelcome({ cs, welcome: branched.welcome, keyPackage: bkp.keyPackage, keyPackagePrivate: bkp.privateKeys, previousGroup: b.group });
    expect(bb.epoch).toBe(1n);
    expect(bytesEqual(bb.epochAuthenticator, branched.group.epochAuthenticator)).toBe(true);
    expect(bytesEqual(bb.groupId, a.group.groupId)).toBe(false);
    expect(bb.members().map((m) => m.credential)).toEqual(branched.group.members().map((m) => m.credential));
    expectApplication(bb.process(branched.group.encrypt(utf8Bytes("branched"))), "branched", branched.group.leafIndex);
    // Without the previous group (and so without its resumption PSK) the Welcome cannot be opened.
    const ckp = createKeyPackage(b.id);
    const again = branchGroup(a.group, { identity: a.id, keyPackages: [ckp.keyPackage] });
    expect(mlsCode(() => joinFromWelcome({ cs, welcome: again.welcome, keyPackage: ckp.keyPackage, keyPackagePrivate: ckp.privateKeys }))).toBe("MissingPsk");
    // A branch member who was not in the old group is refused.
    const outsider = identity("outsider");
    const okp = createKeyPackage(outsider);
    const bad = branchGroup(a.group, { identity: a.id, keyPackages: [okp.keyPackage] });
    expect(
      mlsCode(() => joinFromWelcome({ cs, welcome: bad.welcome, keyPackage: okp.keyPackage, keyPackagePrivate: okp.privateKeys, previousGroup: a.group })),
    ).toBe("InvalidWelcome");
    // The original group goes on.
    w.commitAndDeliver(b, { forcePath: true });
    w.check();
  });

  it("reinit: a ReInit proposal committed by another member, then every member joins the new group", () => {
    const w = new World(5);
    const r = new Rand(11);
    for (let i = 0; i < 4; i++) KINDS.find((k) => k.name === "batch")!.run(w, r);
    w.check();
    const [a, b] = w.members as [Member, Member];
    const newId = cs.randomBytes(16);
    const reinit = { groupId: newId, version: 1, cipherSuite: cs.id, extensions: [w.externalSendersExt()] };
    w.broadcastProposal(b.group.proposeReInit(reinit), b);
    const s = w.commitAndDeliver(a, {});
    expect(s.reinit?.groupId).toEqual(newId);
    for (const m of w.members) {
      expect(m.group.isActive).toBe(false);
      expect(m.group.reinit?.groupId).toEqual(newId);
      expect(mlsCode(() => m.group.encrypt(utf8Bytes("old")))).toBe("GroupInactive");
    }
    const others = w.others(a).map((m) => ({ m, kp: createKeyPackage(m.id) }));
    const created = reinitGroup(a.group, { identity: a.id, keyPackages: others.map((o) => o.kp.keyPackage) });
    expect(bytesEqual(created.group.groupId, newId)).toBe(true);
    expect(created.group.epoch).toBe(1n);
    const joined = others.map((o) =>
      joinFromWelcome({ cs, welcome: created.welcome, keyPackage: o.kp.keyPackage, keyPackagePrivate: o.kp.privateKeys, previousGroup: o.m.group }),
    );
    for (const g of joined) {
      expect(bytesEqual(g.epochAuthenticator, created.group.epochAuthenticator)).toBe(true);
      expect(g.groupContext.extensions.map((e) => e.extensionType)).toEqual([ExtensionType.external_senders]);
    }
    const msg = created.group.encrypt(utf8Bytes("new group"));
    for (const g of joined) expectApplication(g.process(msg), "new group", created.group.leafIndex);
    // A reinit Welcome that leaves an old member out is refused.
    const partial = others.slice(1).map((o) => ({ o, kp: createKeyPackage(o.m.id) }));
    const again = reinitGroup(a.group, { identity: a.id, keyPackages: partial.map((p) => p.kp.keyPackage) });
    const p0 = partial[0]!;
    expect(
      mlsCode(() => joinFromWelcome({ cs, welcome: again.welcome, keyPackage: p0.kp.keyPackage, keyPackagePrivate: p0.kp.privateKeys, previousGroup: p0.o.m.group })),
    ).toBe("InvalidWelcome");
  });
});
