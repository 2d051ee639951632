/**
 * Well-formed but semantically wrong inputs, each with its expected error
 * code, at a member and at the Delivery Service; every rejection leaves the
 * state byte-for-byte unchanged. Forged messages are built with the
 * library's own framing functions and a member's (or a former member's) keys.
 */
import { describe, expect, it } from "vitest";
import { signContent, withConfirmationTag, membershipTag } from "../../../mls/framing/auth.js";
import { protectPublicMessage } from "../../../mls/framing/public.js";
import {
  bytesEqual,
  createKeyPackage,
  encode,
  encodeKeyPackageTBS,
  signWithLabel,
  joinExternal,
  joinFromWelcome,
  serializeGroup,
  serializePublicGroup,
  signLeafNode,
  utf8Bytes,
  validateKeyPackage,
  type Commit,
  type FramedContent,
  type Group,
  type KeyPackage,
  type MLSMessage,
  type MlsErrorCode,
  type Proposal,
  PublicGroup,
} from "../../../mls/node.js";
import { candidate, cs, externalPsk, identity, mlsCode, Rand, World, type Member } from "../group/harness.js";

/** The MlsError code of `f` at a member, checking its state did not change. */
function memberRejects(g: Group, f: () => unknown): MlsErrorCode {
  const before = serializeGroup(g);
  const code = mlsCode(f);
  expect(bytesEqual(serializeGroup(g), before), `state changed on ${code}`).toBe(true);
  return code;
}

/** The MlsError code of the DS staging and processing `m`, checking its state did not change. */
function dsRejects(pub: PublicGroup, m: MLSMessage): MlsErrorCode {
  const before = serializePublicGroup(pub);
  const code = mlsCode(() => pub.stage(m));
  expect(mlsCode(() => pub.process(m))).toBe(code);
  expect(bytesEqual(serializePublicGroup(pub), before), `DS state changed on ${code}`).toBe(true);
  return code;
}

/** Both reject with the same code. */
function bothReject(w: World, g: Group, m: MLSMessage): MlsErrorCode {
  const code = memberRejects(g, () => g.process(m));
  expect(dsRejects(w.pub, m)).toBe(code);
  return code;
}

/**
 * A PublicMessage signed with `signer`'s key (default: the group member's own), claiming `content`,
 * with a membership tag made from `g`'s membership key (so the tag check passes).
 */
function forge(g: Group, content: FramedContent, o: { signer?: Uint8Array; confirmationTag?: Uint8Array } = {}): MLSMessage {
  const st = g.state;
  const key = o.signer ?? st.signaturePrivateKey;
  let ac = signContent(cs, key, "mls_public_message", content, g.groupContext);
  if (content.contentType === "commit") ac = withConfirmationTag(ac, o.confirmationTag ?? new Uint8Array(32).fill(7));
  const publicMessage = protectPublicMessage(cs, ac, g.groupContext, st.epoch.secrets.membershipKey);
  return { version: 1, wireFormat: "mls_public_message", publicMessage };
}

function framed(g: Group, body: { contentType: "commit"; commit: Commit } | { contentType: "proposal"; proposal: Proposal }, leafIndex = g.leafIndex): FramedContent {
  return { groupId: g.groupId, epoch: g.epoch, sender: { type: "member", leafIndex }, authenticatedData: new Uint8Array(0), ...body };
}

function publicOf(m: MLSMessage) {
  if (m.wireFormat !== "mls_public_message") throw new Error("expected a PublicMessage");
  return m.publicMessage;
}

/** A copy of a public message with its content changed (tags left as they were). */
function withContent(m: MLSMessage, change: Partial<FramedContent>): MLSMessage {
  const pm = publicOf(m);
  return { ...m, wireFormat: "mls_public_message", publicMessage: { ...pm, content: { ...pm.content, ...change } as FramedContent } };
}

describe("semantically wrong messages", () => {
  it("a commit and a proposal from a non-member leaf (a removed member's key, its old leaf now blank)", () => {
    const w = new World(4);
    const [a, b, c] = w.members as [Member, Member, Member];
    const oldLeaf = c.group.leafIndex;
    const cKey = c.group.state.signaturePrivateKey;
    w.commitAndDeliver(a, { remove: [oldLeaf] });
    // c still knows nothing of this epoch; give it the best chance: b's membership key and c's own signature.
    const commit = forge(b.group, framed(b.group, { contentType: "commit", commit: { proposals: [] } }, oldLeaf), { signer: cKey });
    expect(bothReject(w, b.group, commit)).toBe("UnknownSender");
    const prop = forge(b.group, framed(b.group, { contentType: "proposal", proposal: { type: "remove", removed: 0 } }, oldLeaf), { signer: cKey });
    expect(bothReject(w, b.group, prop)).toBe("UnknownSender");
    // A leaf beyond the tree.
    const far = forge(b.group, framed(b.group, { contentType: "commit", commit: { proposals: [] } }, 1000));
    expect(bothReject(w, b.group, far)).toBe("UnknownSender");
    // A member's leaf index with someone else's signature: the signature does not verify.
    const spoof = forge(b.group, framed(b.group, { contentType: "proposal", proposal: { type: "remove", removed: 0 } }, a.group.leafIndex));
    expect(bothReject(w, b.group, spoof)).toBe("InvalidSignature");
    w.check();
  });

  it("wrong epoch (past and future), wrong group id, for handshakes and application messages", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const created = a.group.commit({ forcePath: true });
    a.group.clearPendingCommit();
    expect(bothReject(w, b.group, withContent(created.commit, { epoch: w.epoch + 1n }))).toBe("WrongEpoch");
    expect(bothReject(w, b.group, withContent(created.commit, { epoch: w.epoch - 1n }))).toBe("WrongEpoch");
    expect(bothReject(w, b.group, withContent(created.commit, { groupId: utf8Bytes("another group") }))).toBe("WrongGroup");
    const app = a.group.encrypt(utf8Bytes("x"));
    if (app.wireFormat !== "mls_private_message") throw new Error("expected a PrivateMessage");
    const pm = app.privateMessage;
    expect(memberRejects(b.group, () => b.group.process({ ...app, privateMessage: { ...pm, groupId: utf8Bytes("other") } }))).toBe("WrongGroup");
    expect(memberRejects(b.group, () => b.group.process({ ...app, privateMessage: { ...pm, epoch: pm.epoch + 1n } }))).toBe("WrongEpoch");
    expect(memberRejects(b.group, () => b.group.process({ ...app, privateMessage: { ...pm, epoch: pm.epoch + 5n } }))).toBe("WrongEpoch");
    // The DS only handles PublicMessages.
    expect(dsRejects(w.pub, app)).toBe("WrongWireFormat");
    // Unchanged, it is still fine.
    expect(b.group.process(app).kind).toBe("application");
    w.check();
  });

  it("replays: a commit, an application message, a proposal", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const created = a.group.commit({ forcePath: true });
    w.deliverCommit(a, created);
    expect(bothReject(w, b.group, created.commit)).toBe("WrongEpoch");
    // The committer too refuses its own commit once merged.
    expect(memberRejects(a.group, () => a.group.process(created.commit))).toBe("WrongEpoch");
    const app = a.group.encrypt(utf8Bytes("once"));
    expect(b.group.process(app).kind).toBe("application");
    expect(memberRejects(b.group, () => b.group.process(app))).toBe("KeyReused");
    // A proposal received twice is stored once.
    const p = a.group.proposeRemove(2);
    w.pub.process(p);
    b.group.process(p);
    b.group.process(p);
    w.pub.process(p);
    expect(b.group.pendingProposals()).toHaveLength(1);
    expect(w.pub.pendingProposals()).toHaveLength(1);
  });

  it("a commit referencing a proposal the receiver never got: MissingProposal", () => {
    const w = new World(4);
    const [a, b, c] = w.members as [Member, Member, Member];
    a.group.proposeRemove(3); // not delivered to anyone
    const created = a.group.commit();
    expect(bothReject(w, b.group, created.commit)).toBe("MissingProposal");
    expect(memberRejects(c.group, () => c.group.process(created.commit))).toBe("MissingProposal");
  });

  it("the commit's own pending proposal is missing at the DS but present at members", () => {
    const w = new World(4);
    const [a, b, c] = w.members as [Member, Member, Member];
    const p = b.group.proposeUpdate();
    for (const m of w.others(b)) m.group.process(p);
    void c;
    const created = a.group.commit();
    expect(dsRejects(w.pub, created.commit)).toBe("MissingProposal");
    w.pub.process(p);
    w.deliverCommit(a, created);
    w.check();
  });

  it("an Add of a client already in the group: DuplicateAdd at every stage", () => {
    const w = new World(3);
    const [a, b, c] = w.members as [Member, Member, Member];
    const dup = createKeyPackage(c.id).keyPackage; // c's signature key, fresh encryption keys
    expect(memberRejects(a.group, () => a.group.commit({ add: [dup] }))).toBe("DuplicateAdd");
    expect(dsRejects(w.pub, b.group.proposeAdd(dup))).toBe("DuplicateAdd");
    expect(memberRejects(a.group, () => a.group.process(b.group.proposeAdd(dup)))).toBe("DuplicateAdd");
    const before = serializePublicGroup(w.pub);
    expect(mlsCode(() => w.pub.proposeAdd(0, w.ds.privateKey, dup))).toBe("DuplicateAdd");
    expect(bytesEqual(serializePublicGroup(w.pub), before)).toBe(true);
    // The same new client twice in one commit.
    const x = candidate("x").keyPackage;
    expect(memberRejects(a.group, () => a.group.commit({ add: [x, x] }))).toBe("DuplicateAdd");
    // A forged commit that adds c again (no path needed for Adds): refused before any secret is checked.
    const forged = forge(a.group, framed(a.group, { contentType: "commit", commit: { proposals: [{ type: "proposal", proposal: { type: "add", keyPackage: dup } }] } }));
    expect(bothReject(w, c.group, forged)).toBe("DuplicateAdd");
  });

  it("a Remove of a blank or absent leaf: InvalidProposal at every stage", () => {
    const w = new World(4);
    const [a, b, c] = w.members as [Member, Member, Member];
    const blank = w.members[3]!.group.leafIndex;
    w.commitAndDeliver(a, { remove: [blank] }); // leaf 3 is now blank (the tree may be truncated)
    for (const leaf of [blank, 1000]) {
      expect(memberRejects(a.group, () => a.group.commit({ remove: [leaf] }))).toBe("InvalidProposal");
      expect(bothReject(w, c.group, b.group.proposeRemove(leaf))).toBe("InvalidProposal");
      expect(mlsCode(() => w.pub.proposeRemove(0, w.ds.privateKey, leaf))).toBe("InvalidProposal");
      const forged = forge(a.group, framed(a.group, { contentType: "commit", commit: { proposals: [{ type: "proposal", proposal: { type: "remove", removed: leaf } }] } }));
      expect(bothReject(w, c.group, forged)).toBe("InvalidProposal");
    }
    expect(w.pub.pendingProposals()).toHaveLength(0);
    expect(c.group.pendingProposals()).toHaveLength(0);
  });

  it("an UpdatePath whose leaf carries a wrong parent hash (correctly signed): ParentHashMismatch", () => {
    const w = new World(5);
    const [a, b] = w.members as [Member, Member];
    const created = a.group.commit({ forcePath: true });
    const pm = publicOf(created.commit);
    if (pm.content.contentType !== "commit" || !pm.content.commit.path) throw new Error("expected a commit with path");
    const path = pm.content.commit.path;
    const leaf = path.leafNode;
    if (leaf.leafNodeSource !== "commit") throw new Error("commit leaf");
    const { signature: _sig, ...unsigned } = leaf;
    void _sig;
    const badLeaf = signLeafNode(cs, a.group.state.signaturePrivateKey, { ...unsigned, parentHash: cs.randomBytes(32) }, a.group.groupId, a.group.leafIndex);
    const content = framed(a.group, { contentType: "commit", commit: { ...pm.content.commit, path: { ...path, leafNode: badLeaf } } });
    const forged = forge(a.group, content, { confirmationTag: pm.auth.confirmationTag });
    expect(bothReject(w, b.group, forged)).toBe("ParentHashMismatch");
    // The same with an empty parent hash.
    const emptyLeaf = signLeafNode(cs, a.group.state.signaturePrivateKey, { ...unsigned, parentHash: new Uint8Array(0) }, a.group.groupId, a.group.leafIndex);
    const forged2 = forge(a.group, framed(a.group, { contentType: "commit", commit: { ...pm.content.commit, path: { ...path, leafNode: emptyLeaf } } }));
    expect(bothReject(w, b.group, forged2)).toBe("ParentHashMismatch");
    // The original is fine.
    w.deliverCommit(a, created);
    w.check();
  });

  it("a KeyPackage with a bad signature (of the package, or of its leaf): InvalidSignature everywhere", () => {
    const w = new World(3);
    const [a, b, c] = w.members as [Member, Member, Member];
    const good = candidate("good").keyPackage;
    const sig = good.signature.slice();
    sig[5] ^= 1;
    const badPackage: KeyPackage = { ...good, signature: sig };
    // Only the leaf's signature is wrong: the package itself is correctly signed over the bad leaf.
    const id = identity("leafbad");
    const fresh = createKeyPackage(id).keyPackage;
    const { signature: _s, ...tbs } = fresh;
    void _s;
    const resigned = signKp({ ...tbs, leafNode: { ...fresh.leafNode, signature: flip(fresh.leafNode.signature) } }, id.signaturePrivateKey);
    for (const kp of [badPackage, resigned]) {
      expect(mlsCode(() => validateKeyPackage(cs, kp))).toBe("InvalidSignature");
      expect(memberRejects(a.group, () => a.group.commit({ add: [kp] }))).toBe("InvalidSignature");
      expect(mlsCode(() => w.pub.proposeAdd(0, w.ds.privateKey, kp))).toBe("InvalidSignature");
      expect(bothReject(w, c.group, b.group.proposeAdd(kp))).toBe("InvalidSignature");
    }
  });

  it("application data as a PublicMessage: WrongWireFormat", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const g = a.group;
    const content: FramedContent = {
      groupId: g.groupId,
      epoch: g.epoch,
      sender: { type: "member", leafIndex: g.leafIndex },
      authenticatedData: new Uint8Array(0),
      contentType: "application",
      applicationData: utf8Bytes("in the clear"),
    };
    const ac = signContent(cs, g.state.signaturePrivateKey, "mls_public_message", content, g.groupContext);
    // protectPublicMessage refuses this; build the message by hand, with a valid membership tag.
    expect(mlsCode(() => protectPublicMessage(cs, ac, g.groupContext, g.state.epoch.secrets.membershipKey))).toBe("WrongWireFormat");
    const tag = membershipTag(cs, g.state.epoch.secrets.membershipKey, ac, g.groupContext);
    const m: MLSMessage = { version: 1, wireFormat: "mls_public_message", publicMessage: { content, auth: ac.auth, membershipTag: tag } };
    expect(bothReject(w, b.group, m)).toBe("WrongWireFormat");
  });

  it("wrong tags: a member refuses a bad membership or confirmation tag; the DS (no secrets) cannot tell", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const created = a.group.commit({ forcePath: true });
    const pm = publicOf(created.commit);
    const badMembership: MLSMessage = { ...created.commit, wireFormat: "mls_public_message", publicMessage: { ...pm, membershipTag: flip(pm.membershipTag!) } };
    expect(memberRejects(b.group, () => b.group.process(badMembership))).toBe("InvalidMembershipTag");
    const badConfirmation: MLSMessage = {
      ...created.commit,
      wireFormat: "mls_public_message",
      publicMessage: protectPublicMessage(
        cs,
        { wireFormat: "mls_public_message", content: pm.content, auth: { signature: pm.auth.signature, confirmationTag: flip(pm.auth.confirmationTag!) } },
        a.group.groupContext,
        a.group.state.epoch.secrets.membershipKey,
      ),
    };
    expect(memberRejects(b.group, () => b.group.process(badConfirmation))).toBe("InvalidConfirmationTag");
    expect(w.pub.stage(badMembership).kind).toBe("commit");
    expect(w.pub.stage(badConfirmation).kind).toBe("commit");
    w.deliverCommit(a, created);
    w.check();
  });

  it("proposal lists a committer may not send", () => {
    const w = new World(4);
    const [a, b, c] = w.members as [Member, Member, Member];
    expect(memberRejects(a.group, () => a.group.commit({ remove: [a.group.leafIndex] }))).toBe("InvalidProposalList");
    const selfRemove = forge(a.group, framed(a.group, { contentType: "commit", commit: { proposals: [{ type: "proposal", proposal: { type: "remove", removed: a.group.leafIndex } }] } }));
    expect(bothReject(w, b.group, selfRemove)).toBe("InvalidProposalList");
    // Two removes of one leaf.
    const twice = forge(a.group, framed(a.group, {
      contentType: "commit",
      commit: { proposals: [1, 1].map((l) => ({ type: "proposal" as const, proposal: { type: "remove" as const, removed: l + 1 } })) },
    }));
    expect(bothReject(w, c.group, twice)).toBe("InvalidProposalList");
    // A ReInit with anything else.
    const reinitPlus = forge(a.group, framed(a.group, {
      contentType: "commit",
      commit: {
        proposals: [
          { type: "proposal", proposal: { type: "reinit", groupId: utf8Bytes("n"), version: 1, cipherSuite: cs.id, extensions: [] } },
          { type: "proposal", proposal: { type: "remove", removed: 2 } },
        ],
      },
    }));
    expect(bothReject(w, c.group, reinitPlus)).toBe("InvalidProposalList");
    // An ExternalInit in a member's commit.
    const extInit = forge(a.group, framed(a.group, { contentType: "commit", commit: { proposals: [{ type: "proposal", proposal: { type: "external_init", kemOutput: new Uint8Array(32) } }] } }));
    expect(bothReject(w, c.group, extInit)).toBe("InvalidProposalList");
    // A Remove without the path it requires.
    const noPath = forge(a.group, framed(a.group, { contentType: "commit", commit: { proposals: [{ type: "proposal", proposal: { type: "remove", removed: 2 } }] } }));
    expect(bothReject(w, b.group, noPath)).toBe("MissingPath");
    // An empty commit without path.
    const emptyNoPath = forge(a.group, framed(a.group, { contentType: "commit", commit: { proposals: [] } }));
    expect(bothReject(w, b.group, emptyNoPath)).toBe("MissingPath");
    w.check();
  });

  it("external senders: unknown index, forbidden proposal types, wrong key", () => {
    const w = new World(3);
    const [, b] = w.members as [Member, Member];
    const before = serializePublicGroup(w.pub);
    expect(mlsCode(() => w.pub.externalProposal(1, w.ds.privateKey, { type: "remove", removed: 1 }))).toBe("UnknownSender");
    expect(mlsCode(() => w.pub.externalProposal(0, cs.signature.generateKeyPair().privateKey, { type: "remove", removed: 1 }))).toBe("InvalidKey");
    expect(mlsCode(() => w.pub.externalProposal(0, w.ds.privateKey, { type: "update", leafNode: b.group.ownLeafNode() }))).toBe("InvalidSender");
    expect(bytesEqual(serializePublicGroup(w.pub), before)).toBe(true);
    // A forged external proposal from sender index 3 (absent) reaching a member.
    const content: FramedContent = {
      groupId: b.group.groupId,
      epoch: b.group.epoch,
      sender: { type: "external", senderIndex: 3 },
      authenticatedData: new Uint8Array(0),
      contentType: "proposal",
      proposal: { type: "remove", removed: 0 },
    };
    const ac = signContent(cs, w.ds.privateKey, "mls_public_message", content, undefined);
    const m: MLSMessage = { version: 1, wireFormat: "mls_public_message", publicMessage: protectPublicMessage(cs, ac, undefined, undefined) };
    expect(bothReject(w, b.group, m)).toBe("UnknownSender");
    // Signed by someone else than the DS, as sender 0.
    const ac2 = signContent(cs, cs.signature.generateKeyPair().privateKey, "mls_public_message", { ...content, sender: { type: "external", senderIndex: 0 } }, undefined);
    const m2: MLSMessage = { version: 1, wireFormat: "mls_public_message", publicMessage: protectPublicMessage(cs, ac2, undefined, undefined) };
    expect(bothReject(w, b.group, m2)).toBe("InvalidSignature");
  });

  it("external commits: resync removing another client's leaf, stale GroupInfo", () => {
    const w = new World(3);
    const [a, b, c] = w.members as [Member, Member, Member];
    const gi = a.group.groupInfo();
    const intruder = identity("intruder");
    const { commit } = joinExternal({ ...intruder, groupInfo: gi, removeLeaf: c.group.leafIndex });
    expect(bothReject(w, b.group, commit)).toBe("InvalidExternalCommit");
    // A GroupInfo of a past epoch: its commit is for the wrong epoch.
    w.commitAndDeliver(a, { forcePath: true });
    const late = joinExternal({ ...identity("late"), groupInfo: gi });
    expect(bothReject(w, b.group, late.commit)).toBe("WrongEpoch");
    expect(mlsCode(() => w.pub.checkGroupInfo(gi))).toBe("InvalidGroupInfo");
    w.check();
  });

  it("an MLSMessage envelope with another protocol version: InvalidValue at every entry point", () => {
    const w = new World(3);
    const [a, b] = w.members as [Member, Member];
    const v2 = <T extends MLSMessage>(m: T): T => ({ ...m, version: 2 });
    const j = candidate("j");
    const created = a.group.commit({ add: [j.keyPackage] });
    expect(bothReject(w, b.group, v2(created.commit))).toBe("InvalidValue");
    expect(memberRejects(b.group, () => b.group.process(v2(a.group.encrypt(utf8Bytes("x")))))).toBe("InvalidValue");
    const gi = v2(b.group.groupInfo());
    expect(mlsCode(() => joinExternal({ ...identity("e"), groupInfo: gi }))).toBe("InvalidValue");
    expect(mlsCode(() => PublicGroup.fromGroupInfo(cs, gi))).toBe("InvalidValue");
    expect(mlsCode(() => w.pub.checkGroupInfo(gi))).toBe("InvalidValue");
    expect(mlsCode(() => joinFromWelcome({ cs, welcome: v2(created.welcome!), keyPackage: j.keyPackage, keyPackagePrivate: j.privateKeys }))).toBe(
      "InvalidValue",
    );
    // Version 1 is accepted.
    expect(w.pub.checkGroupInfo(b.group.groupInfo()).signer).toBe(b.group.leafIndex);
    joinFromWelcome({ cs, welcome: created.welcome!, keyPackage: j.keyPackage, keyPackagePrivate: j.privateKeys });
  });

  it("Welcomes: not for this KeyPackage, or without the PSK it needs", () => {
    const w = new World(2);
    const [a] = w.members as [Member];
    const j = candidate("j");
    const other = candidate("other");
    const created = a.group.commit({ add: [j.keyPackage] });
    expect(mlsCode(() => joinFromWelcome({ cs, welcome: created.welcome!, keyPackage: other.keyPackage, keyPackagePrivate: other.privateKeys }))).toBe(
      "NoMatchingKeyPackage",
    );
    // The wrong private keys for the right KeyPackage.
    expect(mlsCode(() => joinFromWelcome({ cs, welcome: created.welcome!, keyPackage: j.keyPackage, keyPackagePrivate: other.privateKeys }))).toBe(
      "DecryptionFailed",
    );
    // A Welcome is not an MLS message a group processes.
    expect(memberRejects(a.group, () => a.group.process(created.welcome!))).toBe("WrongWireFormat");
    // A Welcome whose commit injected an external PSK the joiner does not have.
    const k = candidate("k");
    const withPsk = a.group.commit({ add: [k.keyPackage], psks: [externalPsk(w, new Rand(1))] });
    expect(mlsCode(() => joinFromWelcome({ cs, welcome: withPsk.welcome!, keyPackage: k.keyPackage, keyPackagePrivate: k.privateKeys }))).toBe("MissingPsk");
    joinFromWelcome({ cs, welcome: withPsk.welcome!, keyPackage: k.keyPackage, keyPackagePrivate: k.privateKeys, options: w.options });
    a.group.clearPendingCommit();
  });
});

function flip(b: Uint8Array): Uint8Array {
  const c = b.slice();
  c[0] ^= 1;
  return c;
}

function signKp(tbs: Omit<KeyPackage, "signature">, key: Uint8Array): KeyPackage {
  return { ...tbs, signature: signWithLabel(cs, key, "KeyPackageTBS", encode(encodeKeyPackageTBS, tbs, 1024)) };
}
