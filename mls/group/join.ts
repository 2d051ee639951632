/** Creating a group (§11), joining by Welcome (§12.4.3.1) and by external commit (§12.4.3.2), branch and reinit (§11.2, §11.3). */
import { bytesEqual } from "../codec/bytes.js";
import { encode } from "../codec/writer.js";
import type { Credential } from "../credentials/credential.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import { readExternalPub, type Extension } from "../extensions/extension.js";
import { signContent, withConfirmationTag } from "../framing/auth.js";
import type { FramedContent, Sender } from "../framing/content.js";
import type { MLSMessage } from "../framing/messages.js";
import { protectPublicMessage } from "../framing/public.js";
import type { KeyPackage } from "../key-packages/key-package.js";
import { defaultCapabilities, defaultLifetime, keyPackageRef, type KeyPackagePrivate } from "../key-packages/key-package-ops.js";
import type { Commit, ProposalOrRef } from "../messages/commit.js";
import { encodeGroupContext, PROTOCOL_VERSION_MLS10, type GroupContext } from "../messages/group-context.js";
import type { GroupInfo } from "../messages/group-info.js";
import type { Proposal } from "../messages/proposal.js";
import type { PreSharedKeyID } from "../messages/psk-id.js";
import type { Welcome } from "../messages/welcome.js";
import {
  confirmationTag as makeConfirmationTag,
  deriveEpochSecrets,
  externalInitSend,
  keySchedule,
} from "../schedule/key-schedule.js";
import { pskSecret } from "../schedule/psk.js";
import { SecretTree } from "../schedule/secret-tree.js";
import { confirmedTranscriptHashOf, interimTranscriptHash } from "../schedule/transcript.js";
import { openWelcome, verifyGroupInfoSignature } from "../schedule/welcome.js";
import type { Capabilities, LeafNode, Lifetime } from "../tree/leaf-node.js";
import { signLeafNode } from "../tree/leaf-validation.js";
import { commonAncestor } from "../tree/math.js";
import type { Node } from "../tree/node.js";
import { leafNodeAt, memberLeaves, RatchetTree } from "../tree/ratchet-tree.js";
import { filteredDirectPath } from "../tree/resolution.js";
import { createUpdatePath, nextPathSecret, nodeKeyPair, type PrivateKeys } from "../tree/treekem.js";
import { Group, type EpochState } from "./group.js";
import { resolveOptions, type GroupOptions } from "./options.js";
import { applyProposalList } from "./proposals.js";
import { decodeRatchetTreeExtension } from "./ratchet-tree-extension.js";
import { validateJoinTree } from "./tree-validation.js";

const EMPTY: Uint8Array = new Uint8Array(0);

export interface MemberIdentity {
  readonly cs: CipherSuite;
  readonly credential: Credential;
  readonly signaturePrivateKey: Uint8Array;
  /** Derived from the private key when absent. */
  readonly signaturePublicKey?: Uint8Array | undefined;
  readonly capabilities?: Capabilities | undefined;
  /** Extensions of this member's leaf (e.g. application_id). */
  readonly leafExtensions?: readonly Extension[] | undefined;
}

export interface CreateGroupOptions extends MemberIdentity {
  /** Default: KDF.Nh random bytes (§11). */
  readonly groupId?: Uint8Array | undefined;
  /** GroupContext extensions (e.g. external_senders, required_capabilities). */
  readonly extensions?: readonly Extension[] | undefined;
  readonly lifetime?: Lifetime | undefined;
  readonly options?: GroupOptions | undefined;
}

/** §11: a one-member group in epoch 0. */
export function createGroup(o: CreateGroupOptions): Group {
  const { cs } = o;
  const options = resolveOptions(o.options);
  const enc = cs.kem.generateKeyPair();
  const leaf = signLeafNode(cs, o.signaturePrivateKey, {
    encryptionKey: enc.publicKey,
    signatureKey: o.signaturePublicKey ?? cs.signature.publicKey(o.signaturePrivateKey),
    credential: o.credential,
    capabilities: o.capabilities ?? defaultCapabilities([cs.id]),
    leafNodeSource: "key_package",
    lifetime: o.lifetime ?? defaultLifetime(options.now()),
    extensions: o.leafExtensions ?? [],
  });
  const tree = RatchetTree.withCreator(cs, leaf);
  const context: GroupContext = {
    version: PROTOCOL_VERSION_MLS10,
    cipherSuite: cs.id,
    groupId: o.groupId ?? cs.randomBytes(cs.kdf.nh),
    epoch: 0n,
    treeHash: tree.rootHash(),
    confirmedTranscriptHash: EMPTY,
    extensions: o.extensions ?? [],
  };
  const secrets = deriveEpochSecrets(cs, cs.randomBytes(cs.kdf.nh));
  const tag = makeConfirmationTag(cs, secrets.confirmationKey, EMPTY);
  const keys: PrivateKeys = new Map([[0, enc]]);
  const state: EpochState = {
    context,
    tree,
    interimTranscriptHash: interimTranscriptHash(cs, EMPTY, tag),
    confirmationTag: tag,
    secrets,
    secretTree: secretTreeFor(cs, secrets.encryptionSecret, 1, options),
    ownLeaf: 0,
    keys,
  };
  return new Group(cs, o.signaturePrivateKey, state, options);
}

function secretTreeFor(
  cs: CipherSuite,
  encryptionSecret: Uint8Array,
  leafCount: number,
  options: { maxForwardDistance: number; maxRetainedKeys: number },
): SecretTree {
  return SecretTree.create(cs, encryptionSecret, leafCount, {
    maxForwardDistance: options.maxForwardDistance,
    maxRetainedKeys: options.maxRetainedKeys,
  });
}

export interface JoinFromWelcomeOptions {
  readonly cs: CipherSuite;
  readonly welcome: MLSMessage | Welcome;
  readonly keyPackage: KeyPackage;
  readonly keyPackagePrivate: KeyPackagePrivate;
  /** Required when the Welcome's GroupInfo carries no ratchet_tree extension. */
  readonly ratchetTree?: readonly (Node | undefined)[] | undefined;
  /** The group a reinit or branch Welcome refers to (§11.2, §11.3). */
  readonly previousGroup?: Group | undefined;
  readonly options?: GroupOptions | undefined;
}

function welcomeOf(m: MLSMessage | Welcome): Welcome {
  if ("wireFormat" in m) {
    if (m.version !== PROTOCOL_VERSION_MLS10) fail("InvalidValue", `protocol version ${m.version}`);
    if (m.wireFormat !== "mls_welcome") fail("WrongWireFormat", `expected a Welcome, got ${m.wireFormat}`);
    return m.welcome;
  }
  return m;
}

/** Loads the tree a joiner uses: the ratchet_tree extension, else the one supplied out of band. */
function joinTree(cs: CipherSuite, info: GroupInfo, supplied?: readonly (Node | undefined)[]): RatchetTree {
  const nodes = decodeRatchetTreeExtension(info.extensions) ?? supplied;
  if (nodes === undefined) fail("MissingRatchetTree", "no ratchet tree in the GroupInfo and none supplied");
  return RatchetTree.fromNodes(cs, nodes);
}

/** §12.4.3.1. */
export function joinFromWelcome(o: JoinFromWelcomeOptions): Group {
  const { cs, keyPackage } = o;
  const options = resolveOptions(o.options);
  const welcome = welcomeOf(o.welcome);
  if (keyPackage.cipherSuite !== cs.id || welcome.cipherSuite !== cs.id) fail("InvalidWelcome", "cipher suite mismatch");
  const ref = keyPackageRef(cs, keyPackage);
  let resumption: PreSharedKeyID | undefined;
  const opened = openWelcome(cs, welcome, ref, o.keyPackagePrivate.initPrivateKey, (psks) => {
    const special = psks.filter((p) => p.pskType === "resumption" && p.usage !== "application");
    if (special.length > 1) fail("InvalidWelcome", "more than one reinit/branch PSK");
    resumption = special[0];
    return pskSecret(
      cs,
      psks.map((id) => ({ id, psk: lookupJoinPsk(id, o.previousGroup, options.resolvePsk) })),
    );
  });
  const info = opened.groupInfo;
  const context = info.groupContext;
  if (context.version !== PROTOCOL_VERSION_MLS10) fail("InvalidGroupInfo", `unsupported version ${context.version}`);
  const tree = joinTree(cs, info, o.ratchetTree);
  const signer = leafNodeAt(tree, info.signer);
  if (signer === undefined) fail("InvalidGroupInfo", "GroupInfo signer is a blank leaf");
  verifyGroupInfoSignature(cs, signer.signatureKey, info);
  validateJoinTree(cs, tree, context, {
    credentialValidator: options.credentialValidator,
    now: options.checkReceivedLifetimes ? options.now() : undefined,
  });

  // Our leaf: the one identical to the KeyPackage's (§12.4.3.1).
  const own = memberLeaves(tree).find((l) => sameLeaf(leafNodeAt(tree, l)!, keyPackage.leafNode));
  if (own === undefined) fail("InvalidWelcome", "the KeyPackage's leaf is not in the tree");
  const keys: PrivateKeys = new Map([
    [own * 2, { privateKey: o.keyPackagePrivate.encryptionPrivateKey, publicKey: keyPackage.leafNode.encryptionKey }],
  ]);
  const pathSecret = opened.groupSecrets.pathSecret;
  if (pathSecret !== undefined) {
    // From the common ancestor with the committer up its filtered direct path.
    const lca = commonAncestor(own * 2, info.signer * 2);
    const fdp = filteredDirectPath(tree, info.signer).nodes;
    let k = fdp.indexOf(lca);
    if (k < 0) fail("InvalidWelcome", "path secret for a node outside the committer's path");
    let ps = pathSecret;
    for (; k < fdp.length; k++) {
      const kp = nodeKeyPair(cs, ps);
      const n = tree.node(fdp[k]!);
      if (n?.type !== "parent" || !bytesEqual(n.parent.encryptionKey, kp.publicKey)) {
        fail("InvalidWelcome", "path secret does not match the tree");
      }
      keys.set(fdp[k]!, kp);
      ps = nextPathSecret(cs, ps);
    }
  }
  if (resumption !== undefined && resumption.pskType === "resumption") {
    checkResumptionJoin(resumption.usage, context, tree, o.previousGroup);
  }
  const secrets = opened.epochSecrets;
  const state: EpochState = {
    context,
    tree,
    interimTranscriptHash: interimTranscriptHash(cs, context.confirmedTranscriptHash, info.confirmationTag),
    confirmationTag: info.confirmationTag,
    secrets,
    secretTree: secretTreeFor(cs, secrets.encryptionSecret, tree.leafCount, options),
    ownLeaf: own,
    keys,
  };
  return new Group(cs, o.keyPackagePrivate.signaturePrivateKey, state, options);
}

function sameLeaf(a: LeafNode, b: LeafNode): boolean {
  return bytesEqual(a.signature, b.signature) && bytesEqual(a.encryptionKey, b.encryptionKey) && bytesEqual(a.signatureKey, b.signatureKey);
}

function lookupJoinPsk(
  id: PreSharedKeyID,
  previous: Group | undefined,
  resolve: ((id: PreSharedKeyID) => Uint8Array | undefined) | undefined,
): Uint8Array {
  if (id.pskType === "resumption" && previous && bytesEqual(previous.groupId, id.pskGroupId)) {
    const psk = previous.resumptionPsk(id.pskEpoch);
    if (psk) return psk;
  }
  const psk = resolve?.(id);
  if (psk === undefined) fail("MissingPsk", `PSK ${id.pskType} not available`);
  return psk;
}

/** §12.4.3.1: checks of a Welcome into a reinitialized or branched group. */
function checkResumptionJoin(usage: string, context: GroupContext, tree: RatchetTree, previous: Group | undefined): void {
  if (usage === "application") return;
  if (context.epoch !== 1n) fail("InvalidWelcome", `${usage} Welcome must be for epoch 1`);
  if (previous === undefined) fail("InvalidWelcome", `${usage} Welcome needs the previous group`);
  if (usage === "reinit") {
    const r = previous.reinit;
    if (r === undefined) fail("InvalidWelcome", "the previous group did not end with a ReInit");
    if (
      !bytesEqual(r.groupId, context.groupId) ||
      r.version !== context.version ||
      r.cipherSuite !== context.cipherSuite ||
      !sameExtensions(r.extensions, context.extensions)
    ) {
      fail("InvalidWelcome", "the new group does not match the ReInit proposal");
    }
  } else if (usage === "branch") {
    if (previous.groupContext.version !== context.version || previous.cs.id !== context.cipherSuite) {
      fail("InvalidWelcome", "a branch keeps the version and cipher suite");
    }
  }
  // Members of the new group must be members of the old one (same credential) — for reinit, all of them.
  const oldIds = previous.members().map((m) => encodeIdentity(m.credential));
  const newIds = memberLeaves(tree).map((l) => encodeIdentity(leafNodeAt(tree, l)!.credential));
  for (const id of newIds) if (!oldIds.includes(id)) fail("InvalidWelcome", `${usage}: a new member was not in the old group`);
  if (usage === "reinit") for (const id of oldIds) if (!newIds.includes(id)) fail("InvalidWelcome", "reinit: an old member is missing");
}

function encodeIdentity(c: Credential): string {
  return c.type === "basic" ? `b:${Array.from(c.identity).join(",")}` : `x:${c.certificates.map((x) => x.length).join(",")}`;
}

function sameExtensions(a: readonly Extension[], b: readonly Extension[]): boolean {
  return a.length === b.length && a.every((e, i) => e.extensionType === b[i]!.extensionType && bytesEqual(e.extensionData, b[i]!.extensionData));
}

export interface ExternalJoinOptions extends MemberIdentity {
  readonly groupInfo: MLSMessage | GroupInfo;
  readonly ratchetTree?: readonly (Node | undefined)[] | undefined;
  /** Resync: the leaf of this client's previous appearance, removed by the commit (§12.4.3.2). */
  readonly removeLeaf?: number | undefined;
  readonly psks?: readonly PreSharedKeyID[] | undefined;
  readonly authenticatedData?: Uint8Array | undefined;
  readonly options?: GroupOptions | undefined;
}

/**
 * §12.4.3.2: joins by external commit. Returns the group already in the new
 * epoch and the commit to send; if the Delivery Service refuses the commit,
 * discard the group and try again with a fresh GroupInfo.
 */
export function joinExternal(o: ExternalJoinOptions): { group: Group; commit: MLSMessage } {
  const { cs } = o;
  const options = resolveOptions(o.options);
  const info = "wireFormat" in o.groupInfo ? groupInfoOf(o.groupInfo) : o.groupInfo;
  const context = info.groupContext;
  if (context.cipherSuite !== cs.id) fail("InvalidGroupInfo", "cipher suite mismatch");
  const tree = joinTree(cs, info, o.ratchetTree);
  const signer = leafNodeAt(tree, info.signer);
  if (signer === undefined) fail("InvalidGroupInfo", "GroupInfo signer is a blank leaf");
  verifyGroupInfoSignature(cs, signer.signatureKey, info);
  validateJoinTree(cs, tree, context, { credentialValidator: options.credentialValidator });
  const externalPub = readExternalPub(info.extensions);
  if (externalPub === undefined) fail("InvalidGroupInfo", "GroupInfo has no external_pub");

  const init = externalInitSend(cs, externalPub);
  const proposals: Proposal[] = [{ type: "external_init", kemOutput: init.kemOutput }];
  if (o.removeLeaf !== undefined) proposals.push({ type: "remove", removed: o.removeLeaf });
  for (const psk of o.psks ?? []) proposals.push({ type: "psk", psk });
  const sender: Sender = { type: "new_member_commit" };
  const applied = applyProposalList(
    cs,
    tree,
    context,
    proposals.map((proposal) => ({ proposal, sender })),
    sender,
    { credentialValidator: options.credentialValidator },
  );
  const diff = applied.diff;
  const own = diff.reserveLeaf();
  const nextBase = { ...context, epoch: context.epoch + 1n, extensions: applied.extensions };
  const signatureKey = o.signaturePublicKey ?? cs.signature.publicKey(o.signaturePrivateKey);
  const created = createUpdatePath({
    diff,
    leafIndex: own,
    excluded: applied.newLeaves,
    groupContext: (treeHash) => encode(encodeGroupContext, { ...nextBase, treeHash }, 512),
    makeLeaf: (encryptionKey, parentHash) =>
      signLeafNode(
        cs,
        o.signaturePrivateKey,
        {
          encryptionKey,
          signatureKey,
          credential: o.credential,
          capabilities: o.capabilities ?? defaultCapabilities([cs.id]),
          leafNodeSource: "commit",
          parentHash,
          extensions: o.leafExtensions ?? [],
        },
        context.groupId,
        own,
      ),
  });
  const commit: Commit = {
    proposals: proposals.map((proposal): ProposalOrRef => ({ type: "proposal", proposal })),
    path: created.updatePath,
  };
  const content: FramedContent = {
    groupId: context.groupId,
    epoch: context.epoch,
    sender,
    authenticatedData: o.authenticatedData ?? EMPTY,
    contentType: "commit",
    commit,
  };
  const unsigned = signContent(cs, o.signaturePrivateKey, "mls_public_message", content, context);
  const interimBefore = interimTranscriptHash(cs, context.confirmedTranscriptHash, info.confirmationTag);
  const confirmed = confirmedTranscriptHashOf(cs, interimBefore, unsigned);
  const newContext: GroupContext = { ...nextBase, treeHash: diff.rootHash(), confirmedTranscriptHash: confirmed };
  const psks = applied.psks.map((id) => ({ id, psk: lookupJoinPsk(id, undefined, options.resolvePsk) }));
  const ks = keySchedule(cs, init.initSecret, created.commitSecret, pskSecret(cs, psks), encode(encodeGroupContext, newContext, 512));
  const tag = makeConfirmationTag(cs, ks.epochSecrets.confirmationKey, confirmed);
  const ac = withConfirmationTag(unsigned, tag);
  const publicMessage = protectPublicMessage(cs, ac, context, undefined);
  tree.merge(diff);
  const state: EpochState = {
    context: newContext,
    tree,
    interimTranscriptHash: interimTranscriptHash(cs, confirmed, tag),
    confirmationTag: tag,
    secrets: ks.epochSecrets,
    secretTree: secretTreeFor(cs, ks.epochSecrets.encryptionSecret, tree.leafCount, options),
    ownLeaf: own,
    keys: new Map(created.privateKeys),
  };
  const group = new Group(cs, o.signaturePrivateKey, state, options);
  return { group, commit: { version: PROTOCOL_VERSION_MLS10, wireFormat: "mls_public_message", publicMessage } };
}

function groupInfoOf(m: MLSMessage): GroupInfo {
  if (m.version !== PROTOCOL_VERSION_MLS10) fail("InvalidValue", `protocol version ${m.version}`);
  if (m.wireFormat !== "mls_group_info") fail("WrongWireFormat", `expected a GroupInfo, got ${m.wireFormat}`);
  return m.groupInfo;
}

export interface SuccessorOptions {
  /** Identity and leaf of the creator in the new group. */
  readonly identity: MemberIdentity;
  /** KeyPackages of the other members of the new group. */
  readonly keyPackages: readonly KeyPackage[];
  readonly options?: GroupOptions | undefined;
}

/**
 * §11.3: branches a subgroup from `group`: a new group (same version and
 * suite) whose first commit adds the given members and injects the
 * resumption PSK of `group` with usage "branch".
 */
export function branchGroup(group: Group, o: SuccessorOptions & { groupId?: Uint8Array }): { group: Group; welcome: MLSMessage } {
  if (o.identity.cs.id !== group.cs.id) fail("InvalidValue", "a branch keeps the cipher suite");
  const g = createGroup({ ...o.identity, groupId: o.groupId, extensions: group.groupContext.extensions, options: o.options });
  return firstCommit(g, group, "branch", o.keyPackages);
}

/** §11.2: after a commit with a ReInit, creates the new group and its Welcome for the members. */
export function reinitGroup(group: Group, o: SuccessorOptions): { group: Group; welcome: MLSMessage } {
  const r = group.reinit;
  if (r === undefined) fail("InvalidState", "the group has not committed a ReInit");
  if (o.identity.cs.id !== r.cipherSuite) fail("InvalidValue", "use the ReInit's cipher suite");
  const g = createGroup({ ...o.identity, groupId: r.groupId, extensions: r.extensions, options: o.options });
  return firstCommit(g, group, "reinit", o.keyPackages);
}

function firstCommit(
  g: Group,
  previous: Group,
  usage: "reinit" | "branch",
  keyPackages: readonly KeyPackage[],
): { group: Group; welcome: MLSMessage } {
  const psk: PreSharedKeyID = {
    pskType: "resumption",
    usage,
    pskGroupId: previous.groupId,
    pskEpoch: previous.epoch,
    pskNonce: g.cs.randomBytes(g.cs.kdf.nh),
  };
  const withPsk = g.withPskResolver((id) =>
    id.pskType === "resumption" && bytesEqual(id.pskGroupId, previous.groupId) ? previous.resumptionPsk(id.pskEpoch) : undefined,
  );
  const created = withPsk.commit({ add: keyPackages, psks: [psk], resumptionUsage: usage });
  withPsk.mergePendingCommit();
  if (created.welcome === undefined) fail("InvalidValue", `${usage} needs at least one other member`);
  return { group: withPsk, welcome: created.welcome };
}

