/**
 * Interoperability with ts-mls 2.0 (an independent TypeScript MLS, RFC 9420),
 * in cipher suites 1, 2 and 3, exchanging only serialized bytes: MLSMessage
 * encodings and ratchet trees. ts-mls is driven through ./ts-mls-adapter.ts.
 *
 * Divergences of ts-mls 2.0.0-rc.10 from RFC 9420, each pinned by a test
 * below (when ts-mls fixes one, its pin fails: then test the real thing):
 *
 *  D1. Missing UpdatePath. ts-mls populates `path` only for an empty commit or
 *      one covering more than one Update / more than one Remove, so a commit of
 *      a single Update or a single Remove has none. §12.4: "By default, the
 *      path field of a Commit MUST be populated. The path field MAY be omitted
 *      if (a) it covers at least one proposal and (b) none of the proposals
 *      covered by the Commit are of 'path required' types" — only add, psk and
 *      reinit are not. We reject such commits (MissingPath), as §12.4.2
 *      requires. Workaround here: ts-mls removes two members at once.
 *  D2. UpdatePath encrypted to stale keys. When ts-mls commits Update
 *      proposals with a path, it encrypts the path secrets to the copath
 *      resolution's keys taken from the tree BEFORE the proposals were applied
 *      (updatePath.ts: "we have to pass the old tree here"), i.e. to the
 *      updated members' old leaf keys. §12.4.1 creates the UpdatePath on the
 *      new tree ("applying the list of proposals to the old ratchet tree", then
 *      "Update the sender's direct path"), and §7.5 encrypts to the resolution
 *      nodes' current keys. Updated members cannot decrypt (DecryptionFailed):
 *      an Update proposal of ours can never be committed by ts-mls.
 *  D3. No Update proposals. ts-mls has no API to build an Update proposal's
 *      LeafNode (source `update`) and keep its key; "a ts-mls Update proposal
 *      committed by us" cannot be tested.
 *  D4. external_senders. ts-mls encodes the extension as ONE ExternalSender and
 *      indexes senders by counting external_senders extensions (duplicate
 *      extension types, forbidden by §13.4); §12.1.8.1 defines
 *      `ExternalSender external_senders<V>`. ts-mls cannot decode a Welcome or
 *      GroupInfo of a group with a conformant external_senders extension, so
 *      external proposals of an external_senders DS (our PublicGroup) cannot
 *      reach a ts-mls member at all (scenario 4 is blocked). new_member_proposal
 *      external proposals (no extension needed) interoperate.
 *      Still, a group ts-mls creates (with its own encoding of our DS key) accepts
 *      external Adds and Removes signed by this library (signExternalProposal):
 *      ts-mls members commit them (test "external proposals from this library...").
 *  D5. external_pub. ts-mls writes and reads the extension_data as the bare
 *      HPKE public key; §12.4.3.2 defines `struct { HPKEPublicKey external_pub; }
 *      ExternalPub` with `opaque HPKEPublicKey<V>` (§5.1.1), i.e. length-prefixed.
 *      External commits fail in both directions on unmodified GroupInfos. The
 *      test transcodes the extension (re-signing the GroupInfo with the
 *      signer's key, which the test holds) to show the rest of the external
 *      join protocol interoperates.
 *  D6. ECDSA public keys. ts-mls's P-256 keygen returns a 33-byte COMPRESSED
 *      point; §5.1.1: "the public key is represented as an encoded
 *      UncompressedPointRepresentation struct". We cannot verify its
 *      KeyPackages (InvalidSignature). The adapter generates conformant keys by default.
 *  D7. Removal with a path. A removed ts-mls member cannot process the commit
 *      that removes it when it carries an UpdatePath (always, per §12.4): it
 *      looks for a path ciphertext it can decrypt, finds none (correctly: the
 *      committer must not encrypt to it) and throws InternalError "No overlap
 *      between provided private keys and update path" instead of concluding it
 *      was removed. When the removal shrinks the tree, it instead grows an array
 *      until V8 aborts the whole process, so the test gives a removed ts-mls
 *      member the commit only where the tree keeps its size.
 *
 * No divergence required a change of our library.
 *
 * Scenarios (per suite): Welcome joins both ways (our Welcome with the tree
 * in its extension; ts-mls's without, the tree sent as bytes), application
 * messages every way, adds/path updates/removes committed by each side as
 * PublicMessage and PrivateMessage, proposals of one side committed by the
 * other, new_member_proposal, external commits both ways; after every step
 * all members agree on epoch, epoch_authenticator and an exporter secret.
 */
import { describe, expect, it } from "vitest";
import {
  basicCredential,
  createGroup,
  createKeyPackage,
  decode,
  decodeMLSMessage,
  decodeRatchetTree,
  decryptWithLabel,
  encode,
  encodeGroupContext,
  encodeGroupInfoTBS,
  encodeMLSMessage,
  encodeRatchetTree,
  ExtensionType,
  externalPubExtension,
  externalSendersExtension,
  signExternalProposal,
  joinExternal,
  joinFromWelcome,
  MlsError,
  nativeProvider,
  PROTOCOL_VERSION_MLS10,
  readExternalPub,
  readExternalSenders,
  signWithLabel,
  utf8Bytes,
  type CipherSuite,
  type Extension,
  type Group,
  type GroupOptions,
  type KeyPackage,
  type KeyPackagePrivate,
  type MLSMessage,
  type ProcessedMessage,
} from "../../mls/node.js";
import { TsClient, TsMember } from "./ts-mls-adapter.js";

// ---------------------------------------------------------------- our side, as bytes

interface Ours {
  readonly cs: CipherSuite;
  readonly identity: {
    readonly cs: CipherSuite;
    readonly credential: ReturnType<typeof basicCredential>;
    readonly signaturePrivateKey: Uint8Array;
    readonly signaturePublicKey: Uint8Array;
  };
}

function ours(cs: CipherSuite, name: string): Ours {
  const sig = cs.signature.generateKeyPair();
  return {
    cs,
    identity: { cs, credential: basicCredential(utf8Bytes(name)), signaturePrivateKey: sig.privateKey, signaturePublicKey: sig.publicKey },
  };
}

function toBytes(m: MLSMessage): Uint8Array {
  return encode(encodeMLSMessage, m);
}

function fromBytes(b: Uint8Array): MLSMessage {
  return decode(decodeMLSMessage, b);
}

/** Our KeyPackage as MLSMessage bytes, plus what joining needs. */
function ourKeyPackage(o: Ours): { bytes: Uint8Array; keyPackage: KeyPackage; privateKeys: KeyPackagePrivate } {
  const { keyPackage, privateKeys } = createKeyPackage(o.identity);
  return { bytes: toBytes({ version: PROTOCOL_VERSION_MLS10, wireFormat: "mls_key_package", keyPackage }), keyPackage, privateKeys };
}

function keyPackageFrom(bytes: Uint8Array): KeyPackage {
  const m = fromBytes(bytes);
  if (m.wireFormat !== "mls_key_package") throw new Error(`expected a KeyPackage, got ${m.wireFormat}`);
  return m.keyPackage;
}

function ourJoin(
  o: Ours,
  kp: { keyPackage: KeyPackage; privateKeys: KeyPackagePrivate },
  welcome: Uint8Array,
  tree?: Uint8Array,
  options?: GroupOptions,
): Group {
  return joinFromWelcome({
    cs: o.cs,
    welcome: fromBytes(welcome),
    keyPackage: kp.keyPackage,
    keyPackagePrivate: kp.privateKeys,
    ratchetTree: tree && decode(decodeRatchetTree, tree),
    options,
  });
}

function ourProcess(g: Group, bytes: Uint8Array): ProcessedMessage {
  return g.process(fromBytes(bytes));
}

/** Commits and merges at once (as if the DS accepted it). */
function ourCommit(g: Group, o: Parameters<Group["commit"]>[0] = {}): { commit: Uint8Array; welcome?: Uint8Array } {
  const c = g.commit(o);
  g.mergePendingCommit();
  return { commit: toBytes(c.commit), ...(c.welcome ? { welcome: toBytes(c.welcome) } : {}) };
}

function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MlsError) return e.code;
    throw e;
  }
  throw new Error("expected an MlsError, nothing was thrown");
}

// ---------------------------------------------------------------- both sides

type Member = Group | TsMember;

function isOurs(m: Member): m is Group {
  return !(m instanceof TsMember);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** All in the same epoch, with equal epoch_authenticator (§8.7) and MLS-Exporter output (§8.5). */
async function expectAgreement(members: readonly Member[]): Promise<void> {
  const view = async (m: Member) => ({
    epoch: m.epoch,
    epochAuthenticator: hex(m.epochAuthenticator),
    exported: hex(isOurs(m) ? m.exportSecret("interop", utf8Bytes("ctx"), 32) : await m.exportSecret("interop", utf8Bytes("ctx"), 32)),
  });
  const views = await Promise.all(members.map(view));
  for (const v of views.slice(1)) expect(v).toEqual(views[0]);
}

/** Each member sends an application message; every other member decrypts it. */
async function expectMessaging(members: readonly Member[]): Promise<void> {
  for (const [i, sender] of members.entries()) {
    const msg = `from member ${i} in epoch ${sender.epoch}`;
    const bytes = isOurs(sender) ? toBytes(sender.encrypt(utf8Bytes(msg))) : await sender.encrypt(utf8Bytes(msg));
    for (const r of members) {
      if (r === sender) continue;
      const out = isOurs(r) ? ourProcess(r, bytes) : await r.process(bytes);
      expect(out.kind).toBe("application");
      if (out.kind === "application") expect(text(out.data)).toBe(msg);
    }
  }
}

/** Delivers handshake bytes (proposal or commit) to each member. */
async function deliver(bytes: Uint8Array, to: readonly Member[]): Promise<void> {
  for (const m of to) {
    if (isOurs(m)) ourProcess(m, bytes);
    else await m.process(bytes);
  }
}

/**
 * Lets ts-mls member `m` commit, checks our `receivers` reject the commit with
 * `code`, and discards it (ts-mls state is immutable: the old one is restored).
 * PublicMessage, so a retry does not reuse a handshake-ratchet nonce.
 */
async function expectTsCommitRejected(m: TsMember, remove: number[], receivers: readonly Group[], code: string): Promise<void> {
  const saved = m.state;
  const { commit } = await m.commit({ remove, publicMessage: true });
  for (const r of receivers) expect(errorCode(() => ourProcess(r, commit))).toBe(code);
  m.state = saved;
}

/**
 * D5 workaround: re-encodes a GroupInfo's external_pub between the RFC form
 * (ExternalPub struct, length-prefixed key) and ts-mls's (bare key), and
 * re-signs the GroupInfo with the signer's key.
 */
function transcodeExternalPub(cs: CipherSuite, infoBytes: Uint8Array, signerKey: Uint8Array, to: "ts-mls" | "rfc"): Uint8Array {
  const m = fromBytes(infoBytes);
  if (m.wireFormat !== "mls_group_info") throw new Error("not a GroupInfo");
  const info = m.groupInfo;
  const extensions: Extension[] = info.extensions.map((e) => {
    if (e.extensionType !== ExtensionType.external_pub) return e;
    return to === "ts-mls"
      ? { extensionType: e.extensionType, extensionData: readExternalPub([e])! }
      : externalPubExtension(e.extensionData);
  });
  const tbs = { groupContext: info.groupContext, extensions, confirmationTag: info.confirmationTag, signer: info.signer };
  const signature = signWithLabel(cs, signerKey, "GroupInfoTBS", encode(encodeGroupInfoTBS, tbs));
  return toBytes({ ...m, groupInfo: { ...tbs, signature } });
}

// ---------------------------------------------------------------- scenarios

describe.each([1, 2, 3])("ts-mls interop, cipher suite %i", (suite) => {
  const cs = nativeProvider.suite(suite);

  it("our group adds ts-mls clients by Welcome; adds, updates, removes and messages both ways", async () => {
    const alice = ours(cs, "alice");
    const a = createGroup({ ...alice.identity });

    // Ours adds a ts-mls client; our Welcome carries the ratchet tree.
    const bob = await TsClient.create(suite, "bob");
    const bobKp = await bob.keyPackage();
    const c1 = ourCommit(a, { add: [keyPackageFrom(bobKp.bytes)] });
    const b = await bob.joinFromWelcome(c1.welcome!, bobKp);
    expect([b.epoch, b.leafIndex, b.memberCount]).toEqual([1n, 1, 2]);
    await expectAgreement([a, b]);
    await expectMessaging([a, b]);

    // ts-mls adds one of ours: PrivateMessage commit, Welcome without the tree (sent as bytes).
    const carol = ours(cs, "carol");
    const carolKp = ourKeyPackage(carol);
    const c2 = await b.commit({ add: [carolKp.bytes] });
    expect(fromBytes(c2.commit).wireFormat).toBe("mls_private_message");
    ourProcess(a, c2.commit);
    const c = ourJoin(carol, carolKp, c2.welcome!, b.ratchetTreeBytes(), { handshakeWireFormat: "private" });
    await expectAgreement([a, b, c]);

    // Ours (sending PrivateMessage handshakes) adds a ts-mls client.
    const dave = await TsClient.create(suite, "dave");
    const daveKp = await dave.keyPackage();
    const c3 = ourCommit(c, { add: [keyPackageFrom(daveKp.bytes)] });
    expect(fromBytes(c3.commit).wireFormat).toBe("mls_private_message");
    await deliver(c3.commit, [a, b]);
    const d = await dave.joinFromWelcome(c3.welcome!, daveKp);
    const all: Member[] = [a, b, c, d];
    await expectAgreement(all);
    await expectMessaging(all);

    // ts-mls adds a ts-mls client by PublicMessage commit, tree in the Welcome.
    const erin = await TsClient.create(suite, "erin");
    const erinKp = await erin.keyPackage();
    const c4 = await b.commit({ add: [erinKp.bytes], publicMessage: true, ratchetTreeExtension: true });
    expect(fromBytes(c4.commit).wireFormat).toBe("mls_public_message");
    await deliver(c4.commit, [a, c, d]);
    const e = await erin.joinFromWelcome(c4.welcome!, erinKp);
    all.push(e);
    await expectAgreement(all);

    // Full-path updates (empty commits) from each side.
    await deliver(ourCommit(a, { forcePath: true }).commit, [b, c, d, e]);
    await expectAgreement(all);
    await deliver((await b.commit()).commit, [a, c, d, e]);
    await expectAgreement(all);
    await deliver(ourCommit(c, { forcePath: true }).commit, [a, b, d, e]);
    await deliver((await e.commit({ publicMessage: true })).commit, [a, b, c, d]);
    await expectAgreement(all);
    await expectMessaging(all);

    // An Update proposal of ours, committed by ours; ts-mls members follow.
    await deliver(toBytes(a.proposeUpdate()), [b, c, d, e]);
    await deliver(ourCommit(c).commit, [a, b, d, e]);
    await expectAgreement(all);

    // Update proposals of ours committed by ts-mls: D1 (one Update, no path), D2 (two, stale keys).
    await deliver(toBytes(c.proposeUpdate()), [a, b, d, e]);
    let saved = b.state;
    const onlyUpdate = await b.commit({ publicMessage: true });
    expect(errorCode(() => ourProcess(a, onlyUpdate.commit))).toBe("MissingPath");
    expect(errorCode(() => ourProcess(c, onlyUpdate.commit))).toBe("MissingPath");
    b.state = saved;
    await deliver(toBytes(a.proposeUpdate()), [b, c, d, e]);
    saved = b.state;
    const twoUpdates = await b.commit({ publicMessage: true });
    // Its path is there, but encrypted to a's and c's keys from before their Updates.
    expect(errorCode(() => ourProcess(a, twoUpdates.commit))).toBe("DecryptionFailed");
    expect(errorCode(() => ourProcess(c, twoUpdates.commit))).toBe("DecryptionFailed");
    b.state = saved;
    // Ours commits instead (c's Update by reference; a's own is dropped, §12.2).
    await deliver(ourCommit(a).commit, [b, c, d, e]);
    await expectAgreement(all);
    await expectMessaging(all);

    // Ours removes a ts-mls member.
    const c8 = ourCommit(a, { remove: [d.leafIndex] });
    await deliver(c8.commit, [b, c, e]);
    // D7: the removed ts-mls member cannot process it: none of the path's ciphertexts is for it,
    // as §12.4 intends, and ts-mls then fails instead of concluding it was removed.
    await expect(d.process(c8.commit)).rejects.toThrow(/No overlap between provided private keys and update path/);
    all.splice(all.indexOf(d), 1);
    await expectAgreement(all);

    // ts-mls removes: one member only (D1: no path, rejected), then two (path included).
    await expectTsCommitRejected(b, [c.leafIndex], [a, c], "MissingPath");
    const c9 = await b.commit({ remove: [c.leafIndex, e.leafIndex] });
    ourProcess(a, c9.commit);
    expect(ourProcess(c, c9.commit)).toMatchObject({ kind: "commit", summary: { selfRemoved: true } });
    expect(c.isActive).toBe(false);
    // (erin, removed, is not given c9: D7, and as the tree shrinks to two leaves ts-mls
    // would not even throw but grow an array until V8 aborts the process.)
    await expectAgreement([a, b]);
    await expectMessaging([a, b]);

    // A ts-mls Remove proposal (PublicMessage) committed by ours.
    const fred = ours(cs, "fred");
    const fredKp = ourKeyPackage(fred);
    const c10 = ourCommit(a, { add: [fredKp.keyPackage] });
    await b.process(c10.commit);
    const f = ourJoin(fred, fredKp, c10.welcome!);
    await expectAgreement([a, b, f]);
    await deliver(await b.proposeRemove(f.leafIndex, { publicMessage: true }), [a, f]);
    const c11 = ourCommit(a);
    await b.process(c11.commit);
    expect(ourProcess(f, c11.commit)).toMatchObject({ kind: "commit", summary: { selfRemoved: true, removed: [2] } });
    expect([a.members().length, b.memberCount]).toEqual([2, 2]);
    await expectAgreement([a, b]);
    await expectMessaging([a, b]);
  });

  it("a ts-mls group adds our clients by Welcome; adds, updates, removes and messages both ways", async () => {
    const bob = await TsClient.create(suite, "bob");
    const b = await bob.createGroup(utf8Bytes(`ts-mls group, suite ${suite}`));

    // ts-mls adds one of ours; its Welcome has no ratchet_tree extension by default.
    const alice = ours(cs, "alice");
    const aliceKp = ourKeyPackage(alice);
    const c1 = await b.commit({ add: [aliceKp.bytes] });
    expect(errorCode(() => ourJoin(alice, aliceKp, c1.welcome!))).toBe("MissingRatchetTree");
    const a = ourJoin(alice, aliceKp, c1.welcome!, b.ratchetTreeBytes());
    await expectAgreement([b, a]);
    await expectMessaging([b, a]);

    // Ours adds a ts-mls client and one of ours in one commit (one Welcome for both).
    const carol = await TsClient.create(suite, "carol");
    const carolKp = await carol.keyPackage();
    const dave = ours(cs, "dave");
    const daveKp = ourKeyPackage(dave);
    const c2 = ourCommit(a, { add: [keyPackageFrom(carolKp.bytes), daveKp.keyPackage] });
    await b.process(c2.commit);
    const c = await carol.joinFromWelcome(c2.welcome!, carolKp);
    const d = ourJoin(dave, daveKp, c2.welcome!, undefined, { handshakeWireFormat: "private" });
    const all: Member[] = [b, a, c, d];
    await expectAgreement(all);
    await expectMessaging(all);

    // Path updates from each side.
    await deliver((await c.commit()).commit, [b, a, d]);
    await expectAgreement(all);
    await deliver(ourCommit(d, { forcePath: true }).commit, [b, a, c]);
    await expectAgreement(all);

    // Update proposals of ours: ts-mls's commit of them is unusable (D2); ours commits them.
    await deliver(toBytes(a.proposeUpdate()), [b, c, d]);
    await deliver(toBytes(d.proposeUpdate()), [b, a, c]);
    const saved = b.state;
    const twoUpdates = await b.commit({ publicMessage: true });
    expect(errorCode(() => ourProcess(a, twoUpdates.commit))).toBe("DecryptionFailed");
    expect(errorCode(() => ourProcess(d, twoUpdates.commit))).toBe("DecryptionFailed");
    // Why: the path secret for alice (b's copath at node 1 is alice's leaf) opens with alice's
    // leaf key from BEFORE her Update, not with the key her Update proposal installed.
    const sent = fromBytes(twoUpdates.commit);
    if (sent.wireFormat !== "mls_public_message" || sent.publicMessage.content.contentType !== "commit") throw new Error("not a commit");
    const forAlice = sent.publicMessage.content.commit.path!.nodes[0]!.encryptedPathSecret[0]!;
    const provisional = encode(encodeGroupContext, { ...a.groupContext, epoch: a.epoch + 1n, treeHash: b.state.groupContext.treeHash });
    const open = (key: Uint8Array) => decryptWithLabel(cs, key, "UpdatePathNode", provisional, forAlice.kemOutput, forAlice.ciphertext);
    const [aliceUpdateKey] = [...a.state.ownUpdates.values()];
    expect(() => open(aliceUpdateKey!.privateKey)).toThrow(MlsError);
    expect(open(a.state.epoch.keys.get(a.leafIndex * 2)!.privateKey)).toHaveLength(cs.kdf.nh);
    b.state = saved;
    await deliver(ourCommit(d).commit, [b, a, c]);
    await expectAgreement(all);
    await expectMessaging(all);

    // A ts-mls Add proposal (PrivateMessage) committed by ours.
    const erin = await TsClient.create(suite, "erin");
    const erinKp = await erin.keyPackage();
    await deliver(await c.proposeAdd(erinKp.bytes), [b, a, d]);
    const c5 = ourCommit(a);
    await deliver(c5.commit, [b, c, d]);
    const e = await erin.joinFromWelcome(c5.welcome!, erinKp);
    all.push(e);
    await expectAgreement(all);

    // Ours removes a ts-mls member.
    const c6 = ourCommit(d, { remove: [c.leafIndex] });
    await deliver(c6.commit, [b, a, e]);
    await expect(c.process(c6.commit)).rejects.toThrow(/No overlap/); // D7
    all.splice(all.indexOf(c), 1);
    await expectAgreement(all);

    // ts-mls removes one of ours and a ts-mls member (two Removes, so with a path; D1).
    await expectTsCommitRejected(b, [d.leafIndex], [a, d], "MissingPath");
    const c7 = await b.commit({ remove: [d.leafIndex, e.leafIndex] });
    ourProcess(a, c7.commit);
    expect(ourProcess(d, c7.commit)).toMatchObject({ kind: "commit", summary: { selfRemoved: true } });
    // (erin, removed, is not given c7: D7.)
    await expectAgreement([b, a]);
    await expectMessaging([b, a]);
  });

  it("external proposals from our external_senders DS cannot reach ts-mls (D4)", async () => {
    const ds = cs.signature.generateKeyPair();
    const dsCredential = basicCredential(utf8Bytes("ds"));
    const alice = ours(cs, "alice");
    const a = createGroup({ ...alice.identity, extensions: [externalSendersExtension([{ signatureKey: ds.publicKey, credential: dsCredential }])] });
    const bob = await TsClient.create(suite, "bob");
    const bobKp = await bob.keyPackage();
    const c1 = ourCommit(a, { add: [keyPackageFrom(bobKp.bytes)] });
    // ts-mls reads external_senders as a single ExternalSender: the GroupInfo does not decode.
    await expect(bob.joinFromWelcome(c1.welcome!, bobKp)).rejects.toThrow(/could not decode group info/i);
    // Nor does a GroupInfo of the group decode (for an external joiner, or a ts-mls-based DS).
    const info0 = transcodeExternalPub(cs, toBytes(a.groupInfo()), alice.identity.signaturePrivateKey, "ts-mls");
    await expect(bob.joinExternal(info0)).rejects.toThrow(/could not decode the MLSMessage/);

    // The other way: what ts-mls writes is not an `ExternalSender external_senders<V>`.
    const tom = await TsClient.create(suite, "tom");
    const t = await tom.createGroup(utf8Bytes("g"), [
      { extensionType: 5, extensionData: { signaturePublicKey: ds.publicKey, credential: { credentialType: 1, identity: utf8Bytes("ds") } } },
    ]);
    const info = fromBytes(await t.groupInfo());
    if (info.wireFormat !== "mls_group_info") throw new Error("not a GroupInfo");
    const tsExtension = info.groupInfo.groupContext.extensions.find((x) => x.extensionType === ExtensionType.external_senders)!;
    const rfcExtension = externalSendersExtension([{ signatureKey: ds.publicKey, credential: dsCredential }]);
    // Same ExternalSender, without the vector's length prefix.
    expect(hex(rfcExtension.extensionData)).toBe(hex(encode((w, x: Uint8Array) => w.opaque(x), tsExtension.extensionData)));
    expect(() => readExternalSenders([tsExtension])).toThrow(MlsError);
  });

  it("external proposals from this library's external sender are committed by ts-mls members (in ts-mls's D4 encoding)", async () => {
    // ts-mls only reads its own (non-conformant, D4) external_senders encoding, so the group is
    // created by ts-mls with our DS key in it; our external sender signs with signExternalProposal
    // (it needs only the GroupContext, which it takes from the group's GroupInfo).
    const ds = cs.signature.generateKeyPair();
    const tom = await TsClient.create(suite, "tom");
    const t = await tom.createGroup(utf8Bytes("external-proposals"), [
      { extensionType: 5, extensionData: { signaturePublicKey: ds.publicKey, credential: { credentialType: 1, identity: utf8Bytes("ds") } } },
    ]);
    const contextOf = async (m: TsMember) => {
      const info = fromBytes(await m.groupInfo());
      if (info.wireFormat !== "mls_group_info") throw new Error("not a GroupInfo");
      return info.groupInfo.groupContext;
    };
    const uma = await TsClient.create(suite, "uma");
    const umaKp = await uma.keyPackage();
    const c1 = await t.commit({ add: [umaKp.bytes], ratchetTreeExtension: true });
    const u = await uma.joinFromWelcome(c1.welcome!, umaKp);

    // External Add (our DS proposes a ts-mls client's KeyPackage); tom commits it, uma follows.
    const victor = await TsClient.create(suite, "victor");
    const victorKp = await victor.keyPackage();
    const add = signExternalProposal(cs, await contextOf(t), 0, ds.privateKey, { type: "add", keyPackage: keyPackageFrom(victorKp.bytes) });
    await t.process(toBytes(add.message));
    await u.process(toBytes(add.message));
    const c2 = await t.commit({ ratchetTreeExtension: true });
    expect(c2.welcome).toBeDefined();
    await u.process(c2.commit);
    const v = await victor.joinFromWelcome(c2.welcome!, victorKp);
    await expectAgreement([t, u, v]);

    // External Remove of uma; tom commits it, victor follows, uma learns she is out.
    const remove = signExternalProposal(cs, await contextOf(t), 0, ds.privateKey, { type: "remove", removed: 1 });
    for (const m of [t, u, v]) await m.process(toBytes(remove.message));
    const c3 = await t.commit();
    await v.process(c3.commit);
    await expectAgreement([t, v]);
    await expectMessaging([t, v]);
  });

  it("new_member_proposal: a ts-mls client proposes its own Add to our group", async () => {
    const alice = ours(cs, "alice");
    const a = createGroup({ ...alice.identity });
    const bob = ours(cs, "bob");
    const bobKp = ourKeyPackage(bob);
    const b = ourJoin(bob, bobKp, ourCommit(a, { add: [bobKp.keyPackage] }).welcome!);

    const carol = await TsClient.create(suite, "carol");
    const carolKp = await carol.keyPackage();
    const proposal = await carol.proposeAddExternal(toBytes(a.groupInfo()), carolKp);
    const seen = ourProcess(a, proposal);
    expect(seen).toMatchObject({ kind: "proposal", sender: { type: "new_member_proposal" }, proposal: { type: "add" } });
    ourProcess(b, proposal);
    const c1 = ourCommit(b);
    ourProcess(a, c1.commit);
    const c = await carol.joinFromWelcome(c1.welcome!, carolKp);
    await expectAgreement([a, b, c]);
    await expectMessaging([a, b, c]);
  });

  it("external commits: ts-mls joins our group and we join a ts-mls group (D5 transcoded)", async () => {
    const alice = ours(cs, "alice");
    const a = createGroup({ ...alice.identity });
    const bob = ours(cs, "bob");
    const bobKp = ourKeyPackage(bob);
    const b = ourJoin(bob, bobKp, ourCommit(a, { add: [bobKp.keyPackage] }).welcome!);

    // Unmodified, our RFC external_pub is no key to ts-mls.
    const carol = await TsClient.create(suite, "carol");
    await expect(carol.joinExternal(toBytes(a.groupInfo()))).rejects.toThrow(/public key/i);

    // ts-mls joins by external commit from our GroupInfo (tree in its extension).
    const { member: c, commit } = await carol.joinExternal(transcodeExternalPub(cs, toBytes(a.groupInfo()), alice.identity.signaturePrivateKey, "ts-mls"));
    const processed = ourProcess(a, commit);
    expect(processed).toMatchObject({ kind: "commit", summary: { external: true, added: [], committer: 2 } });
    ourProcess(b, commit);
    await expectAgreement([a, b, c]);
    await expectMessaging([a, b, c]);

    // ... and from a GroupInfo without the tree, the tree sent as bytes.
    const dave = await TsClient.create(suite, "dave");
    const bInfo = transcodeExternalPub(cs, toBytes(b.groupInfo({ ratchetTree: false })), bob.identity.signaturePrivateKey, "ts-mls");
    const j2 = await dave.joinExternal(bInfo, encode(encodeRatchetTree, a.ratchetTree()));
    await deliver(j2.commit, [a, b, c]);
    await expectAgreement([a, b, c, j2.member]);
    await expectMessaging([a, b, c, j2.member]);

    // Ours joins a ts-mls group by external commit.
    const tom = await TsClient.create(suite, "tom");
    const t = await tom.createGroup(utf8Bytes("ts-mls group"));
    const uma = await TsClient.create(suite, "uma");
    const umaKp = await uma.keyPackage();
    const u = await uma.joinFromWelcome((await t.commit({ add: [umaKp.bytes] })).welcome!, umaKp, t.ratchetTreeBytes());
    const eve = ours(cs, "eve");
    // Unmodified, ts-mls's bare-key external_pub does not decode as an ExternalPub.
    const tsInfo = await t.groupInfo();
    expect(() => joinExternal({ ...eve.identity, groupInfo: fromBytes(tsInfo) })).toThrow(MlsError);
    const j3 = joinExternal({ ...eve.identity, groupInfo: fromBytes(transcodeExternalPub(cs, tsInfo, tom.signatureKeyPair.signKey, "rfc")) });
    await deliver(toBytes(j3.commit), [t, u]);
    await expectAgreement([t, u, j3.group]);
    await expectMessaging([t, u, j3.group]);

    // Without the tree in the GroupInfo: the tree as bytes from ts-mls.
    const fay = ours(cs, "fay");
    const j4 = joinExternal({
      ...fay.identity,
      groupInfo: fromBytes(transcodeExternalPub(cs, await u.groupInfo({ ratchetTree: false }), uma.signatureKeyPair.signKey, "rfc")),
      ratchetTree: decode(decodeRatchetTree, u.ratchetTreeBytes()),
    });
    await deliver(toBytes(j4.commit), [t, u, j3.group]);
    const all: Member[] = [t, u, j3.group, j4.group];
    await expectAgreement(all);
    await expectMessaging(all);
    // The joined members keep working: a ts-mls commit, then one of ours.
    await deliver((await u.commit()).commit, [t, j3.group, j4.group]);
    await deliver(ourCommit(j4.group, { forcePath: true }).commit, [t, u, j3.group]);
    await expectAgreement(all);
  });
});

it("ts-mls's own P-256 signature keys are compressed points, which we cannot verify (D6)", async () => {
  const cs = nativeProvider.suite(2);
  const bob = await TsClient.create(2, "bob", { keys: "ts-mls" });
  expect(bob.signatureKeyPair.publicKey.length).toBe(33); // RFC 9420 §5.1.1: a 65-byte uncompressed point
  const bobKp = await bob.keyPackage();
  const a = createGroup({ ...ours(cs, "alice").identity });
  expect(errorCode(() => a.commit({ add: [keyPackageFrom(bobKp.bytes)] }))).toBe("InvalidSignature");
});
