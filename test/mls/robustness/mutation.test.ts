/**
 * Mutated valid messages fed to the receiving entry points: Group.process,
 * PublicGroup.stage/process, joinFromWelcome, joinExternal,
 * PublicGroup.fromGroupInfo and commits/proposals carrying a KeyPackage.
 * Only MlsError comes out, and a rejection leaves the state byte-for-byte
 * unchanged. A member accepts no mutated message at all; the DS (which has no
 * group secrets) may only accept changes of the membership or confirmation tag.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  bytesEqual,
  decode,
  decodeKeyPackage,
  decodeMLSMessage,
  encode,
  encodeFramedContent,
  encodeKeyPackage,
  encodeMLSMessage,
  isMlsError,
  joinExternal,
  joinFromWelcome,
  PublicGroup,
  serializeGroup,
  serializePublicGroup,
  utf8Bytes,
  validateKeyPackage,
  type MLSMessage,
} from "../../../mls/node.js";
import { candidate, cs, externalPsk, identity, Rand, World, type Candidate, type Member } from "../group/harness.js";
import { anyEdits as edits, LIMITS, mutate, runs } from "./mutate.js";

const enc = (m: MLSMessage) => encode(encodeMLSMessage, m, 4096);

/** Decodes mutated bytes; undefined when they do not decode (which must be an MlsError). */
function decodeOrNull(bytes: Uint8Array): MLSMessage | undefined {
  try {
    return decode(decodeMLSMessage, bytes);
  } catch (e) {
    if (!isMlsError(e)) throw e;
    return undefined;
  }
}

/** Runs f expecting an MlsError (rethrowing anything else); returns whether it threw. */
function rejects(f: () => unknown): boolean {
  try {
    f();
    return false;
  } catch (e) {
    if (!isMlsError(e)) throw new Error(`non-MlsError: ${String(e)}`, { cause: e });
    return true;
  }
}

/** Same content and signature: the only parts a DS checks (it has no membership or confirmation key). */
function sameSignedPart(a: MLSMessage, b: MLSMessage): boolean {
  if (a.wireFormat !== "mls_public_message" || b.wireFormat !== "mls_public_message") return false;
  return (
    a.version === b.version &&
    bytesEqual(encode(encodeFramedContent, a.publicMessage.content, 4096), encode(encodeFramedContent, b.publicMessage.content, 4096)) &&
    bytesEqual(a.publicMessage.auth.signature, b.publicMessage.auth.signature)
  );
}

interface Setup {
  w: World;
  a: Member;
  b: Member;
  joiner: Candidate;
  /** Handshakes of the current epoch from a, valid for b and the DS. */
  handshakes: { name: string; bytes: Uint8Array }[];
  application: Uint8Array;
  externalCommit: Uint8Array;
  welcome: Uint8Array;
  groupInfo: Uint8Array;
  keyPackage: Uint8Array;
}

function setup(): Setup {
  const w = new World(5);
  const [a, b] = w.members as [Member, Member];
  const r = new Rand(17);
  const joiner = candidate(w.freshName());
  const handshakes: { name: string; bytes: Uint8Array }[] = [];
  const application = enc(a.group.encrypt(utf8Bytes("mutate me")));
  // Proposals of a; b and the DS get none of them (a mutated one must not be stored either).
  const props: [string, MLSMessage][] = [
    ["update", a.group.proposeUpdate()],
    ["remove", a.group.proposeRemove(3)],
    ["add", a.group.proposeAdd(candidate("p").keyPackage)],
    ["psk", a.group.proposePsk(externalPsk(w, r))],
    ["gce", a.group.proposeGroupContextExtensions([w.externalSendersExt()])],
  ];
  for (const [name, m] of props) handshakes.push({ name: `proposal:${name}`, bytes: enc(m) });
  handshakes.push({ name: "external proposal", bytes: enc(w.pub.externalProposal(0, w.ds.privateKey, { type: "remove", removed: 4 }).message) });
  const created = a.group.commit({ add: [joiner.keyPackage], remove: [2], forcePath: true, includePending: false });
  handshakes.push({ name: "commit", bytes: enc(created.commit) });
  const empty = a.group.commit({ includePending: false });
  handshakes.push({ name: "empty commit", bytes: enc(empty.commit) });
  a.group.clearPendingCommit();
  const stranger = identity("stranger");
  const ext = joinExternal({ ...stranger, groupInfo: a.group.groupInfo(), options: w.options });
  return {
    w,
    a,
    b,
    joiner,
    handshakes,
    application,
    externalCommit: enc(ext.commit),
    welcome: enc(created.welcome!),
    groupInfo: enc(a.group.groupInfo()),
    keyPackage: encode(encodeKeyPackage, candidate("kp").keyPackage),
  };
}

describe("mutated messages at the receiving entry points", () => {
  let s: Setup;
  beforeAll(() => {
    s = setup();
  });

  it("the unmutated messages are accepted (sanity)", () => {
    const t = setup();
    const { b, w } = t;
    for (const h of t.handshakes) {
      const m = decode(decodeMLSMessage, h.bytes);
      w.pub.stage(m);
      // Proposals are stored by b; the commits are checked last (the first one moves b on).
      if (!h.name.includes("commit")) {
        const r = b.group.process(m);
        expect(r.kind).toBe("proposal");
      }
    }
    expect(b.group.process(decode(decodeMLSMessage, t.application)).kind).toBe("application");
    w.pub.stage(decode(decodeMLSMessage, t.externalCommit));
    joinFromWelcome({ cs, welcome: decode(decodeMLSMessage, t.welcome), keyPackage: t.joiner.keyPackage, keyPackagePrivate: t.joiner.privateKeys });
    PublicGroup.fromGroupInfo(cs, decode(decodeMLSMessage, t.groupInfo));
    joinExternal({ ...identity("z"), groupInfo: decode(decodeMLSMessage, t.groupInfo) });
    validateKeyPackage(cs, decode(decodeKeyPackage, t.keyPackage));
    const c = b.group.process(decode(decodeMLSMessage, t.handshakes.find((h) => h.name === "commit")!.bytes));
    expect(c.kind).toBe("commit");
  });

  it("handshakes (proposals, commits, external proposal, external commit) to a member and to the DS", () => {
    const { w, b } = s;
    const items = [...s.handshakes, { name: "external commit", bytes: s.externalCommit }];
    let dsAccepted = 0;
    let decoded = 0;
    fc.assert(
      fc.property(fc.nat(), edits, (which, es) => {
        const item = items[which % items.length]!;
        const bytes = mutate(item.bytes, es);
        if (bytesEqual(bytes, item.bytes)) return;
        const m = decodeOrNull(bytes);
        if (m === undefined) return;
        decoded++;
        const before = serializeGroup(b.group);
        expect(rejects(() => b.group.process(m)), `member accepted a mutated ${item.name}`).toBe(true);
        expect(bytesEqual(serializeGroup(b.group), before)).toBe(true);
        const pubBefore = serializePublicGroup(w.pub);
        if (!rejects(() => w.pub.stage(m))) {
          dsAccepted++;
          expect(sameSignedPart(m, decode(decodeMLSMessage, item.bytes)), `DS accepted a mutated ${item.name}`).toBe(true);
        }
        // process = stage + apply: a rejected process changes nothing either.
        const clone = PublicGroup.fromGroupInfo(cs, s.a.group.groupInfo());
        const cloneBefore = serializePublicGroup(clone);
        if (rejects(() => clone.process(m))) expect(bytesEqual(serializePublicGroup(clone), cloneBefore)).toBe(true);
        expect(bytesEqual(serializePublicGroup(w.pub), pubBefore)).toBe(true);
      }),
      { numRuns: runs(500), ...LIMITS },
    );
    expect(decoded).toBeGreaterThan(50);
    void dsAccepted;
  });

  it("application messages: never accepted when mutated, no key consumed by a rejection", () => {
    const { b, w } = s;
    let reached = 0;
    fc.assert(
      fc.property(edits, (es) => {
        const bytes = mutate(s.application, es);
        if (bytesEqual(bytes, s.application)) return;
        const m = decodeOrNull(bytes);
        if (m === undefined) return;
        reached++;
        const before = serializeGroup(b.group);
        expect(rejects(() => b.group.process(m))).toBe(true);
        expect(bytesEqual(serializeGroup(b.group), before)).toBe(true);
        const pubBefore = serializePublicGroup(w.pub);
        expect(rejects(() => w.pub.stage(m))).toBe(true);
        expect(bytesEqual(serializePublicGroup(w.pub), pubBefore)).toBe(true);
      }),
      { numRuns: runs(300), ...LIMITS },
    );
    expect(reached).toBeGreaterThan(60);
    // After all that, the real message is still readable (its key was not consumed).
    const t = decode(decodeMLSMessage, s.application);
    const r = b.group.process(t);
    expect(r.kind === "application" && new TextDecoder().decode(r.data)).toBe("mutate me");
  });

  it("Welcomes: a mutated single-recipient Welcome never yields a group", () => {
    const { joiner } = s;
    let reached = 0;
    fc.assert(
      fc.property(edits, (es) => {
        const bytes = mutate(s.welcome, es);
        if (bytesEqual(bytes, s.welcome)) return;
        const m = decodeOrNull(bytes);
        if (m === undefined) return;
        reached++;
        expect(rejects(() => joinFromWelcome({ cs, welcome: m, keyPackage: joiner.keyPackage, keyPackagePrivate: joiner.privateKeys }))).toBe(true);
      }),
      { numRuns: runs(250), ...LIMITS },
    );
    expect(reached).toBeGreaterThan(60);
  });

  it("GroupInfos: mutated ones are refused by joinExternal and PublicGroup.fromGroupInfo, and checkGroupInfo", () => {
    const joinerId = identity("ext");
    const { w } = s;
    let reached = 0;
    fc.assert(
      fc.property(edits, (es) => {
        const bytes = mutate(s.groupInfo, es);
        if (bytesEqual(bytes, s.groupInfo)) return;
        const m = decodeOrNull(bytes);
        if (m === undefined) return;
        reached++;
        expect(rejects(() => joinExternal({ ...joinerId, groupInfo: m }))).toBe(true);
        expect(rejects(() => PublicGroup.fromGroupInfo(cs, m))).toBe(true);
        const pubBefore = serializePublicGroup(w.pub);
        expect(rejects(() => w.pub.checkGroupInfo(m))).toBe(true);
        expect(bytesEqual(serializePublicGroup(w.pub), pubBefore)).toBe(true);
      }),
      { numRuns: runs(250), ...LIMITS },
    );
    expect(reached).toBeGreaterThan(60);
  });

  it("KeyPackages: mutated ones fail validation, cannot be committed or proposed, and change nothing", () => {
    const { w, b } = s;
    let reached = 0;
    fc.assert(
      fc.property(edits, (es) => {
        const bytes = mutate(s.keyPackage, es);
        if (bytesEqual(bytes, s.keyPackage)) return;
        let kp;
        try {
          kp = decode(decodeKeyPackage, bytes);
        } catch (e) {
          if (!isMlsError(e)) throw e;
          return;
        }
        reached++;
        expect(rejects(() => validateKeyPackage(cs, kp))).toBe(true);
        const before = serializeGroup(b.group);
        expect(rejects(() => b.group.commit({ add: [kp] }))).toBe(true);
        expect(bytesEqual(serializeGroup(b.group), before)).toBe(true);
        const pubBefore = serializePublicGroup(w.pub);
        expect(rejects(() => w.pub.proposeAdd(0, w.ds.privateKey, kp))).toBe(true);
        expect(bytesEqual(serializePublicGroup(w.pub), pubBefore)).toBe(true);
        // As a member's Add proposal: the receivers refuse it.
        const msg = s.a.group.proposeAdd(kp);
        expect(rejects(() => b.group.process(msg))).toBe(true);
        expect(bytesEqual(serializeGroup(b.group), before)).toBe(true);
        expect(rejects(() => w.pub.stage(msg))).toBe(true);
      }),
      { numRuns: runs(200), ...LIMITS },
    );
    expect(reached).toBeGreaterThan(60);
  });
});
