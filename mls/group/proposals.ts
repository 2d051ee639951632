/** Proposal list validation and application (RFC 9420 §12.1, §12.2, §12.3). Shared by members and the Delivery Service. */
import { bytesKey } from "../codec/bytes.js";
import { encode } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import {
  decodeExternalSender,
  hasDuplicateExtension,
  readRequiredCapabilities,
  ExtensionType,
  type Extension,
} from "../extensions/extension.js";
import type { Credential } from "../credentials/credential.js";
import type { Sender } from "../framing/content.js";
import type { KeyPackage } from "../key-packages/key-package.js";
import { validateKeyPackage } from "../key-packages/key-package-ops.js";
import type { GroupContext } from "../messages/group-context.js";
import type { Proposal, ProposalOf, ReInit } from "../messages/proposal.js";
import { encodePreSharedKeyID, type PreSharedKeyID } from "../messages/psk-id.js";
import { decode } from "../codec/reader.js";
import { validateLeafNode, type CredentialValidator } from "../tree/leaf-validation.js";
import { leafNodeAt, memberLeaves, type RatchetTree, type TreeDiff } from "../tree/ratchet-tree.js";

/** A proposal as committed, with who proposed it (the committer for by-value proposals). */
export interface CommittedProposal {
  readonly proposal: Proposal;
  readonly sender: Sender;
}

export interface ProposalPolicy {
  /** Seconds since the epoch for lifetime checks of added KeyPackages; undefined skips them. */
  readonly now?: bigint | undefined;
  readonly credentialValidator?: CredentialValidator | undefined;
  /** Whether two credentials name the same client (§12.2 external-commit resync); default: any. */
  readonly sameClient?: ((a: Credential, b: Credential) => boolean) | undefined;
  /** Allows a resumption PSK of this usage (only in a reinit or branch group's first commit, §11.2, §11.3). */
  readonly resumptionUsage?: "reinit" | "branch" | undefined;
}

export interface AppliedProposals {
  readonly diff: TreeDiff;
  /** GroupContext extensions after any GroupContextExtensions proposal. */
  readonly extensions: readonly Extension[];
  readonly adds: readonly { readonly leafIndex: number; readonly keyPackage: KeyPackage }[];
  readonly removed: readonly number[];
  readonly updated: readonly number[];
  readonly psks: readonly PreSharedKeyID[];
  readonly externalInit?: Uint8Array | undefined;
  readonly reinit?: ReInit | undefined;
  /** §12.4: a path is required for an empty commit or any update/remove/external_init/GCE. */
  readonly pathRequired: boolean;
  /** Leaves added by this commit (excluded from UpdatePath resolutions, §7.6). */
  readonly newLeaves: ReadonlySet<number>;
}

const PATH_REQUIRED = new Set<Proposal["type"]>(["update", "remove", "external_init", "group_context_extensions"]);
/** Proposal types an `external` sender may send (§12.1.8). */
export const EXTERNAL_SENDER_TYPES = new Set<Proposal["type"]>(["add", "remove", "psk", "reinit", "group_context_extensions"]);

function invalid(why: string): never {
  return fail("InvalidProposalList", why);
}

/**
 * Validates a committed proposal list (§12.2) and applies it to a diff of `tree` (§12.3).
 * `committer` is the commit's sender; external commits have sender new_member_commit.
 */
export function applyProposalList(
  cs: CipherSuite,
  tree: RatchetTree,
  context: GroupContext,
  proposals: readonly CommittedProposal[],
  committer: Sender,
  policy: ProposalPolicy = {},
): AppliedProposals {
  const external = committer.type === "new_member_commit";
  const byType = <T extends Proposal["type"]>(t: T) =>
    proposals.filter((p): p is CommittedProposal & { proposal: ProposalOf<T> } => p.proposal.type === t);
  const gce = byType("group_context_extensions");
  const updates = byType("update");
  const removes = byType("remove");
  const adds = byType("add");
  const psks = byType("psk");
  const reinits = byType("reinit");
  const inits = byType("external_init");

  if (external) {
    // §12.2: exactly one ExternalInit, at most one Remove, PSKs, nothing else.
    if (inits.length !== 1) invalid("external commit needs exactly one ExternalInit");
    if (removes.length > 1) invalid("external commit may remove at most one leaf");
    if (proposals.length !== inits.length + removes.length + psks.length) invalid("external commit carries disallowed proposals");
  } else {
    if (inits.length > 0) invalid("ExternalInit outside an external commit");
    if (reinits.length > 0 && proposals.length > 1) invalid("ReInit must be the only proposal");
  }
  if (gce.length > 1) invalid("more than one GroupContextExtensions proposal");

  const committerLeaf = committer.type === "member" ? committer.leafIndex : -1;
  const diff = tree.diff();
  const touched = new Set<number>();

  // 1. GroupContextExtensions: the new extensions govern the rest of the list.
  let extensions = context.extensions;
  if (gce.length === 1) {
    extensions = gce[0]!.proposal.extensions;
    checkGroupContextExtensions(extensions);
  }

  // 2. Updates, from members other than the committer.
  for (const { proposal, sender } of updates) {
    if (sender.type !== "member") invalid("Update from a non-member");
    const l = sender.leafIndex;
    if (l === committerLeaf) invalid("commit includes an Update from the committer");
    if (touched.has(l)) invalid(`several Update/Remove proposals for leaf ${l}`);
    touched.add(l);
    if (leafNodeAt(diff, l) === undefined) invalid(`Update from blank leaf ${l}`);
    validateLeafNode(cs, proposal.leafNode, {
      source: "update",
      groupId: context.groupId,
      leafIndex: l,
      groupExtensions: extensions,
      tree: diff,
      replacing: l,
      credentialValidator: policy.credentialValidator,
    });
    diff.updateLeaf(l, proposal.leafNode);
  }

  // 3. Removes.
  const removed: number[] = [];
  for (const { proposal } of removes) {
    const l = proposal.removed;
    if (l === committerLeaf) invalid("commit removes the committer");
    if (touched.has(l)) invalid(`several Update/Remove proposals for leaf ${l}`);
    touched.add(l);
    if (leafNodeAt(diff, l) === undefined) fail("InvalidProposal", `Remove of blank or absent leaf ${l}`);
    diff.removeLeaf(l);
    removed.push(l);
  }

  // 4. Adds, in list order.
  const added: { leafIndex: number; keyPackage: KeyPackage }[] = [];
  const newLeaves = new Set<number>();
  for (const { proposal } of adds) {
    const kp = proposal.keyPackage;
    if (diff.findSignatureKey(kp.leafNode.signatureKey) >= 0) {
      fail("DuplicateAdd", "Add of a client already in the group (same signature key)");
    }
    validateKeyPackage(cs, kp, {
      groupExtensions: extensions,
      tree: diff,
      now: policy.now,
      credentialValidator: policy.credentialValidator,
    });
    const leafIndex = diff.addLeaf(kp.leafNode);
    added.push({ leafIndex, keyPackage: kp });
    newLeaves.add(leafIndex);
  }

  // 5. PSKs: distinct ids, nonce of Nh bytes, resumption only for application use (§12.1.4).
  const seenPsk = new Set<string>();
  const pskIds: PreSharedKeyID[] = [];
  for (const { proposal } of psks) {
    const id = proposal.psk;
    if (id.pskNonce.length !== cs.kdf.nh) fail("InvalidProposal", "psk_nonce must be KDF.Nh bytes");
    if (id.pskType === "resumption" && id.usage !== "application" && id.usage !== policy.resumptionUsage) {
      fail("InvalidProposal", `resumption PSK with usage ${id.usage} outside reinit/branch`);
    }
    const key = bytesKey(encode(encodePreSharedKeyID, id));
    if (seenPsk.has(key)) invalid("the same PSK is proposed twice");
    seenPsk.add(key);
    pskIds.push(id);
  }

  // 6. ReInit.
  let reinit: ReInit | undefined;
  if (reinits.length === 1) {
    const r = reinits[0]!.proposal;
    if (r.version < context.version) fail("InvalidProposal", "ReInit to an older protocol version");
    reinit = { groupId: r.groupId, version: r.version, cipherSuite: r.cipherSuite, extensions: r.extensions };
  }

  // GroupContextExtensions must be supported by every member after the list is applied (§12.1.7).
  if (gce.length === 1) checkMembersSupport(diff, extensions);

  const pathRequired = proposals.length === 0 || proposals.some((p) => PATH_REQUIRED.has(p.proposal.type));
  return {
    diff,
    extensions,
    adds: added,
    removed,
    updated: updates.map((u) => (u.sender as { leafIndex: number }).leafIndex),
    psks: pskIds,
    externalInit: inits[0]?.proposal.kemOutput,
    reinit,
    pathRequired,
    newLeaves,
  };
}

/** Syntactic checks of a GroupContext extension list. */
export function checkGroupContextExtensions(extensions: readonly Extension[]): void {
  if (hasDuplicateExtension(extensions)) fail("InvalidExtension", "duplicate extension type");
  for (const e of extensions) {
    try {
      if (e.extensionType === ExtensionType.required_capabilities) readRequiredCapabilities([e]);
      if (e.extensionType === ExtensionType.external_senders) decode((r) => r.vector(decodeExternalSender), e.extensionData);
    } catch {
      fail("InvalidExtension", `malformed extension ${e.extensionType}`);
    }
  }
}

/** Every member lists every non-default extension type and the required capabilities. */
function checkMembersSupport(view: TreeDiff, extensions: readonly Extension[]): void {
  const required = readRequiredCapabilities(extensions);
  const needExt = new Set(extensions.map((e) => e.extensionType).filter((t) => t > 5));
  for (const t of required?.extensionTypes ?? []) if (t > 5) needExt.add(t);
  const needProp = (required?.proposalTypes ?? []).filter((t) => t > 7);
  const needCred = required?.credentialTypes ?? [];
  for (const l of memberLeaves(view)) {
    const caps = leafNodeAt(view, l)!.capabilities;
    for (const t of needExt) if (!caps.extensions.includes(t)) fail("UnsupportedCapability", `leaf ${l} lacks extension ${t}`);
    for (const t of needProp) if (!caps.proposals.includes(t)) fail("UnsupportedCapability", `leaf ${l} lacks proposal ${t}`);
    for (const t of needCred) if (!caps.credentials.includes(t)) fail("UnsupportedCapability", `leaf ${l} lacks credential ${t}`);
  }
}
