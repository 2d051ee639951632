/**
 * The public view of a group that a Delivery Service keeps (RFC 9420 §6.2,
 * §12.4.2 without secrets): the ratchet tree and GroupContext, validation
 * and application of PublicMessage proposals and commits, and external
 * proposals as an external sender (§12.1.8).
 *
 * It holds no group secret: it cannot check membership tags, confirmation
 * tags or UpdatePath ciphertexts, and never sees application data.
 */
import { bytesEqual, bytesKey } from "../codec/bytes.js";
import type { Credential } from "../credentials/credential.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import { readExternalSenders } from "../extensions/extension.js";
import { signContent, verifyContentSignature } from "../framing/auth.js";
import type { AuthenticatedContent, FramedContent, Sender } from "../framing/content.js";
import type { MLSMessage, PublicMessage } from "../framing/messages.js";
import { protectPublicMessage } from "../framing/public.js";
import type { KeyPackage } from "../key-packages/key-package.js";
import { PROTOCOL_VERSION_MLS10, type GroupContext } from "../messages/group-context.js";
import type { GroupInfo } from "../messages/group-info.js";
import type { Proposal } from "../messages/proposal.js";
import { interimTranscriptHash } from "../schedule/transcript.js";
import { verifyGroupInfoSignature } from "../schedule/welcome.js";
import type { Node } from "../tree/node.js";
import { leafNodeAt, memberLeaves, RatchetTree } from "../tree/ratchet-tree.js";
import { proposalRef, type StoredProposal } from "./group.js";
import { decodeRatchetTreeExtension } from "./ratchet-tree-extension.js";
import { applyProposalList, EXTERNAL_SENDER_TYPES, type ProposalPolicy } from "./proposals.js";
import { stageCommit, type StagedCommit } from "./stage-commit.js";
import { validateJoinTree } from "./tree-validation.js";
import type { CommitSummary, Member } from "./types.js";

const EMPTY: Uint8Array = new Uint8Array(0);

export type StagedPublicMessage =
  | { readonly kind: "proposal"; readonly ref: Uint8Array; readonly proposal: Proposal; readonly sender: Sender; readonly content: AuthenticatedContent }
  | { readonly kind: "commit"; readonly staged: StagedCommit; readonly summary: CommitSummary };

export interface PublicGroupOptions extends ProposalPolicy {
  /** Checks lifetimes of KeyPackage leaves in a received tree when set. */
  readonly treeLifetimeNow?: bigint | undefined;
}

export class PublicGroup {
  private constructor(
    readonly cs: CipherSuite,
    private ctx: GroupContext,
    private readonly tree: RatchetTree,
    private interim: Uint8Array,
    private tag: Uint8Array,
    private proposals: Map<string, StoredProposal>,
    private readonly policy: PublicGroupOptions,
  ) {}

  /** From a GroupInfo (and the tree, when not in its ratchet_tree extension): every public check of a joiner (§12.4.3.1). */
  static fromGroupInfo(
    cs: CipherSuite,
    groupInfo: MLSMessage | GroupInfo,
    ratchetTree?: readonly (Node | undefined)[],
    policy: PublicGroupOptions = {},
  ): PublicGroup {
    const info = "wireFormat" in groupInfo ? groupInfoOf(groupInfo) : groupInfo;
    const context = info.groupContext;
    if (context.version !== PROTOCOL_VERSION_MLS10) fail("InvalidGroupInfo", `unsupported version ${context.version}`);
    if (context.cipherSuite !== cs.id) fail("InvalidGroupInfo", `cipher suite ${context.cipherSuite}, expected ${cs.id}`);
    const nodes = decodeRatchetTreeExtension(info.extensions) ?? ratchetTree;
    if (nodes === undefined) fail("MissingRatchetTree", "no ratchet tree in the GroupInfo and none supplied");
    const tree = RatchetTree.fromNodes(cs, nodes);
    const signer = leafNodeAt(tree, info.signer);
    if (signer === undefined) fail("InvalidGroupInfo", "GroupInfo signer is a blank leaf");
    verifyGroupInfoSignature(cs, signer.signatureKey, info);
    validateJoinTree(cs, tree, context, { credentialValidator: policy.credentialValidator, now: policy.treeLifetimeNow });
    return new PublicGroup(
      cs,
      context,
      tree,
      interimTranscriptHash(cs, context.confirmedTranscriptHash, info.confirmationTag),
      info.confirmationTag,
      new Map(),
      policy,
    );
  }

  /** @internal used by persistence */
  static restore(
    cs: CipherSuite,
    context: GroupContext,
    tree: RatchetTree,
    interim: Uint8Array,
    confirmationTag: Uint8Array,
    proposals: readonly AuthenticatedContent[],
    policy: PublicGroupOptions = {},
  ): PublicGroup {
    const map = new Map<string, StoredProposal>();
    for (const ac of proposals) {
      if (ac.content.contentType !== "proposal") fail("InvalidState", "stored proposal is not a proposal");
      const ref = proposalRef(cs, ac);
      map.set(bytesKey(ref), { ref, proposal: ac.content.proposal, sender: ac.content.sender, content: ac });
    }
    return new PublicGroup(cs, context, tree, interim, confirmationTag, map, policy);
  }

  get groupContext(): GroupContext {
    return this.ctx;
  }
  get groupId(): Uint8Array {
    return this.ctx.groupId;
  }
  get epoch(): bigint {
    return this.ctx.epoch;
  }
  get interimTranscriptHash(): Uint8Array {
    return this.interim;
  }
  /** Confirmation tag of the commit that began this epoch (as sent; the DS cannot verify it). */
  get confirmationTag(): Uint8Array {
    return this.tag;
  }
  /** @internal */
  get ratchetTreeState(): RatchetTree {
    return this.tree;
  }

  ratchetTree(): (Node | undefined)[] {
    return this.tree.toNodes();
  }

  members(): Member[] {
    return memberLeaves(this.tree).map((l) => {
      const leaf = leafNodeAt(this.tree, l)!;
      return { leafIndex: l, credential: leaf.credential, signatureKey: leaf.signatureKey, leafNode: leaf };
    });
  }

  member(leafIndex: number): Member | undefined {
    const leaf = leafNodeAt(this.tree, leafIndex);
    return leaf && { leafIndex, credential: leaf.credential, signatureKey: leaf.signatureKey, leafNode: leaf };
  }

  /** Leaves whose basic credential names `identity`. */
  leavesOf(identity: Uint8Array): number[] {
    return this.members()
      .filter((m) => m.credential.type === "basic" && bytesEqual(m.credential.identity, identity))
      .map((m) => m.leafIndex);
  }

  pendingProposals(): StoredProposal[] {
    return [...this.proposals.values()];
  }

  /**
   * Validates a handshake PublicMessage of the current epoch without changing
   * anything; `apply` installs it. Application data is never a PublicMessage (§6.2).
   */
  stage(message: MLSMessage): StagedPublicMessage {
    if (message.version !== PROTOCOL_VERSION_MLS10) fail("InvalidValue", `protocol version ${message.version}`);
    if (message.wireFormat !== "mls_public_message") fail("WrongWireFormat", "the Delivery Service only processes PublicMessages");
    const msg: PublicMessage = message.publicMessage;
    const c = msg.content;
    if (!bytesEqual(c.groupId, this.ctx.groupId)) fail("WrongGroup", "message for another group");
    if (c.epoch !== this.ctx.epoch) fail("WrongEpoch", `message for epoch ${c.epoch}, group is in ${this.ctx.epoch}`);
    if (c.contentType === "application") fail("WrongWireFormat", "application data must be a PrivateMessage");
    if (c.sender.type === "member" && msg.membershipTag === undefined) fail("InvalidMembershipTag", "member message without tag");
    const ac: AuthenticatedContent = { wireFormat: "mls_public_message", content: c, auth: msg.auth };
    if (c.contentType === "proposal") return this.stageProposal(ac);
    const staged = stageCommit(
      { cs: this.cs, context: this.ctx, tree: this.tree, interimTranscriptHash: this.interim },
      ac,
      (ref) => {
        const p = this.proposals.get(bytesKey(ref));
        if (p === undefined) fail("MissingProposal", "commit references an unknown proposal");
        return { proposal: p.proposal, sender: p.sender };
      },
      this.policy,
    );
    const a = staged.applied;
    const summary: CommitSummary = {
      epoch: staged.context.epoch,
      sender: c.sender,
      committer: staged.committer,
      external: staged.external,
      added: a.adds.map((x) => x.leafIndex),
      removed: a.removed,
      updated: a.updated,
      pathIncluded: staged.path !== undefined,
      reinit: a.reinit,
      selfRemoved: false,
    };
    return { kind: "commit", staged, summary };
  }

  private stageProposal(ac: AuthenticatedContent): StagedPublicMessage {
    const c = ac.content;
    if (c.contentType !== "proposal") fail("InvalidValue", "not a proposal");
    const p = c.proposal;
    let signer: Uint8Array;
    switch (c.sender.type) {
      case "member": {
        const leaf = leafNodeAt(this.tree, c.sender.leafIndex);
        if (leaf === undefined) fail("UnknownSender", `proposal from blank leaf ${c.sender.leafIndex}`);
        signer = leaf.signatureKey;
        break;
      }
      case "external": {
        const s = readExternalSenders(this.ctx.extensions)?.[c.sender.senderIndex];
        if (s === undefined) fail("UnknownSender", `no external sender ${c.sender.senderIndex}`);
        if (!EXTERNAL_SENDER_TYPES.has(p.type)) fail("InvalidSender", `external senders cannot propose ${p.type}`);
        signer = s.signatureKey;
        break;
      }
      case "new_member_proposal":
        if (p.type !== "add") fail("InvalidSender", "new_member_proposal must be an Add");
        signer = p.keyPackage.leafNode.signatureKey;
        break;
      default:
        return fail("InvalidSender", "a new_member_commit sender cannot send proposals");
    }
    verifyContentSignature(this.cs, signer, ac, this.ctx);
    if (p.type === "external_init") fail("InvalidProposal", "ExternalInit is only valid inside an external commit");
    if (p.type === "remove" && leafNodeAt(this.tree, p.removed) === undefined) fail("InvalidProposal", `Remove of blank leaf ${p.removed}`);
    if (p.type === "add" || p.type === "update") {
      // The proposal alone must be applicable now (list-level checks come with the commit);
      // leaf -1 stands for a committer that is none of the members.
      const committer: Sender = { type: "member", leafIndex: -1 };
      applyProposalList(this.cs, this.tree, this.ctx, [{ proposal: p, sender: c.sender }], committer, this.policy);
    }
    return { kind: "proposal", ref: proposalRef(this.cs, ac), proposal: p, sender: c.sender, content: ac };
  }

  /** Installs a staged message of the current epoch. */
  apply(s: StagedPublicMessage): void {
    if (s.kind === "proposal") {
      if (s.content.content.epoch !== this.ctx.epoch) fail("WrongEpoch", "staged for another epoch");
      this.proposals.set(bytesKey(s.ref), { ref: s.ref, proposal: s.proposal, sender: s.sender, content: s.content });
      return;
    }
    const st = s.staged;
    if (st.ac.content.epoch !== this.ctx.epoch) fail("WrongEpoch", "staged for another epoch");
    this.tree.merge(st.applied.diff);
    this.ctx = st.context;
    this.interim = st.interimTranscriptHash;
    this.tag = st.ac.auth.confirmationTag!;
    this.proposals = new Map();
  }

  process(message: MLSMessage): StagedPublicMessage {
    const s = this.stage(message);
    this.apply(s);
    return s;
  }

  /**
   * Builds and signs an external proposal (§12.1.8) as external sender
   * `senderIndex` of the group's external_senders extension. The proposal is
   * recorded as pending, so the commit that includes it can be resolved.
   */
  externalProposal(
    senderIndex: number,
    signaturePrivateKey: Uint8Array,
    proposal: Proposal,
    authenticatedData: Uint8Array = EMPTY,
  ): { message: MLSMessage; ref: Uint8Array } {
    const senders = readExternalSenders(this.ctx.extensions);
    const me = senders?.[senderIndex];
    if (me === undefined) fail("UnknownSender", `no external sender ${senderIndex} in this group`);
    if (!bytesEqual(this.cs.signature.publicKey(signaturePrivateKey), me.signatureKey)) {
      fail("InvalidKey", "signing key does not match the external sender entry");
    }
    const { message, ac } = signExternalProposal(this.cs, this.ctx, senderIndex, signaturePrivateKey, proposal, authenticatedData);
    const staged = this.stageProposal(ac);
    this.apply(staged);
    return { message, ref: staged.kind === "proposal" ? staged.ref : EMPTY };
  }

  /** External Add of a KeyPackage. */
  proposeAdd(senderIndex: number, signaturePrivateKey: Uint8Array, keyPackage: KeyPackage): { message: MLSMessage; ref: Uint8Array } {
    return this.externalProposal(senderIndex, signaturePrivateKey, { type: "add", keyPackage });
  }

  /** External Remove of a leaf. */
  proposeRemove(senderIndex: number, signaturePrivateKey: Uint8Array, leafIndex: number): { message: MLSMessage; ref: Uint8Array } {
    return this.externalProposal(senderIndex, signaturePrivateKey, { type: "remove", removed: leafIndex });
  }

  /**
   * Checks that a GroupInfo describes the current epoch as this view computed
   * it (context, confirmation tag) and is signed by a member: what a DS checks
   * before serving a committer's GroupInfo to external joiners.
   */
  checkGroupInfo(groupInfo: MLSMessage | GroupInfo): GroupInfo {
    const info = "wireFormat" in groupInfo ? groupInfoOf(groupInfo) : groupInfo;
    const g = info.groupContext;
    const c = this.ctx;
    if (
      g.version !== c.version ||
      g.cipherSuite !== c.cipherSuite ||
      !bytesEqual(g.groupId, c.groupId) ||
      g.epoch !== c.epoch ||
      !bytesEqual(g.treeHash, c.treeHash) ||
      !bytesEqual(g.confirmedTranscriptHash, c.confirmedTranscriptHash)
    ) {
      fail("InvalidGroupInfo", "GroupInfo does not describe the current epoch");
    }
    if (!bytesEqual(info.confirmationTag, this.tag)) fail("InvalidGroupInfo", "GroupInfo confirmation tag differs from the commit's");
    const signer = leafNodeAt(this.tree, info.signer);
    if (signer === undefined) fail("InvalidGroupInfo", "GroupInfo signer is a blank leaf");
    verifyGroupInfoSignature(this.cs, signer.signatureKey, info);
    return info;
  }

  /** The credential of a leaf, if present. */
  credentialOf(leafIndex: number): Credential | undefined {
    return leafNodeAt(this.tree, leafIndex)?.credential;
  }
}

/**
 * An external proposal (§12.1.8) signed by external sender `senderIndex` for
 * the epoch of `context`: what an external sender sends without keeping a
 * group view (PublicGroup.externalProposal also checks it against the group).
 */
export function signExternalProposal(
  cs: CipherSuite,
  context: GroupContext,
  senderIndex: number,
  signaturePrivateKey: Uint8Array,
  proposal: Proposal,
  authenticatedData: Uint8Array = EMPTY,
): { message: MLSMessage; ac: AuthenticatedContent } {
  if (!EXTERNAL_SENDER_TYPES.has(proposal.type)) fail("InvalidSender", `external senders cannot propose ${proposal.type}`);
  const content: FramedContent = {
    groupId: context.groupId,
    epoch: context.epoch,
    sender: { type: "external", senderIndex },
    authenticatedData,
    contentType: "proposal",
    proposal,
  };
  const ac = signContent(cs, signaturePrivateKey, "mls_public_message", content, context);
  const publicMessage = protectPublicMessage(cs, ac, context, undefined);
  return { message: { version: PROTOCOL_VERSION_MLS10, wireFormat: "mls_public_message", publicMessage }, ac };
}

function groupInfoOf(m: MLSMessage): GroupInfo {
  if (m.version !== PROTOCOL_VERSION_MLS10) fail("InvalidValue", `protocol version ${m.version}`);
  if (m.wireFormat !== "mls_group_info") fail("WrongWireFormat", `expected a GroupInfo, got ${m.wireFormat}`);
  return m.groupInfo;
}
