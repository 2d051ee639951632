/**
 * The Delivery Service's view of one room's MLS group (docs/protocol.md §7):
 * the public group state, the DS's pending proposals of the epoch and the
 * epoch of the latest removal. It validates binds, commits and application
 * messages with public data only; persistence and XMPP are elsewhere.
 */
import {
  bytesEqual,
  bytesKey,
  decode,
  decodeMLSMessage,
  encode,
  encodeMLSMessage,
  encodeRatchetTree,
  ExtensionType,
  findExtension,
  isMlsError,
  keyPackageRef,
  PublicGroup,
  readExternalPub,
  readExternalSenders,
  verifyGroupInfoSignature,
  type CipherSuite,
  type GroupInfo,
  type KeyPackage,
  type MLSMessage,
  type MlsError,
  type PrivateMessage,
  type StagedPublicMessage,
  type Welcome,
} from "../../mls/index.js";
import { deviceKey, deviceOfLeaf, type DeviceRef } from "./identity.js";
import { ProtocolError, refuse } from "./protocol-error.js";

/** A proposal the DS issued in the current epoch. */
export interface PendingProposal {
  readonly seq: bigint;
  readonly ref: Uint8Array;
  readonly kind: "add" | "remove";
  readonly device: DeviceRef;
  /** Remove: the leaf removed. */
  readonly leaf?: number | undefined;
  /** Add: the KeyPackage proposed (its ref routes the Welcome). */
  readonly keyPackageRef?: Uint8Array | undefined;
}

/** The DS's own MLS identity (external sender 0). */
export interface DsSigner {
  readonly domain: string;
  readonly signaturePrivateKey: Uint8Array;
  readonly signaturePublicKey: Uint8Array;
}

export interface CommitRequest {
  readonly commit: MLSMessage;
  readonly groupInfo: MLSMessage;
  readonly welcome?: MLSMessage | undefined;
  /** The stanza's bare `from`. */
  readonly senderJid: string;
  /** The device bound to the sending full JID, when the sender is an MLS occupant. */
  readonly occupantDevice?: string | undefined;
  /** §6.9: may this device join by external commit? */
  readonly mayJoinExternally: (device: DeviceRef) => boolean;
}

/** A validated commit, ready to be stored and applied. */
export interface AcceptedCommit {
  readonly staged: StagedPublicMessage & { kind: "commit" };
  readonly epoch: bigint;
  readonly newEpoch: bigint;
  readonly external: boolean;
  readonly committer: DeviceRef;
  /** Devices of the epoch the commit was sent in (the recipients of the commit entry). */
  readonly recipients: readonly DeviceRef[];
  readonly added: readonly { readonly device: DeviceRef; readonly leaf: number }[];
  readonly removed: readonly { readonly device: DeviceRef; readonly leaf: number }[];
  readonly groupInfo: Uint8Array;
  readonly welcome?: Uint8Array | undefined;
}

export interface ApplicationRequest {
  readonly message: PrivateMessage;
  readonly device: DeviceRef;
  readonly maxEpochLag: bigint;
}

/** Stable identifier of an epoch in the room's DAG: the hash of the message that created it. */
export function epochId(cs: CipherSuite, message: Uint8Array): Uint8Array {
  return cs.hash.digest(message);
}

function mlsReason(e: MlsError): { condition: "invalid-signature" | "invalid-commit" | "not-a-member" | "epoch-mismatch"; reason?: string } {
  switch (e.code) {
    case "InvalidSignature":
      return { condition: "invalid-signature" };
    case "UnknownSender":
      return { condition: "not-a-member" };
    case "WrongEpoch":
      return { condition: "epoch-mismatch" };
    case "MissingProposal":
      return { condition: "invalid-commit", reason: "unknown-proposal" };
    case "MissingPath":
      return { condition: "invalid-commit", reason: "path-required" };
    case "InvalidPath":
      return { condition: "invalid-commit", reason: "path" };
    case "ParentHashMismatch":
      return { condition: "invalid-commit", reason: "parent-hash" };
    case "InvalidExternalCommit":
      return { condition: "invalid-commit", reason: "external" };
    case "InvalidLeafNode":
    case "UnsupportedCapability":
    case "ExpiredLifetime":
    case "DuplicateKey":
      return { condition: "invalid-commit", reason: "leaf-node" };
    default:
      return { condition: "invalid-commit", reason: "proposal-list" };
  }
}

export class RoomMls {
  constructor(
    readonly room: string,
    readonly group: PublicGroup,
    /** The GroupInfo of the current epoch, as stored (encoded MLSMessage). */
    public groupInfo: Uint8Array,
    /** Epoch created by the most recent commit that removed a leaf (§7.5.7). */
    public removalEpoch: bigint,
    public pending: PendingProposal[],
    /** The seq the room's next log entry gets (mirrors the stored group row). */
    public nextSeq = 1n,
  ) {}

  get cs(): CipherSuite {
    return this.group.cs;
  }

  get epoch(): bigint {
    return this.group.epoch;
  }

  /** §7.1: validates the epoch-0 GroupInfo of a bind. */
  static bind(
    cs: CipherSuite,
    room: string,
    groupInfoBytes: Uint8Array,
    sender: DeviceRef,
    ds: DsSigner,
  ): RoomMls {
    const m = decodeOr(groupInfoBytes);
    if (m.wireFormat !== "mls_group_info") refuse("wrong-kind", `a bind carries a GroupInfo, not ${m.wireFormat}`);
    const info = m.groupInfo;
    const ctx = info.groupContext;
    const bad: (reason: string, text: string) => never = (reason, text) => refuse("invalid-group-info", text, { reason });
    if (ctx.cipherSuite !== cs.id) bad("cipher-suite", `cipher suite ${ctx.cipherSuite}, the service uses ${cs.id}`);
    if (ctx.groupId.length !== 32) bad("group-id", "group_id must be 32 bytes");
    if (ctx.epoch !== 0n || ctx.confirmedTranscriptHash.length !== 0) bad("epoch", "a bind is for epoch 0");
    if (!findExtension(info.extensions, ExtensionType.ratchet_tree) || !readExternalPub(info.extensions)) {
      bad("extensions", "the GroupInfo must carry ratchet_tree and external_pub");
    }
    const allowed = new Set<number>([ExtensionType.external_senders, ExtensionType.required_capabilities]);
    if (ctx.extensions.some((e) => !allowed.has(e.extensionType))) bad("external-senders", "only external_senders and required_capabilities");
    const senders = readExternalSenders(ctx.extensions);
    const s0 = senders?.[0];
    if (
      senders?.length !== 1 ||
      s0 === undefined ||
      !bytesEqual(s0.signatureKey, ds.signaturePublicKey) ||
      s0.credential.type !== "basic" ||
      new TextDecoder().decode(s0.credential.identity) !== ds.domain
    ) {
      bad("external-senders", "external_senders must hold exactly this service's key and domain");
    }
    if (info.signer !== 0) bad("signer", "the GroupInfo must be signed by leaf 0");
    let group: PublicGroup;
    try {
      group = PublicGroup.fromGroupInfo(cs, info);
    } catch (e) {
      if (!isMlsError(e)) throw e;
      if (e.code === "InvalidSignature") refuse("invalid-signature", e.message);
      return bad("tree", e.message);
    }
    const members = group.members();
    if (members.length !== 1 || members[0]!.leafIndex !== 0 || group.ratchetTree().length !== 1) {
      bad("tree", "a new group has exactly one leaf and no parent node");
    }
    const dev = deviceOfLeaf(members[0]!.leafNode);
    if (dev === undefined || dev.bareJid !== sender.bareJid || dev.deviceId !== sender.deviceId) {
      refuse("identity-mismatch", "leaf 0 must be the binding device (bare JID and application_id)");
    }
    return new RoomMls(room, group, groupInfoBytes, 0n, []);
  }

  /** Leaves by device; membership changes only with the epoch, so it is computed once per epoch. */
  devices(): ReadonlyMap<string, { readonly device: DeviceRef; readonly leaf: number }> {
    if (this.devicesOf?.epoch === this.group.epoch) return this.devicesOf.map;
    const map = new Map<string, { device: DeviceRef; leaf: number }>();
    for (const m of this.group.members()) {
      const d = deviceOfLeaf(m.leafNode);
      if (d) map.set(deviceKey(d), { device: d, leaf: m.leafIndex });
    }
    this.devicesOf = { epoch: this.group.epoch, map };
    return map;
  }
  private devicesOf: { epoch: bigint; map: ReadonlyMap<string, { readonly device: DeviceRef; readonly leaf: number }> } | undefined;

  leafOf(device: DeviceRef): number | undefined {
    return this.devices().get(deviceKey(device))?.leaf;
  }

  hasPendingRemove(device: DeviceRef): boolean {
    const k = deviceKey(device);
    return this.pending.some((p) => p.kind === "remove" && deviceKey(p.device) === k);
  }

  hasPendingAdd(device: DeviceRef): boolean {
    const k = deviceKey(device);
    return this.pending.some((p) => p.kind === "add" && deviceKey(p.device) === k);
  }

  /** §7.3: every check of a commit request, with public state only. Nothing changes. */
  checkCommit(req: CommitRequest): AcceptedCommit {
    const m = req.commit;
    if (m.wireFormat !== "mls_public_message" || m.publicMessage.content.contentType !== "commit") {
      refuse("wrong-kind", "a commit request carries a PublicMessage with a Commit");
    }
    const content = m.publicMessage.content;
    if (!bytesEqual(content.groupId, this.group.groupId)) refuse("wrong-group", "group_id is not this room's");
    if (content.epoch !== this.group.epoch) {
      throw new ProtocolError("epoch-mismatch", `commit for epoch ${content.epoch}`, { "current-epoch": String(this.group.epoch) });
    }
    const commit = content.commit;
    const sender = content.sender;
    const invalid: (reason: string, text: string) => never = (reason, text) => refuse("invalid-commit", text, { reason });
    let committer: DeviceRef;
    if (sender.type === "member") {
      const member = this.group.member(sender.leafIndex);
      if (member === undefined) refuse("not-a-member", "the sender leaf is blank");
      const dev = deviceOfLeaf(member.leafNode);
      if (dev === undefined || dev.bareJid !== req.senderJid) refuse("identity-mismatch", "the sender leaf belongs to another user");
      if (req.occupantDevice !== undefined && dev.deviceId !== req.occupantDevice) {
        refuse("identity-mismatch", "the sender leaf belongs to another device");
      }
      if (this.hasPendingRemove(dev)) refuse("not-a-member", "this device's removal is pending");
      committer = dev;
      if (commit.proposals.some((p) => p.type === "proposal")) invalid("by-value", "members commit DS proposals by reference only");
      const pendingRefs = new Map(this.pending.map((p) => [bytesKey(p.ref), p]));
      const referenced = new Set<string>();
      for (const p of commit.proposals) {
        if (p.type !== "reference") continue;
        const k = bytesKey(p.reference);
        if (!pendingRefs.has(k)) invalid("unknown-proposal", "a reference is not a DS proposal of this epoch");
        referenced.add(k);
      }
      const removesSelf = this.pending.some(
        (p) => p.kind === "remove" && p.leaf === sender.leafIndex && referenced.has(bytesKey(p.ref)),
      );
      if (removesSelf) invalid("self-remove", "a commit cannot remove its committer");
      const missing = this.pending.filter((p) => !referenced.has(bytesKey(p.ref)));
      if (missing.length > 0) {
        throw new ProtocolError(
          "missing-proposals",
          "the commit does not reference every pending DS proposal",
          {},
          missing.map((p) => p.seq),
        );
      }
    } else if (sender.type === "new_member_commit") {
      const leaf = commit.path?.leafNode;
      const dev = leaf && deviceOfLeaf(leaf);
      if (dev === undefined) invalid("external", "the external commit's leaf names no device");
      if (dev.bareJid !== req.senderJid) refuse("identity-mismatch", "the path leaf belongs to another user");
      if (req.occupantDevice !== undefined && dev.deviceId !== req.occupantDevice) {
        refuse("identity-mismatch", "the path leaf belongs to another device");
      }
      if (!req.mayJoinExternally(dev)) refuse("not-a-member", "this device may not join by external commit");
      const inits = commit.proposals.filter((p) => p.type === "proposal" && p.proposal.type === "external_init");
      const removes = commit.proposals.filter((p) => p.type === "proposal" && p.proposal.type === "remove");
      if (inits.length !== 1 || removes.length > 1 || commit.proposals.length !== inits.length + removes.length) {
        invalid("external", "an external commit holds one ExternalInit and at most one Remove, by value");
      }
      const existing = this.leafOf(dev);
      const r = removes[0];
      if (r !== undefined && r.type === "proposal" && r.proposal.type === "remove") {
        const target = this.group.member(r.proposal.removed);
        const td = target && deviceOfLeaf(target.leafNode);
        if (td === undefined || deviceKey(td) !== deviceKey(dev)) invalid("external", "a resync removes the device's own old leaf only");
      } else if (existing !== undefined) {
        invalid("duplicate-device", "this device already has a leaf: resync with a Remove of it");
      }
      committer = dev;
    } else {
      return refuse("wrong-kind", `a commit cannot come from a ${sender.type} sender`);
    }

    const recipients = [...this.devices().values()].map((d) => d.device);
    let staged: StagedPublicMessage;
    try {
      staged = this.group.stage(m);
    } catch (e) {
      if (!isMlsError(e)) throw e;
      const r = mlsReason(e);
      if (r.condition === "epoch-mismatch") {
        throw new ProtocolError("epoch-mismatch", e.message, { "current-epoch": String(this.group.epoch) });
      }
      return refuse(r.condition, e.message, r.reason ? { reason: r.reason } : {});
    }
    if (staged.kind !== "commit") return refuse("wrong-kind", "not a commit");
    const st = staged.staged;
    // §7.3.6: the path leaf keeps the committer's identity and device.
    if (st.path && sender.type === "member") {
      const d = deviceOfLeaf(st.path.updatePath.leafNode);
      if (d === undefined || deviceKey(d) !== deviceKey(committer)) refuse("identity-mismatch", "the UpdatePath changes the leaf's identity");
    }
    // Added leaves: the devices whose KeyPackages the DS proposed.
    const addByRef = new Map(this.pending.filter((p) => p.kind === "add").map((p) => [bytesKey(p.keyPackageRef!), p]));
    const added = st.applied.adds.map((a) => {
      const p = addByRef.get(bytesKey(keyPackageRef(this.cs, a.keyPackage)));
      const device = p?.device ?? deviceOfLeaf(a.keyPackage.leafNode);
      if (device === undefined) return invalid("proposal-list", "an added leaf names no device");
      return { device, leaf: a.leafIndex };
    });
    if (st.external) added.push({ device: committer, leaf: st.committer });
    const before = this.devices();
    const removed = st.applied.removed.map((leaf) => {
      const d = [...before.values()].find((x) => x.leaf === leaf);
      return { device: d?.device ?? { bareJid: "", deviceId: "" }, leaf };
    });

    const groupInfo = this.checkGroupInfo(req.groupInfo, st.context, st.ac.auth.confirmationTag!, st.committer, staged);
    let welcome: Uint8Array | undefined;
    const adds = st.applied.adds.map((a) => a.keyPackage);
    if (adds.length > 0) {
      if (req.welcome === undefined) invalid("welcome", "a commit that adds members needs a Welcome");
      welcome = this.checkWelcome(req.welcome, adds);
    } else if (req.welcome !== undefined) {
      invalid("welcome", "a Welcome without added members");
    }
    return {
      staged,
      epoch: this.group.epoch,
      newEpoch: st.context.epoch,
      external: st.external,
      committer,
      recipients,
      added,
      removed,
      groupInfo,
      welcome,
    };
  }

  /** §7.3.7: the committer's GroupInfo must describe the new epoch exactly. */
  private checkGroupInfo(
    m: MLSMessage,
    context: GroupInfo["groupContext"],
    tag: Uint8Array,
    committer: number,
    staged: StagedPublicMessage & { kind: "commit" },
  ): Uint8Array {
    const invalid: (text: string) => never = (text) => refuse("invalid-commit", text, { reason: "group-info" });
    if (m.wireFormat !== "mls_group_info") return invalid("group-info is not a GroupInfo");
    const info = m.groupInfo;
    const g = info.groupContext;
    if (
      g.version !== context.version ||
      g.cipherSuite !== context.cipherSuite ||
      !bytesEqual(g.groupId, context.groupId) ||
      g.epoch !== context.epoch ||
      !bytesEqual(g.treeHash, context.treeHash) ||
      !bytesEqual(g.confirmedTranscriptHash, context.confirmedTranscriptHash) ||
      g.extensions.length !== context.extensions.length ||
      !g.extensions.every(
        (e, i) => e.extensionType === context.extensions[i]!.extensionType && bytesEqual(e.extensionData, context.extensions[i]!.extensionData),
      )
    ) {
      invalid("the GroupInfo does not describe the new epoch");
    }
    if (!bytesEqual(info.confirmationTag, tag)) invalid("the GroupInfo's confirmation tag differs from the commit's");
    if (info.signer !== committer) invalid("the GroupInfo must be signed by the committer");
    if (!readExternalPub(info.extensions)) invalid("the GroupInfo needs external_pub");
    // Verify its signature and any tree it carries against the new tree.
    const diff = staged.staged.applied.diff;
    const leaf = diff.node(committer * 2);
    if (leaf?.type !== "leaf") return invalid("no committer leaf");
    const tree = findExtension(info.extensions, ExtensionType.ratchet_tree);
    if (tree) {
      const nodes: ReturnType<typeof diff.node>[] = [];
      for (let i = 0; i < diff.leafCount * 2 - 1; i++) nodes.push(diff.node(i));
      while (nodes.length > 0 && nodes[nodes.length - 1] === undefined) nodes.pop();
      if (!bytesEqual(encode(encodeRatchetTree, nodes), tree.extensionData)) invalid("the GroupInfo's ratchet tree differs");
    }
    try {
      verifyGroupInfoSignature(this.cs, leaf.leaf.signatureKey, info);
    } catch (e) {
      if (isMlsError(e)) refuse("invalid-signature", e.message);
      throw e;
    }
    return encode(encodeMLSMessage, m);
  }

  /** §7.3.8: the Welcome covers exactly the added KeyPackages. */
  private checkWelcome(m: MLSMessage, adds: readonly KeyPackage[]): Uint8Array {
    const invalid: (text: string) => never = (text) => refuse("invalid-commit", text, { reason: "welcome" });
    if (m.wireFormat !== "mls_welcome") return invalid("welcome is not a Welcome");
    const w: Welcome = m.welcome;
    if (w.cipherSuite !== this.cs.id) invalid("the Welcome uses another cipher suite");
    const want = new Set(adds.map((kp) => bytesKey(keyPackageRef(this.cs, kp))));
    const got = new Set(w.secrets.map((s) => bytesKey(s.newMember)));
    if (want.size !== got.size || w.secrets.length !== got.size || [...want].some((k) => !got.has(k))) {
      invalid("the Welcome must cover exactly the added KeyPackages");
    }
    return encode(encodeMLSMessage, m);
  }

  /** Installs an accepted commit (after it was stored). */
  applyCommit(a: AcceptedCommit): void {
    this.group.apply(a.staged);
    this.groupInfo = a.groupInfo;
    if (a.removed.length > 0) this.removalEpoch = a.newEpoch;
    this.pending = [];
  }

  /** §7.5: may this device's application message be accepted now? */
  checkApplication(req: ApplicationRequest): void {
    const msg = req.message;
    if (msg.contentType !== "application") refuse("wrong-kind", "application messages carry application content");
    if (!bytesEqual(msg.groupId, this.group.groupId)) refuse("wrong-group", "group_id is not this room's");
    if (this.leafOf(req.device) === undefined || this.hasPendingRemove(req.device)) {
      refuse("not-a-member", "this device is not a member of the group");
    }
    const current = this.group.epoch;
    if (msg.epoch > current) {
      throw new ProtocolError("epoch-mismatch", `epoch ${msg.epoch} is ahead of the group`, { "current-epoch": String(current) });
    }
    const lag = current > req.maxEpochLag ? current - req.maxEpochLag : 0n;
    const floor = lag > this.removalEpoch ? lag : this.removalEpoch;
    if (msg.epoch < floor) {
      throw new ProtocolError("stale-epoch", `epoch ${msg.epoch} is closed`, { "current-epoch": String(current) });
    }
  }

  /** An external Add proposal for a device's KeyPackage (not yet recorded as pending). */
  proposeAdd(ds: DsSigner, keyPackage: KeyPackage): { message: MLSMessage; ref: Uint8Array } {
    return this.group.proposeAdd(0, ds.signaturePrivateKey, keyPackage);
  }

  proposeRemove(ds: DsSigner, leaf: number): { message: MLSMessage; ref: Uint8Array } {
    return this.group.proposeRemove(0, ds.signaturePrivateKey, leaf);
  }
}

function decodeOr(bytes: Uint8Array): MLSMessage {
  try {
    return decode(decodeMLSMessage, bytes);
  } catch (e) {
    if (isMlsError(e)) refuse("malformed-message", e.message);
    throw e;
  }
}
