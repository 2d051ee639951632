/** Results and views a group hands to its caller. */
import type { Credential } from "../credentials/credential.js";
import type { Sender } from "../framing/content.js";
import type { MLSMessage } from "../framing/messages.js";
import type { Proposal, ReInit } from "../messages/proposal.js";
import type { LeafNode } from "../tree/leaf-node.js";

export interface Member {
  readonly leafIndex: number;
  readonly credential: Credential;
  readonly signatureKey: Uint8Array;
  readonly leafNode: LeafNode;
}

/** What an accepted commit changed. */
export interface CommitSummary {
  /** The epoch the commit created. */
  readonly epoch: bigint;
  readonly sender: Sender;
  /** The committer's leaf in the new epoch. */
  readonly committer: number;
  readonly external: boolean;
  readonly added: readonly number[];
  readonly removed: readonly number[];
  readonly updated: readonly number[];
  readonly pathIncluded: boolean;
  readonly reinit?: ReInit | undefined;
  /** True when this member was removed: the group is no longer usable for sending. */
  readonly selfRemoved: boolean;
}

export type ProcessedMessage =
  | {
      readonly kind: "application";
      readonly epoch: bigint;
      readonly sender: number;
      readonly credential: Credential;
      readonly data: Uint8Array;
      readonly authenticatedData: Uint8Array;
    }
  | { readonly kind: "proposal"; readonly sender: Sender; readonly ref: Uint8Array; readonly proposal: Proposal }
  | { readonly kind: "commit"; readonly summary: CommitSummary };

/** What creating a commit produced. Nothing changes until `mergePendingCommit`. */
export interface CreatedCommit {
  readonly commit: MLSMessage;
  /** For the members added by the commit, if any. */
  readonly welcome?: MLSMessage | undefined;
  /** GroupInfo of the new epoch (with external_pub), for the Delivery Service and external joiners. */
  readonly groupInfo: MLSMessage;
  readonly summary: CommitSummary;
}
