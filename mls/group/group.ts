/**
 * A member's group state (RFC 9420 §8–§12): the state machine that creates
 * and processes proposals, commits, Welcomes and application messages.
 *
 * Every operation is atomic: it computes the next state aside (a tree diff,
 * a cloned secret tree) and installs it only when every check passed, so a
 * rejected message leaves the group exactly as it was.
 */
import { bytesEqual, bytesKey, constantTimeEqual } from "../codec/bytes.js";
import { encode } from "../codec/writer.js";
import type { Credential } from "../credentials/credential.js";
import { refHash } from "../crypto/labels.js";
import type { CipherSuite, KeyPair } from "../crypto/provider.js";
import { fail } from "../errors.js";
import { externalPubExtension, ExtensionType, readExternalSenders, type Extension } from "../extensions/extension.js";
import { signContent, verifyContentSignature, withConfirmationTag } from "../framing/auth.js";
import {
  encodeAuthenticatedContent,
  type AuthenticatedContent,
  type ContentBody,
  type FramedContent,
  type Sender,
  type WireFormatName,
} from "../framing/content.js";
import type { MLSMessage, PrivateMessage, PublicMessage } from "../framing/messages.js";
import { protectPrivateMessage, unprotectPrivateMessage } from "../framing/private.js";
import { protectPublicMessage, unprotectPublicMessage } from "../framing/public.js";
import type { KeyPackage } from "../key-packages/key-package.js";
import { keyPackageRef } from "../key-packages/key-package-ops.js";
import type { Commit, ProposalOrRef } from "../messages/commit.js";
import { encodeGroupContext, PROTOCOL_VERSION_MLS10, type GroupContext } from "../messages/group-context.js";
import type { GroupInfo } from "../messages/group-info.js";
import type { Proposal, ReInit } from "../messages/proposal.js";
import type { PreSharedKeyID } from "../messages/psk-id.js";
import type { GroupSecrets } from "../messages/welcome.js";
import {
  confirmationTag as makeConfirmationTag,
  externalInitReceive,
  externalKeyPair,
  keySchedule,
  mlsExporter,
  zeroSecret,
  type EpochSecrets,
} from "../schedule/key-schedule.js";
import { pskSecret, type ResolvedPsk } from "../schedule/psk.js";
import { SecretTree } from "../schedule/secret-tree.js";
import { confirmedTranscriptHashOf, interimTranscriptHash } from "../schedule/transcript.js";
import { createWelcome, signGroupInfo } from "../schedule/welcome.js";
import type { LeafNode } from "../tree/leaf-node.js";
import { signLeafNode, validateLeafNode } from "../tree/leaf-validation.js";
import { commonAncestor, directPath } from "../tree/math.js";
import { encodeRatchetTree, type Node } from "../tree/node.js";
import { leafNodeAt, memberLeaves, type RatchetTree, type TreeDiff, type TreeView } from "../tree/ratchet-tree.js";
import { createUpdatePath, decryptUpdatePath, prunePrivateKeys, type PrivateKeys } from "../tree/treekem.js";
import type { ResolvedGroupOptions } from "./options.js";
import { applyProposalList, EXTERNAL_SENDER_TYPES, type CommittedProposal, type ProposalPolicy } from "./proposals.js";
import { stageCommit, type StagedCommit } from "./stage-commit.js";
import type { CommitSummary, CreatedCommit, Member, ProcessedMessage } from "./types.js";

/** The state of the current epoch. */
export interface EpochState {
  readonly context: GroupContext;
  readonly tree: RatchetTree;
  readonly interimTranscriptHash: Uint8Array;
  readonly confirmationTag: Uint8Array;
  readonly secrets: EpochSecrets;
  readonly secretTree: SecretTree;
  readonly ownLeaf: number;
  readonly keys: PrivateKeys;
}

/** What is kept of a past epoch: enough to read late application messages (§15.3). */
export interface PastEpoch {
  readonly context: GroupContext;
  readonly secretTree: SecretTree;
  readonly senderDataSecret: Uint8Array;
  /** Signature keys of leaves that changed after this epoch, as they were in it. */
  readonly undo: ReadonlyMap<number, Uint8Array | undefined>;
}

export interface StoredProposal {
  readonly ref: Uint8Array;
  readonly proposal: Proposal;
  readonly sender: Sender;
  /** The AuthenticatedContent it came in (kept for persistence). */
  readonly content: AuthenticatedContent;
}

export interface PendingCommit {
  readonly signature: Uint8Array;
  readonly diff: TreeDiff;
  readonly next: Omit<EpochState, "tree">;
  readonly summary: CommitSummary;
}

/** What the next epoch looks like once a commit is staged (shared by create and process). */
interface NextEpoch {
  readonly next: Omit<EpochState, "tree">;
  readonly welcomeSecret: Uint8Array;
  readonly joinerSecret: Uint8Array;
}

export interface CommitOptions {
  /** KeyPackages to add by value. */
  readonly add?: readonly KeyPackage[];
  /** Leaf indices to remove by value. */
  readonly remove?: readonly number[];
  /** PSKs to inject (each gets a fresh nonce if none is given). */
  readonly psks?: readonly PreSharedKeyID[];
  readonly groupContextExtensions?: readonly Extension[];
  readonly reinit?: ReInit;
  /** Include pending proposals received in this epoch by reference (default true). */
  readonly includePending?: boolean;
  /** Include an UpdatePath even when no proposal requires one (default false). */
  readonly forcePath?: boolean;
  readonly authenticatedData?: Uint8Array;
  /** New leaf contents for the committer's path leaf. */
  readonly leafCapabilities?: LeafNode["capabilities"];
  readonly leafExtensions?: readonly Extension[];
  /**
   * Include the ratchet_tree extension in the returned GroupInfo (default false:
   * a Delivery Service keeps the public tree, and encoding and signing the
   * whole tree costs O(n) per commit). `group.groupInfo()` includes it by default.
   */
  readonly groupInfoRatchetTree?: boolean;
  /** Allows a resumption PSK of this usage: only for the first commit of a branch or reinit group (§11.2, §11.3). */
  readonly resumptionUsage?: "reinit" | "branch";
}

export interface ProposeOptions {
  readonly authenticatedData?: Uint8Array;
}

const EMPTY: Uint8Array = new Uint8Array(0);

export class Group {
  /** @internal */
  constructor(
    readonly cs: CipherSuite,
    private signaturePrivateKey: Uint8Array,
    private epochState: EpochState,
    private opts: ResolvedGroupOptions,
    private proposals: Map<string, StoredProposal> = new Map(),
    private past: PastEpoch[] = [],
    private resumptionPsks: Map<bigint, Uint8Array> = new Map(),
    private ownUpdates: Map<string, KeyPair> = new Map(),
    private pending?: PendingCommit,
    private reinitProposal?: ReInit,
    private active = true,
  ) {
    this.rememberResumption();
  }

  // ---------------------------------------------------------------- views

  get options(): ResolvedGroupOptions {
    return this.opts;
  }

  /** Adds a PSK source consulted before the configured one (e.g. another group's resumption PSKs). */
  withPskResolver(resolve: (id: PreSharedKeyID) => Uint8Array | undefined): this {
    const previous = this.opts.resolvePsk;
    this.opts = { ...this.opts, resolvePsk: (id) => resolve(id) ?? previous?.(id) };
    return this;
  }

  get groupId(): Uint8Array {
    return this.epochState.context.groupId;
  }
  get epoch(): bigint {
    return this.epochState.context.epoch;
  }
  get groupContext(): GroupContext {
    return this.epochState.context;
  }
  get leafIndex(): number {
    return this.epochState.ownLeaf;
  }
  /** §8.7: the epoch authenticator, equal for all members of an epoch. */
  get epochAuthenticator(): Uint8Array {
    return this.epochState.secrets.epochAuthenticator;
  }
  /** False once this member was removed or the group was reinitialized. */
  get isActive(): boolean {
    return this.active && this.reinitProposal === undefined;
  }
  /** The ReInit this group ended with, if any (§11.2). */
  get reinit(): ReInit | undefined {
    return this.reinitProposal;
  }
  get hasPendingCommit(): boolean {
    return this.pending !== undefined;
  }
  /** Proposals received in this epoch and not yet committed. */
  pendingProposals(): StoredProposal[] {
    return [...this.proposals.values()];
  }
  /** @internal state for persistence */
  get state(): {
    epoch: EpochState;
    signaturePrivateKey: Uint8Array;
    proposals: ReadonlyMap<string, StoredProposal>;
    past: readonly PastEpoch[];
    resumptionPsks: ReadonlyMap<bigint, Uint8Array>;
    ownUpdates: ReadonlyMap<string, KeyPair>;
    reinit: ReInit | undefined;
    active: boolean;
    pending: PendingCommit | undefined;
  } {
    return {
      epoch: this.epochState,
      signaturePrivateKey: this.signaturePrivateKey,
      proposals: this.proposals,
      past: this.past,
      resumptionPsks: this.resumptionPsks,
      ownUpdates: this.ownUpdates,
      reinit: this.reinitProposal,
      active: this.active,
      pending: this.pending,
    };
  }

  members(): Member[] {
    const t = this.epochState.tree;
    return memberLeaves(t).map((l) => {
      const leaf = leafNodeAt(t, l)!;
      return { leafIndex: l, credential: leaf.credential, signatureKey: leaf.signatureKey, leafNode: leaf };
    });
  }

  ownLeafNode(): LeafNode {
    return leafNodeAt(this.epochState.tree, this.epochState.ownLeaf)!;
  }

  /** The public ratchet tree, as the ratchet_tree extension carries it (§12.4.3.3). */
  ratchetTree(): (Node | undefined)[] {
    return this.epochState.tree.toNodes();
  }

  /** §8.5 MLS-Exporter. */
  exportSecret(label: string, context: Uint8Array, length: number): Uint8Array {
    return mlsExporter(this.cs, this.epochState.secrets.exporterSecret, label, context, length);
  }

  /** A signed GroupInfo of the current epoch (§12.4.3), with external_pub and optionally the tree. */
  groupInfo(options: { ratchetTree?: boolean; externalPub?: boolean } = {}): MLSMessage {
    const e = this.epochState;
    return {
      version: PROTOCOL_VERSION_MLS10,
      wireFormat: "mls_group_info",
      groupInfo: this.makeGroupInfo(e.context, e.confirmationTag, e.ownLeaf, e.secrets, e.tree, options),
    };
  }

  private makeGroupInfo(
    context: GroupContext,
    confirmationTag: Uint8Array,
    signer: number,
    secrets: EpochSecrets,
    tree: TreeView,
    o: { ratchetTree?: boolean; externalPub?: boolean },
  ): GroupInfo {
    const extensions: Extension[] = [];
    if (o.ratchetTree ?? true) {
      extensions.push({ extensionType: ExtensionType.ratchet_tree, extensionData: encode(encodeRatchetTree, treeNodes(tree), 4096) });
    }
    if (o.externalPub ?? true) extensions.push(externalPubExtension(externalKeyPair(this.cs, secrets.externalSecret).publicKey));
    return signGroupInfo(this.cs, this.signaturePrivateKey, { groupContext: context, extensions, confirmationTag, signer });
  }

  // ---------------------------------------------------------------- sending

  /** Encrypts application data as a PrivateMessage (§6.3, §15). */
  encrypt(data: Uint8Array, options: ProposeOptions = {}): MLSMessage {
    this.ensureActive();
    if (this.proposals.size > 0 && !this.options.allowSendWithPendingProposals) {
      fail("PendingProposals", "proposals are pending: commit them before sending application data (§12.4)");
    }
    const content = this.framed({ contentType: "application", applicationData: data }, options.authenticatedData);
    return this.wrap(signContent(this.cs, this.signaturePrivateKey, "mls_private_message", content, this.epochState.context));
  }

  proposeAdd(keyPackage: KeyPackage, o: ProposeOptions = {}): MLSMessage {
    return this.propose({ type: "add", keyPackage }, o);
  }

  proposeRemove(leafIndex: number, o: ProposeOptions = {}): MLSMessage {
    return this.propose({ type: "remove", removed: leafIndex }, o);
  }

  /** An Update proposal with a fresh encryption key (§12.1.2). */
  proposeUpdate(o: ProposeOptions & { capabilities?: LeafNode["capabilities"]; extensions?: readonly Extension[] } = {}): MLSMessage {
    const e = this.epochState;
    const old = this.ownLeafNode();
    const kp = this.cs.kem.generateKeyPair();
    const leafNode = signLeafNode(
      this.cs,
      this.signaturePrivateKey,
      {
        encryptionKey: kp.publicKey,
        signatureKey: old.signatureKey,
        credential: old.credential,
        capabilities: o.capabilities ?? old.capabilities,
        leafNodeSource: "update",
        extensions: o.extensions ?? old.extensions,
      },
      e.context.groupId,
      e.ownLeaf,
    );
    return this.propose({ type: "update", leafNode }, o, kp);
  }

  proposePsk(psk: PreSharedKeyID, o: ProposeOptions = {}): MLSMessage {
    return this.propose({ type: "psk", psk }, o);
  }

  proposeGroupContextExtensions(extensions: readonly Extension[], o: ProposeOptions = {}): MLSMessage {
    return this.propose({ type: "group_context_extensions", extensions }, o);
  }

  proposeReInit(reinit: ReInit, o: ProposeOptions = {}): MLSMessage {
    return this.propose({ type: "reinit", ...reinit }, o);
  }

  private propose(proposal: Proposal, o: ProposeOptions, updateKey?: KeyPair): MLSMessage {
    this.ensureActive();
    const content = this.framed({ contentType: "proposal", proposal }, o.authenticatedData);
    const { message, ac } = this.protectHandshake(content);
    const ref = proposalRef(this.cs, ac);
    this.proposals.set(bytesKey(ref), { ref, proposal, sender: content.sender, content: ac });
    if (updateKey) this.ownUpdates.set(bytesKey(ref), updateKey);
    return message;
  }

  private framed(body: ContentBody, authenticatedData = EMPTY): FramedContent {
    const e = this.epochState;
    return {
      groupId: e.context.groupId,
      epoch: e.context.epoch,
      sender: { type: "member", leafIndex: e.ownLeaf },
      authenticatedData,
      ...body,
    };
  }

  private handshakeWireFormat(): WireFormatName {
    return this.options.handshakeWireFormat === "private" ? "mls_private_message" : "mls_public_message";
  }

  /** Signs and protects a proposal; commits are protected in `commit` (they need the tag first). */
  private protectHandshake(content: FramedContent): { message: MLSMessage; ac: AuthenticatedContent } {
    const e = this.epochState;
    const wf = this.handshakeWireFormat();
    const ac = signContent(this.cs, this.signaturePrivateKey, wf, content, e.context);
    return { message: this.wrap(ac), ac };
  }

  private wrap(ac: AuthenticatedContent): MLSMessage {
    const e = this.epochState;
    if (ac.wireFormat === "mls_public_message") {
      const publicMessage = protectPublicMessage(this.cs, ac, e.context, e.secrets.membershipKey);
      return { version: PROTOCOL_VERSION_MLS10, wireFormat: "mls_public_message", publicMessage };
    }
    // The sender's ratchet advances for good (even if a commit is later dropped): never reuse a generation.
    const secretTree = e.secretTree.clone();
    const privateMessage = protectPrivateMessage(
      this.cs,
      ac,
      { secretTree, senderDataSecret: e.secrets.senderDataSecret },
      { padding: this.options.padding },
    );
    this.epochState = { ...e, secretTree };
    return { version: PROTOCOL_VERSION_MLS10, wireFormat: "mls_private_message", privateMessage };
  }

  /**
   * Creates a Commit (§12.4.1) covering pending proposals (by reference) and the
   * given changes (by value). The group does not change until
   * `mergePendingCommit` (after the Delivery Service accepted it); a later call
   * replaces the pending commit.
   */
  commit(o: CommitOptions = {}): CreatedCommit {
    this.ensureActive();
    const e = this.epochState;
    const cs = this.cs;
    const own = e.ownLeaf;
    const sender: Sender = { type: "member", leafIndex: own };

    const byValue: Proposal[] = [];
    for (const kp of o.add ?? []) byValue.push({ type: "add", keyPackage: kp });
    for (const l of o.remove ?? []) byValue.push({ type: "remove", removed: l });
    for (const p of o.psks ?? []) byValue.push({ type: "psk", psk: p });
    if (o.groupContextExtensions) byValue.push({ type: "group_context_extensions", extensions: o.groupContextExtensions });
    if (o.reinit) byValue.push({ type: "reinit", ...o.reinit });

    const byRef = o.includePending === false ? [] : this.selectPendingProposals(byValue);
    const list: ProposalOrRef[] = [
      ...byRef.map((p): ProposalOrRef => ({ type: "reference", reference: p.ref })),
      ...byValue.map((proposal): ProposalOrRef => ({ type: "proposal", proposal })),
    ];
    const committed: CommittedProposal[] = [
      ...byRef.map((p) => ({ proposal: p.proposal, sender: p.sender })),
      ...byValue.map((proposal) => ({ proposal, sender })),
    ];
    const policy: ProposalPolicy = { ...this.policy(), now: this.options.now(), resumptionUsage: o.resumptionUsage };
    const applied = applyProposalList(cs, e.tree, e.context, committed, sender, policy);
    const diff = applied.diff;
    const baseContext = { ...e.context, epoch: e.context.epoch + 1n, extensions: applied.extensions };

    let commitSecret = zeroSecret(cs);
    let keys: PrivateKeys = new Map(e.keys);
    let pathSecrets: ReadonlyMap<number, Uint8Array> | undefined;
    let commit: Commit;
    if (applied.pathRequired || o.forcePath) {
      const oldLeaf = leafNodeAt(e.tree, own)!;
      const created = createUpdatePath({
        diff,
        leafIndex: own,
        excluded: applied.newLeaves,
        groupContext: (treeHash) => encode(encodeGroupContext, { ...baseContext, treeHash }, 512),
        makeLeaf: (encryptionKey, parentHash) =>
          signLeafNode(
            cs,
            this.signaturePrivateKey,
            {
              encryptionKey,
              signatureKey: oldLeaf.signatureKey,
              credential: oldLeaf.credential,
              capabilities: o.leafCapabilities ?? oldLeaf.capabilities,
              leafNodeSource: "commit",
              parentHash,
              extensions: o.leafExtensions ?? oldLeaf.extensions,
            },
            e.context.groupId,
            own,
          ),
      });
      commitSecret = created.commitSecret;
      pathSecrets = created.pathSecrets;
      keys = new Map(keys);
      for (const i of [own * 2, ...directPath(own * 2, diff.leafCount)]) keys.delete(i);
      for (const [i, kp] of created.privateKeys) keys.set(i, kp);
      commit = { proposals: list, path: created.updatePath };
    } else {
      commit = { proposals: list };
    }
    prunePrivateKeys(diff, own, keys);

    const wf = this.handshakeWireFormat();
    const content = this.framed({ contentType: "commit", commit }, o.authenticatedData);
    const unsigned = signContent(cs, this.signaturePrivateKey, wf, content, e.context);
    const provisional: GroupContext = { ...baseContext, treeHash: diff.rootHash() };
    const psks = this.resolvePsks(applied.psks);
    const staged = this.nextEpoch(provisional, unsigned, e.secrets.initSecret, commitSecret, psks, diff.leafCount, own, keys);
    const ac = withConfirmationTag(unsigned, staged.next.confirmationTag);
    const message = this.wrap(ac);

    const summary: CommitSummary = {
      epoch: staged.next.context.epoch,
      sender,
      committer: own,
      external: false,
      added: applied.adds.map((a) => a.leafIndex),
      removed: applied.removed,
      updated: applied.updated,
      pathIncluded: commit.path !== undefined,
      reinit: applied.reinit,
      selfRemoved: false,
    };
    const next = staged.next;
    const info = this.makeGroupInfo(next.context, next.confirmationTag, own, next.secrets, diff, {
      ratchetTree: o.groupInfoRatchetTree ?? false,
    });
    let welcome: MLSMessage | undefined;
    if (applied.adds.length > 0) {
      const welcomeInfo = this.makeGroupInfo(next.context, next.confirmationTag, own, next.secrets, diff, {
        ratchetTree: this.options.ratchetTreeInWelcome,
        externalPub: false,
      });
      const recipients = applied.adds.map(({ leafIndex, keyPackage }) => {
        const groupSecrets: GroupSecrets = {
          joinerSecret: staged.joinerSecret,
          pathSecret: pathSecrets?.get(commonAncestor(own * 2, leafIndex * 2)),
          psks: applied.psks,
        };
        return { keyPackageRef: keyPackageRef(cs, keyPackage), initKey: keyPackage.initKey, groupSecrets };
      });
      welcome = {
        version: PROTOCOL_VERSION_MLS10,
        wireFormat: "mls_welcome",
        welcome: createWelcome(cs, staged.welcomeSecret, welcomeInfo, recipients),
      };
    }
    this.pending = { signature: ac.auth.signature, diff, next, summary };
    return {
      commit: message,
      welcome,
      groupInfo: { version: PROTOCOL_VERSION_MLS10, wireFormat: "mls_group_info", groupInfo: info },
      summary,
    };
  }

  /** Installs the pending commit (after the Delivery Service accepted it). */
  mergePendingCommit(): CommitSummary {
    const p = this.pending;
    if (p === undefined) fail("NoPendingCommit", "no commit is pending");
    this.install(p.diff, p.next, p.summary);
    return p.summary;
  }

  /** Drops the pending commit (another commit won the epoch). */
  clearPendingCommit(): void {
    this.pending = undefined;
  }

  /**
   * Pending proposals to include by reference (§12.2, §12.4): valid ones, at
   * most one Update/Remove per leaf (Removes preferred), no Update from
   * ourselves, no Remove of ourselves, no proposal conflicting with `byValue`.
   */
  private selectPendingProposals(byValue: readonly Proposal[]): StoredProposal[] {
    const own = this.epochState.ownLeaf;
    const removedLeaves = new Set<number>();
    for (const p of byValue) if (p.type === "remove") removedLeaves.add(p.removed);
    const all = [...this.proposals.values()];
    for (const p of all) if (p.proposal.type === "remove" && p.proposal.removed !== own) removedLeaves.add(p.proposal.removed);
    const chosen: StoredProposal[] = [];
    const seenRemove = new Set<number>();
    const updatedBy = new Map<number, StoredProposal>();
    const addKeys = new Set<string>();
    for (const p of byValue) if (p.type === "add") addKeys.add(bytesKey(p.keyPackage.leafNode.signatureKey));
    let gce = byValue.some((p) => p.type === "group_context_extensions");
    const hasReinit = byValue.some((p) => p.type === "reinit");
    let pendingReinit: StoredProposal | undefined;
    for (const p of all) {
      const prop = p.proposal;
      switch (prop.type) {
        case "remove":
          if (prop.removed === own || seenRemove.has(prop.removed)) continue;
          if (byValue.some((v) => v.type === "remove" && v.removed === prop.removed)) continue;
          if (leafNodeAt(this.epochState.tree, prop.removed) === undefined) continue;
          seenRemove.add(prop.removed);
          chosen.push(p);
          break;
        case "update": {
          if (p.sender.type !== "member" || p.sender.leafIndex === own || removedLeaves.has(p.sender.leafIndex)) continue;
          updatedBy.set(p.sender.leafIndex, p); // the most recent Update wins
          break;
        }
        case "add": {
          const k = bytesKey(prop.keyPackage.leafNode.signatureKey);
          if (addKeys.has(k)) continue;
          addKeys.add(k);
          chosen.push(p);
          break;
        }
        case "group_context_extensions":
          if (gce) continue;
          gce = true;
          chosen.push(p);
          break;
        case "reinit":
          pendingReinit ??= p;
          continue; // §12.2: prefer the other proposals; the ReInit can be resent
        default:
          chosen.push(p);
      }
    }
    chosen.push(...updatedBy.values());
    if (hasReinit) return [];
    // A ReInit alone (nothing else pending or given by value) is committed (§12.2).
    if (chosen.length === 0 && byValue.length === 0 && pendingReinit !== undefined) return [pendingReinit];
    return chosen;
  }

  // ---------------------------------------------------------------- receiving

  /** Processes any MLSMessage addressed to this group. Atomic: on error nothing changed. */
  process(message: MLSMessage): ProcessedMessage {
    if (message.version !== PROTOCOL_VERSION_MLS10) fail("InvalidValue", `protocol version ${message.version}`);
    if (message.wireFormat === "mls_public_message") return this.processPublic(message.publicMessage);
    if (message.wireFormat === "mls_private_message") return this.processPrivate(message.privateMessage);
    return fail("WrongWireFormat", `${message.wireFormat} is not processed by a group (use the join functions)`);
  }

  private processPublic(msg: PublicMessage): ProcessedMessage {
    const e = this.epochState;
    const c = msg.content;
    if (!bytesEqual(c.groupId, e.context.groupId)) fail("WrongGroup", "message for another group");
    if (c.epoch !== e.context.epoch) fail("WrongEpoch", `handshake for epoch ${c.epoch}, group is in ${e.context.epoch}`);
    const ac = unprotectPublicMessage(this.cs, msg, e.context, e.secrets.membershipKey);
    return this.processHandshake(ac);
  }

  private processPrivate(msg: PrivateMessage): ProcessedMessage {
    const e = this.epochState;
    if (!bytesEqual(msg.groupId, e.context.groupId)) fail("WrongGroup", "message for another group");
    if (msg.contentType !== "application") {
      if (msg.epoch !== e.context.epoch) fail("WrongEpoch", `handshake for epoch ${msg.epoch}, group is in ${e.context.epoch}`);
      const secretTree = e.secretTree.clone();
      const out = unprotectPrivateMessage(this.cs, msg, {
        secretTree,
        senderDataSecret: e.secrets.senderDataSecret,
        isMember: (l) => leafNodeAt(e.tree, l) !== undefined,
      });
      const result = this.processHandshake(out.authenticatedContent);
      // The consumed handshake key stays consumed, in whichever epoch is current now.
      if (this.epochState.context.epoch === msg.epoch) this.epochState = { ...this.epochState, secretTree };
      else this.replacePastSecretTree(msg.epoch, secretTree);
      return result;
    }
    return this.processApplication(msg);
  }

  private processApplication(msg: PrivateMessage): ProcessedMessage {
    const e = this.epochState;
    let context: GroupContext;
    let secretTree: SecretTree;
    let senderDataSecret: Uint8Array;
    let signatureKeyOf: (leaf: number) => Uint8Array | undefined;
    if (msg.epoch === e.context.epoch) {
      context = e.context;
      secretTree = e.secretTree.clone();
      senderDataSecret = e.secrets.senderDataSecret;
      signatureKeyOf = (l) => leafNodeAt(e.tree, l)?.signatureKey;
    } else {
      const idx = this.past.findIndex((p) => p.context.epoch === msg.epoch);
      if (idx < 0) fail("WrongEpoch", `application message for epoch ${msg.epoch}, keys not retained`);
      const p = this.past[idx]!;
      context = p.context;
      secretTree = p.secretTree.clone();
      senderDataSecret = p.senderDataSecret;
      signatureKeyOf = (l) => this.pastSignatureKey(idx, l);
    }
    const out = unprotectPrivateMessage(this.cs, msg, {
      secretTree,
      senderDataSecret,
      isMember: (l) => signatureKeyOf(l) !== undefined,
    });
    const ac = out.authenticatedContent;
    const senderKey = signatureKeyOf(out.leafIndex)!;
    verifyContentSignature(this.cs, senderKey, ac, context);
    if (ac.content.contentType !== "application") fail("InvalidValue", "unreachable");
    if (msg.epoch === e.context.epoch) this.epochState = { ...e, secretTree };
    else this.replacePastSecretTree(msg.epoch, secretTree);
    const credential = this.credentialAt(out.leafIndex, senderKey);
    return {
      kind: "application",
      epoch: msg.epoch,
      sender: out.leafIndex,
      credential,
      data: ac.content.applicationData,
      authenticatedData: ac.content.authenticatedData,
    };
  }

  private credentialAt(leaf: number, signatureKey: Uint8Array): Credential {
    // Credentials of past senders: the leaf as of now if it is still the signer (a later
    // occupant of the leaf is someone else), else the sender data is all we have.
    const now = leafNodeAt(this.epochState.tree, leaf);
    return now && bytesEqual(now.signatureKey, signatureKey) ? now.credential : { type: "basic", identity: EMPTY };
  }

  private replacePastSecretTree(epoch: bigint, secretTree: SecretTree): void {
    this.past = this.past.map((p) => (p.context.epoch === epoch ? { ...p, secretTree } : p));
  }

  /** The signature key of `leaf` in past epoch `idx` (0 = the previous epoch). */
  private pastSignatureKey(idx: number, leaf: number): Uint8Array | undefined {
    let key = leafNodeAt(this.epochState.tree, leaf)?.signatureKey;
    for (let i = 0; i <= idx; i++) {
      const undo = this.past[i]!.undo;
      if (undo.has(leaf)) key = undo.get(leaf);
    }
    return key;
  }

  private processHandshake(ac: AuthenticatedContent): ProcessedMessage {
    const c = ac.content;
    if (c.contentType === "application") fail("WrongWireFormat", "application data must be a PrivateMessage");
    if (c.contentType === "proposal") return this.receiveProposal(ac);
    return { kind: "commit", summary: this.receiveCommit(ac) };
  }

  private receiveProposal(ac: AuthenticatedContent): ProcessedMessage {
    const e = this.epochState;
    const c = ac.content;
    if (c.contentType !== "proposal") fail("InvalidValue", "not a proposal");
    const proposal = c.proposal;
    let signer: Uint8Array;
    switch (c.sender.type) {
      case "member": {
        const leaf = leafNodeAt(e.tree, c.sender.leafIndex);
        if (leaf === undefined) fail("UnknownSender", `proposal from blank leaf ${c.sender.leafIndex}`);
        signer = leaf.signatureKey;
        break;
      }
      case "external": {
        const senders = readExternalSenders(e.context.extensions);
        const s = senders?.[c.sender.senderIndex];
        if (s === undefined) fail("UnknownSender", `no external sender ${c.sender.senderIndex}`);
        if (!EXTERNAL_SENDER_TYPES.has(proposal.type)) fail("InvalidSender", `external senders cannot propose ${proposal.type}`);
        signer = s.signatureKey;
        break;
      }
      case "new_member_proposal":
        if (proposal.type !== "add") fail("InvalidSender", "new_member_proposal must be an Add");
        signer = proposal.keyPackage.leafNode.signatureKey;
        break;
      default:
        return fail("InvalidSender", "a new_member_commit sender cannot send proposals");
    }
    verifyContentSignature(this.cs, signer, ac, e.context);
    this.checkProposal(proposal, c.sender);
    const ref = proposalRef(this.cs, ac);
    this.proposals.set(bytesKey(ref), { ref, proposal, sender: c.sender, content: ac });
    return { kind: "proposal", sender: c.sender, ref, proposal };
  }

  /** Checks of a single proposal on receipt (§12.1); list-level checks come with the commit. */
  private checkProposal(p: Proposal, sender: Sender): void {
    const e = this.epochState;
    switch (p.type) {
      case "add":
        // Validated in full when committed (against the tree of that moment); the signature now.
        applyProposalList(this.cs, e.tree, e.context, [{ proposal: p, sender }], { type: "member", leafIndex: -1 }, this.policy());
        return;
      case "remove":
        if (leafNodeAt(e.tree, p.removed) === undefined) fail("InvalidProposal", `Remove of blank or absent leaf ${p.removed}`);
        return;
      case "update":
        if (sender.type !== "member") fail("InvalidSender", "Update from a non-member");
        validateLeafNode(this.cs, p.leafNode, {
          source: "update",
          groupId: e.context.groupId,
          leafIndex: sender.leafIndex,
          groupExtensions: e.context.extensions,
          tree: e.tree,
          replacing: sender.leafIndex,
          credentialValidator: this.options.credentialValidator,
        });
        return;
      case "psk":
        if (p.psk.pskNonce.length !== this.cs.kdf.nh) fail("InvalidProposal", "psk_nonce must be KDF.Nh bytes");
        return;
      case "external_init":
        fail("InvalidProposal", "ExternalInit is only valid inside an external commit");
        return;
      default:
        return;
    }
  }

  private policy(): ProposalPolicy {
    return {
      now: this.options.checkReceivedLifetimes ? this.options.now() : undefined,
      credentialValidator: this.options.credentialValidator,
      sameClient: this.options.sameClient,
    };
  }

  private receiveCommit(ac: AuthenticatedContent): CommitSummary {
    const e = this.epochState;
    const c = ac.content;
    if (c.contentType !== "commit") fail("InvalidValue", "not a commit");
    // Our own commit coming back: install what we computed when creating it.
    if (c.sender.type === "member" && c.sender.leafIndex === e.ownLeaf) {
      const p = this.pending;
      if (p && constantTimeEqual(p.signature, ac.auth.signature)) return this.mergePendingCommit();
      fail("InvalidCommit", "a commit from this member's own leaf that is not its pending commit");
    }
    const staged = stageCommit(
      { cs: this.cs, context: e.context, tree: e.tree, interimTranscriptHash: e.interimTranscriptHash },
      ac,
      (ref) => this.resolveRef(ref),
      this.policy(),
    );
    const applied = staged.applied;
    const summaryBase = {
      epoch: staged.context.epoch,
      sender: c.sender,
      committer: staged.committer,
      external: staged.external,
      added: applied.adds.map((a) => a.leafIndex),
      removed: applied.removed,
      updated: applied.updated,
      pathIncluded: staged.path !== undefined,
      reinit: applied.reinit,
    };
    if (applied.removed.includes(e.ownLeaf)) {
      // §12.4.2: a removed member cannot follow; its state ends here.
      const summary: CommitSummary = { ...summaryBase, selfRemoved: true };
      this.active = false;
      this.pending = undefined;
      return summary;
    }

    // Our leaf may have been replaced by our own Update proposal.
    const diff = staged.applied.diff;
    let keys: PrivateKeys = new Map(e.keys);
    for (const p of staged.proposals) {
      if (p.proposal.type === "update" && p.sender.type === "member" && p.sender.leafIndex === e.ownLeaf) {
        const mine = this.findOwnUpdate(p.proposal.leafNode);
        if (mine === undefined) fail("InvalidCommit", "commit includes an Update of this member that it did not send");
        keys.set(e.ownLeaf * 2, mine);
      }
    }
    let commitSecret = zeroSecret(this.cs);
    if (staged.path !== undefined) {
      const out = decryptUpdatePath(
        diff,
        staged.path.merged,
        staged.path.updatePath,
        e.ownLeaf,
        applied.newLeaves,
        keys,
        staged.provisionalContext,
      );
      commitSecret = out.commitSecret;
      keys = new Map(keys);
      for (const [i, kp] of out.privateKeys) keys.set(i, kp);
    }
    prunePrivateKeys(diff, e.ownLeaf, keys);
    let initSecret = e.secrets.initSecret;
    if (staged.external) {
      initSecret = externalInitReceive(this.cs, externalKeyPair(this.cs, e.secrets.externalSecret).privateKey, applied.externalInit!);
    }
    const psks = this.resolvePsks(applied.psks);
    const next = this.epochFromContext(staged.context, staged, initSecret, commitSecret, psks, diff.leafCount, e.ownLeaf, keys);
    const summary: CommitSummary = { ...summaryBase, selfRemoved: false };
    this.install(diff, next.next, summary);
    return summary;
  }

  private findOwnUpdate(leaf: LeafNode): KeyPair | undefined {
    for (const kp of this.ownUpdates.values()) if (bytesEqual(kp.publicKey, leaf.encryptionKey)) return kp;
    return undefined;
  }

  private resolveRef(ref: Uint8Array): CommittedProposal {
    const p = this.proposals.get(bytesKey(ref));
    if (p === undefined) fail("MissingProposal", "commit references a proposal this member has not received");
    return { proposal: p.proposal, sender: p.sender };
  }

  private resolvePsks(ids: readonly PreSharedKeyID[]): ResolvedPsk[] {
    return ids.map((id) => ({ id, psk: this.lookupPsk(id) }));
  }

  private lookupPsk(id: PreSharedKeyID): Uint8Array {
    if (id.pskType === "resumption" && bytesEqual(id.pskGroupId, this.groupId)) {
      const psk = this.resumptionPsks.get(id.pskEpoch);
      if (psk) return psk;
    }
    const found = this.options.resolvePsk?.(id);
    if (found === undefined) fail("MissingPsk", `PSK ${id.pskType} not available`);
    return found;
  }

  /** The next epoch from a staged commit: key schedule, confirmation tag check (§12.4.2). */
  private epochFromContext(
    context: GroupContext,
    staged: StagedCommit,
    initSecret: Uint8Array,
    commitSecret: Uint8Array,
    psks: readonly ResolvedPsk[],
    leafCount: number,
    ownLeaf: number,
    keys: PrivateKeys,
  ): NextEpoch {
    const ks = keySchedule(this.cs, initSecret, commitSecret, pskSecret(this.cs, psks), encode(encodeGroupContext, context, 512));
    const tag = makeConfirmationTag(this.cs, ks.epochSecrets.confirmationKey, context.confirmedTranscriptHash);
    if (!constantTimeEqual(tag, staged.ac.auth.confirmationTag!)) fail("InvalidConfirmationTag", "confirmation tag does not match");
    return this.epochOf(context, staged.interimTranscriptHash, tag, ks, leafCount, ownLeaf, keys);
  }

  /** The committer's side: transcript hash from its own content, then the schedule. */
  private nextEpoch(
    provisional: GroupContext,
    unsigned: AuthenticatedContent,
    initSecret: Uint8Array,
    commitSecret: Uint8Array,
    psks: readonly ResolvedPsk[],
    leafCount: number,
    ownLeaf: number,
    keys: PrivateKeys,
  ): NextEpoch {
    const cs = this.cs;
    const confirmed = confirmedTranscriptHashOf(cs, this.epochState.interimTranscriptHash, unsigned);
    const context: GroupContext = { ...provisional, confirmedTranscriptHash: confirmed };
    const ks = keySchedule(cs, initSecret, commitSecret, pskSecret(cs, psks), encode(encodeGroupContext, context, 512));
    const tag = makeConfirmationTag(cs, ks.epochSecrets.confirmationKey, confirmed);
    return this.epochOf(context, interimTranscriptHash(cs, confirmed, tag), tag, ks, leafCount, ownLeaf, keys);
  }

  private epochOf(
    context: GroupContext,
    interim: Uint8Array,
    confirmationTag: Uint8Array,
    ks: { epochSecrets: EpochSecrets; welcomeSecret: Uint8Array; joinerSecret: Uint8Array },
    leafCount: number,
    ownLeaf: number,
    keys: PrivateKeys,
  ): NextEpoch {
    return {
      next: {
        context,
        interimTranscriptHash: interim,
        confirmationTag,
        secrets: ks.epochSecrets,
        secretTree: this.newSecretTree(ks.epochSecrets, leafCount),
        ownLeaf,
        keys,
      },
      welcomeSecret: ks.welcomeSecret,
      joinerSecret: ks.joinerSecret,
    };
  }

  private newSecretTree(secrets: EpochSecrets, leafCount: number): SecretTree {
    return SecretTree.create(this.cs, secrets.encryptionSecret, leafCount, {
      maxForwardDistance: this.options.maxForwardDistance,
      maxRetainedKeys: this.options.maxRetainedKeys,
    });
  }

  /** Moves to the next epoch: the current one is retired (kept for late messages), the diff merged. */
  private install(diff: TreeDiff, next: Omit<EpochState, "tree">, summary: CommitSummary): void {
    const e = this.epochState;
    const undo = new Map<number, Uint8Array | undefined>();
    for (const i of diff.changes.keys()) {
      if ((i & 1) === 0) undo.set(i >>> 1, leafNodeAt(e.tree, i >>> 1)?.signatureKey);
    }
    // Leaves cut off by truncation (§12.1.3) are not in the diff's changes: record them too.
    for (let l = diff.leafCount; l < e.tree.leafCount; l++) {
      const key = leafNodeAt(e.tree, l)?.signatureKey;
      if (key !== undefined) undo.set(l, key);
    }
    const retired: PastEpoch = {
      context: e.context,
      secretTree: e.secretTree,
      senderDataSecret: e.secrets.senderDataSecret,
      undo,
    };
    e.tree.merge(diff);
    this.past = [retired, ...this.past].slice(0, this.options.maxPastEpochs);
    this.epochState = { ...next, tree: e.tree };
    this.proposals = new Map();
    this.ownUpdates = new Map();
    this.pending = undefined;
    if (summary.reinit) this.reinitProposal = summary.reinit;
    this.rememberResumption();
  }

  private rememberResumption(): void {
    const e = this.epochState;
    this.resumptionPsks.set(e.context.epoch, e.secrets.resumptionPsk);
    while (this.resumptionPsks.size > this.options.maxResumptionPsks) {
      this.resumptionPsks.delete(this.resumptionPsks.keys().next().value!);
    }
  }

  /** The resumption PSK of a retained epoch of this group (§8.6), e.g. to branch or reinit. */
  resumptionPsk(epoch = this.epoch): Uint8Array | undefined {
    return this.resumptionPsks.get(epoch);
  }

  private ensureActive(): void {
    if (!this.active) fail("GroupInactive", "this member was removed from the group");
    if (this.reinitProposal) fail("GroupInactive", "the group was reinitialized; use the new group");
  }
}

/** ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent) (§5.2). */
export function proposalRef(cs: CipherSuite, ac: AuthenticatedContent): Uint8Array {
  return refHash(cs, "MLS 1.0 Proposal Reference", encode(encodeAuthenticatedContent, ac, 1024));
}


/** All nodes of a tree view, trailing blanks trimmed. */
export function treeNodes(view: TreeView): (Node | undefined)[] {
  const width = view.leafCount * 2 - 1;
  const out = new Array<Node | undefined>(width);
  for (let i = 0; i < width; i++) out[i] = view.node(i);
  let n = width;
  while (n > 0 && out[n - 1] === undefined) n--;
  out.length = n;
  return out;
}

/** Fresh PSK nonce of KDF.Nh bytes (§8.4). */
export function freshPskNonce(cs: CipherSuite): Uint8Array {
  return cs.randomBytes(cs.kdf.nh);
}
