/**
 * The public half of processing a Commit (RFC 9420 §12.4.2): everything a
 * receiver checks and computes without the epoch's secrets. Members and the
 * Delivery Service both run it; members then add the path decryption, the key
 * schedule and the confirmation tag.
 */
import { encode } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import { verifyContentSignature } from "../framing/auth.js";
import type { AuthenticatedContent, Sender } from "../framing/content.js";
import type { Commit } from "../messages/commit.js";
import { encodeGroupContext, type GroupContext } from "../messages/group-context.js";
import type { UpdatePath } from "../messages/update-path.js";
import { nextTranscriptHashes } from "../schedule/transcript.js";
import { validateLeafNode } from "../tree/leaf-validation.js";
import { leafNodeAt, type RatchetTree } from "../tree/ratchet-tree.js";
import { mergeUpdatePath, type MergedUpdatePath } from "../tree/treekem.js";
import { applyProposalList, type AppliedProposals, type CommittedProposal, type ProposalPolicy } from "./proposals.js";

/** The public state of an epoch. */
export interface PublicEpoch {
  readonly cs: CipherSuite;
  readonly context: GroupContext;
  readonly tree: RatchetTree;
  readonly interimTranscriptHash: Uint8Array;
}

export interface StagedCommit {
  readonly ac: AuthenticatedContent;
  readonly commit: Commit;
  /** The committer's leaf in the new tree (for an external commit, the leaf it took). */
  readonly committer: number;
  readonly external: boolean;
  readonly proposals: readonly CommittedProposal[];
  readonly applied: AppliedProposals;
  readonly path?: { readonly updatePath: UpdatePath; readonly merged: MergedUpdatePath } | undefined;
  /** The provisional GroupContext (§12.4.2), serialized: the HPKE context of the path. */
  readonly provisionalContext: Uint8Array;
  /** The new epoch's GroupContext. */
  readonly context: GroupContext;
  readonly interimTranscriptHash: Uint8Array;
  readonly confirmedTranscriptHash: Uint8Array;
}

/** Resolves a proposal reference to the proposal received in this epoch; MlsError("MissingProposal") when unknown. */
export type ProposalResolver = (ref: Uint8Array) => CommittedProposal;

/**
 * Verifies the commit's signature, validates and applies its proposals,
 * validates and merges its UpdatePath, and computes the new GroupContext and
 * transcript hashes. Nothing is mutated: the result holds a tree diff.
 */
export function stageCommit(
  epoch: PublicEpoch,
  ac: AuthenticatedContent,
  resolve: ProposalResolver,
  policy: ProposalPolicy = {},
): StagedCommit {
  const { cs, context, tree } = epoch;
  const content = ac.content;
  if (content.contentType !== "commit") fail("InvalidCommit", "not a commit");
  if (content.epoch !== context.epoch) fail("WrongEpoch", `commit for epoch ${content.epoch}, group is in ${context.epoch}`);
  const commit = content.commit;
  const sender: Sender = content.sender;
  const external = sender.type === "new_member_commit";
  if (sender.type !== "member" && !external) fail("InvalidSender", `a commit cannot come from a ${sender.type} sender`);
  if (external && ac.wireFormat !== "mls_public_message") fail("WrongWireFormat", "an external commit must be a PublicMessage");

  // §6.1: the signer is the member's leaf, or the new leaf in the external commit's path.
  let signer: Uint8Array;
  if (sender.type === "member") {
    const leaf = leafNodeAt(tree, sender.leafIndex);
    if (leaf === undefined) fail("UnknownSender", `commit from blank or absent leaf ${sender.leafIndex}`);
    signer = leaf.signatureKey;
  } else {
    if (commit.path === undefined) fail("MissingPath", "an external commit needs a path");
    signer = commit.path.leafNode.signatureKey;
  }
  verifyContentSignature(cs, signer, ac, context);
  if (ac.auth.confirmationTag === undefined) fail("InvalidCommit", "commit without confirmation tag");

  // §12.4.3.2: an external joiner cannot judge proposals sent within the group.
  if (external && commit.proposals.some((p) => p.type === "reference")) {
    fail("InvalidExternalCommit", "an external commit may not include proposals by reference");
  }
  const proposals: CommittedProposal[] = commit.proposals.map((p) =>
    p.type === "proposal" ? { proposal: p.proposal, sender } : resolve(p.reference),
  );
  const applied = applyProposalList(cs, tree, context, proposals, sender, policy);
  if (applied.pathRequired && commit.path === undefined) fail("MissingPath", "these proposals require an UpdatePath");

  const diff = applied.diff;
  let committer: number;
  let removedByExternal: number | undefined;
  if (external) {
    committer = diff.reserveLeaf();
    removedByExternal = applied.removed[0];
  } else {
    committer = (sender as { leafIndex: number }).leafIndex;
  }

  let path: StagedCommit["path"];
  if (commit.path !== undefined) {
    const updatePath = commit.path;
    const replacing = external ? undefined : committer;
    const merged = mergeUpdatePath(diff, committer, updatePath, applied.newLeaves, (leaf) => {
      validateLeafNode(cs, leaf, {
        source: "commit",
        groupId: context.groupId,
        leafIndex: committer,
        groupExtensions: applied.extensions,
        tree: diff,
        replacing,
        credentialValidator: policy.credentialValidator,
      });
      if (removedByExternal !== undefined) {
        // §12.2: resyncing joiners must present the removed leaf's identity.
        const old = leafNodeAt(tree, removedByExternal);
        if (old && policy.sameClient && !policy.sameClient(old.credential, leaf.credential)) {
          fail("InvalidExternalCommit", "external commit removes a leaf of another client");
        }
      }
    });
    path = { updatePath, merged };
  }

  const provisional: GroupContext = {
    ...context,
    epoch: context.epoch + 1n,
    treeHash: diff.rootHash(),
    extensions: applied.extensions,
  };
  const hashes = nextTranscriptHashes(cs, epoch.interimTranscriptHash, ac);
  return {
    ac,
    commit,
    committer,
    external,
    proposals,
    applied,
    path,
    provisionalContext: encode(encodeGroupContext, provisional, 512),
    context: { ...provisional, confirmedTranscriptHash: hashes.confirmed },
    interimTranscriptHash: hashes.interim,
    confirmedTranscriptHash: hashes.confirmed,
  };
}
