/**
 * A small world for group scenario tests: members with their Group states, a
 * Delivery Service (PublicGroup) that sees every handshake first, removed
 * members' frozen states, and the invariants that must hold after every step.
 */
import { expect } from "vitest";
import {
  basicCredential,
  bytesEqual,
  createGroup,
  createKeyPackage,
  defaultCapabilities,
  encode,
  encodeGroupContext,
  encodeRatchetTree,
  externalSendersExtension,
  joinExternal,
  joinFromWelcome,
  MlsError,
  nativeProvider,
  PublicGroup,
  toHex,
  utf8Bytes,
  type Capabilities,
  type CommitOptions,
  type CommitSummary,
  type CreatedCommit,
  type Credential,
  type Extension,
  type Group,
  type GroupOptions,
  type KeyPackage,
  type KeyPackagePrivate,
  type MLSMessage,
  type MlsErrorCode,
  type PreSharedKeyID,
  type ProcessedMessage,
  type StagedPublicMessage,
} from "../../../mls/node.js";
export { outcome } from "../outcome.js";

export const P = nativeProvider;
export const cs = P.suite(1);
/** A private-use extension type every identity of these tests supports (GroupContextExtensions). */
export const EXT_TYPE = 0xff0a;
export const CAPS: Capabilities = { ...defaultCapabilities([cs.id]), extensions: [EXT_TYPE] };

export interface Identity {
  readonly name: string;
  readonly cs: typeof cs;
  readonly credential: Credential;
  readonly signaturePrivateKey: Uint8Array;
  readonly signaturePublicKey: Uint8Array;
  readonly capabilities: Capabilities;
}

export function identity(name: string): Identity {
  const kp = cs.signature.generateKeyPair();
  return {
    name,
    cs,
    credential: basicCredential(utf8Bytes(name)),
    signaturePrivateKey: kp.privateKey,
    signaturePublicKey: kp.publicKey,
    capabilities: CAPS,
  };
}

export interface Candidate {
  readonly id: Identity;
  readonly keyPackage: KeyPackage;
  readonly privateKeys: KeyPackagePrivate;
}

export function candidate(name: string): Candidate {
  const id = identity(name);
  const { keyPackage, privateKeys } = createKeyPackage(id);
  return { id, keyPackage, privateKeys };
}

/** Two credentials name the same client (resync by external commit, §12.2). */
export function sameClient(a: Credential, b: Credential): boolean {
  return nameOf(a) === nameOf(b);
}

export function nameOf(c: Credential): string {
  return c.type === "basic" ? new TextDecoder().decode(c.identity) : "<x509>";
}

/** Runs `f` and returns the MlsError code; fails the test on success or on any other exception. */
export function mlsCode(f: () => unknown): MlsErrorCode {
  let result: unknown;
  try {
    result = f();
  } catch (e) {
    if (e instanceof MlsError) return e.code;
    throw new Error(`expected an MlsError, got ${String(e)}`, { cause: e });
  }
  throw new Error(`expected an MlsError, call succeeded: ${String(result)}`);
}


/** mulberry32: the deterministic choices of one step, from its seed. */
export class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("pick from empty list");
    return xs[this.int(xs.length)]!;
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  shuffle<T>(xs: readonly T[]): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

export interface Member {
  readonly id: Identity;
  group: Group;
  /** The epoch this member (this state) joined in: the oldest resumption PSK it has. */
  joinEpoch: bigint;
}

export interface RemovedState {
  readonly name: string;
  readonly group: Group;
  readonly epoch: bigint;
}

/** What is expected of a commit, checked once every party processed it. */
export interface Expect {
  readonly removedNames?: readonly string[];
  readonly addedNames?: readonly string[];
}

export class World {
  readonly members: Member[] = [];
  readonly removed: RemovedState[] = [];
  readonly externalPsks = new Map<string, Uint8Array>();
  readonly ds = cs.signature.generateKeyPair();
  pub: PublicGroup;
  private counter = 0;
  private probes = 0;
  /** Number of invariant checks run (one per step). */
  steps = 0;

  readonly options: GroupOptions = {
    resolvePsk: (id: PreSharedKeyID) => (id.pskType === "external" ? this.externalPsks.get(toHex(id.pskId)) : undefined),
    sameClient: sameClient,
  };

  constructor(size: number) {
    const creator = identity(this.freshName());
    const g = createGroup({ ...creator, extensions: [this.externalSendersExt()], options: this.options });
    this.members.push({ id: creator, group: g, joinEpoch: 0n });
    this.pub = PublicGroup.fromGroupInfo(cs, g.groupInfo(), undefined, { sameClient });
    const cands = Array.from({ length: size - 1 }, () => candidate(this.freshName()));
    if (cands.length > 0) this.commitAndDeliver(this.members[0]!, { add: cands.map((c) => c.keyPackage) }, cands);
    this.check();
  }

  freshName(): string {
    return `m${this.counter++}`;
  }

  externalSendersExt(): Extension {
    return externalSendersExtension([{ signatureKey: this.ds.publicKey, credential: basicCredential(utf8Bytes("mls.localhost")) }]);
  }

  get epoch(): bigint {
    return this.pub.epoch;
  }

  byLeaf(leaf: number): Member {
    const m = this.members.find((x) => x.group.leafIndex === leaf);
    if (!m) throw new Error(`no member at leaf ${leaf}`);
    return m;
  }

  others(m: Member): Member[] {
    return this.members.filter((x) => x !== m);
  }

  /** A handshake message from `from` (a member or undefined for the DS / an outsider): DS first, then every other member. */
  broadcastProposal(msg: MLSMessage, from: Member | undefined, dsAlreadyHasIt = false): void {
    if (!dsAlreadyHasIt) {
      const s = this.pub.process(msg);
      expect(s.kind).toBe("proposal");
    }
    for (const m of this.members) {
      if (m === from) continue;
      const r = m.group.process(msg);
      expect(r.kind).toBe("proposal");
    }
  }

  /**
   * Delivers a created commit: the DS accepts it first, the committer merges,
   * everyone else processes it; removed members go to `removed`, added
   * candidates join from the Welcome.
   */
  deliverCommit(
    committer: Member,
    created: CreatedCommit,
    joiners: readonly Candidate[] = [],
    exp: Expect = {},
    dsStaged?: StagedPublicMessage,
  ): CommitSummary {
    const before = new Map(this.members.map((m) => [m.group.leafIndex, m]));
    const staged = dsStaged ?? this.pub.process(created.commit);
    if (staged.kind !== "commit") throw new Error("DS staged a commit as a proposal");
    const dsSummary = staged.summary;
    const summary = committer.group.mergePendingCommit();
    expect(summary.removed).toEqual(dsSummary.removed);
    expect(summary.added).toEqual(dsSummary.added);
    expect(summary.updated).toEqual(dsSummary.updated);
    expect(summary.epoch).toBe(this.pub.epoch);
    this.pub.checkGroupInfo(created.groupInfo);
    const gone = new Set(summary.removed.map((l) => before.get(l)!));
    for (const m of this.members) {
      if (m === committer) continue;
      const r = m.group.process(created.commit);
      if (r.kind !== "commit") throw new Error("member processed a commit as something else");
      expect(r.summary.selfRemoved).toBe(gone.has(m));
      expect(r.summary.removed).toEqual(summary.removed);
      expect(r.summary.added).toEqual(summary.added);
      expect(r.summary.committer).toBe(summary.committer);
      if (gone.has(m)) expect(m.group.isActive).toBe(false);
    }
    for (const m of gone) this.retire(m);
    if (exp.removedNames) expect([...gone].map((m) => m.id.name).sort()).toEqual([...exp.removedNames].sort());
    // New members: by the Welcome.
    expect(summary.added.length).toBe(joiners.length);
    if (joiners.length > 0) {
      expect(created.welcome).toBeDefined();
      for (const j of joiners) {
        const g = joinFromWelcome({ cs, welcome: created.welcome!, keyPackage: j.keyPackage, keyPackagePrivate: j.privateKeys, options: this.options });
        this.members.push({ id: j.id, group: g, joinEpoch: g.epoch });
      }
      const addedNames = summary.added.map((l) => nameOf(this.pub.credentialOf(l)!)).sort();
      expect(addedNames).toEqual(joiners.map((j) => j.id.name).sort());
    } else {
      expect(created.welcome).toBeUndefined();
    }
    if (exp.addedNames) expect(joiners.map((j) => j.id.name).sort()).toEqual([...exp.addedNames].sort());
    return summary;
  }

  commitAndDeliver(committer: Member, o: CommitOptions, joiners: readonly Candidate[] = [], exp: Expect = {}): CommitSummary {
    const created = committer.group.commit(o);
    return this.deliverCommit(committer, created, joiners, exp);
  }

  retire(m: Member): void {
    const i = this.members.indexOf(m);
    if (i >= 0) this.members.splice(i, 1);
    this.removed.push({ name: m.id.name, group: m.group, epoch: m.group.epoch });
    // Only the most recent removed states are probed (they all behave alike).
    if (this.removed.length > 24) this.removed.shift();
  }

  /** An external join (or a resync of `resyncOf`, removing its old leaf) by commit. */
  externalJoin(via: Member, resyncOf?: Member): Member {
    const gi = via.group.groupInfo();
    this.pub.checkGroupInfo(gi);
    const id = resyncOf ? resyncOf.id : identity(this.freshName());
    const { group, commit } = joinExternal({
      ...id,
      groupInfo: gi,
      removeLeaf: resyncOf?.group.leafIndex,
      options: this.options,
    });
    const staged = this.pub.process(commit);
    if (staged.kind !== "commit") throw new Error("external commit staged as proposal");
    expect(staged.summary.external).toBe(true);
    for (const m of this.members) {
      const r = m.group.process(commit);
      if (r.kind !== "commit") throw new Error("not a commit");
      expect(r.summary.external).toBe(true);
      expect(r.summary.committer).toBe(group.leafIndex);
      expect(r.summary.selfRemoved).toBe(m === resyncOf);
    }
    if (resyncOf) this.retire(resyncOf);
    const joined: Member = { id, group, joinEpoch: group.epoch };
    this.members.push(joined);
    return joined;
  }

  /** Application data from `from`, delivered to every other member; returns the message. */
  chat(from: Member, text: string): MLSMessage {
    const msg = from.group.encrypt(utf8Bytes(text));
    for (const m of this.others(from)) expectApplication(m.group.process(msg), text, from.group.leafIndex, undefined, from.id.name);
    return msg;
  }

  /**
   * The invariants after every step: one epoch, authenticator, exporter,
   * GroupContext and tree for all members and the DS; the member list of the
   * DS is the world's; removed members read nothing new and cannot send.
   */
  check(r?: Rand): void {
    this.steps++;
    const pub = this.pub;
    const ctx = encode(encodeGroupContext, pub.groupContext);
    const tree = encode(encodeRatchetTree, pub.ratchetTree());
    const ref = this.members[0]!.group;
    const label = utf8Bytes(`epoch ${pub.epoch}`);
    const exported = ref.exportSecret("scenario", label, 32);
    expect(pub.members().length).toBe(this.members.length);
    for (const m of this.members) {
      const g = m.group;
      expect(g.isActive).toBe(true);
      expect(g.hasPendingCommit).toBe(false);
      expect(g.epoch).toBe(pub.epoch);
      expect(bytesEqual(g.epochAuthenticator, ref.epochAuthenticator)).toBe(true);
      expect(bytesEqual(g.exportSecret("scenario", label, 32), exported)).toBe(true);
      expect(bytesEqual(encode(encodeGroupContext, g.groupContext), ctx)).toBe(true);
      expect(bytesEqual(encode(encodeRatchetTree, g.ratchetTree()), tree)).toBe(true);
      expect(nameOf(pub.credentialOf(g.leafIndex)!)).toBe(m.id.name);
      expect(g.members().map((x) => `${x.leafIndex}:${nameOf(x.credential)}`)).toEqual(
        pub.members().map((x) => `${x.leafIndex}:${nameOf(x.credential)}`),
      );
    }
    // A fresh probe from some member: all read it, no removed state does.
    const sender = r ? r.pick(this.members) : this.members[this.probes % this.members.length]!;
    const text = `probe ${this.probes++}`;
    const msg = sender.group.encrypt(utf8Bytes(text));
    for (const m of this.others(sender)) expectApplication(m.group.process(msg), text, sender.group.leafIndex, pub.epoch, sender.id.name);
    for (const x of this.removed) {
      expect(x.group.isActive).toBe(false);
      expect(x.group.epoch).toBe(x.epoch);
      mlsCode(() => x.group.process(msg));
      expect(mlsCode(() => x.group.encrypt(utf8Bytes("from the grave")))).toBe("GroupInactive");
      expect(mlsCode(() => x.group.commit({ forcePath: true }))).toBe("GroupInactive");
      expect(mlsCode(() => x.group.proposeRemove(0))).toBe("GroupInactive");
    }
  }
}

/** Application data as expected; `senderName` is the credential reported for the sender ("" when unknown). */
export function expectApplication(r: ProcessedMessage, text: string, senderLeaf: number, epoch?: bigint, senderName?: string): void {
  if (r.kind !== "application") throw new Error(`expected application data, got ${r.kind}`);
  expect(new TextDecoder().decode(r.data)).toBe(text);
  expect(r.sender).toBe(senderLeaf);
  if (epoch !== undefined) expect(r.epoch).toBe(epoch);
  if (senderName !== undefined) expect(nameOf(r.credential)).toBe(senderName);
}

/** A fresh external PSK registered with the world. */
export function externalPsk(w: World, r: Rand): PreSharedKeyID {
  const pskId = utf8Bytes(`psk-${w.epoch}-${r.int(1 << 30)}`);
  w.externalPsks.set(toHex(pskId), r.bytes(32));
  return { pskType: "external", pskId, pskNonce: cs.randomBytes(cs.kdf.nh) };
}
