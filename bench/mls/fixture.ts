/**
 * Group fixtures for the MLS benchmark (bench only: uses library internals).
 *
 * "sparse": the creator adds N-1 members in one commit (only the creator's
 *   path is non-blank).
 * "full": a parent-hash-valid tree of N leaves in which every parent node that
 *   can be non-blank is: a parent whose two subtrees both hold members (a node
 *   with an all-blank subtree on one side is never on any filtered direct path,
 *   §4.1.2, so a valid tree always has it blank). It is fabricated directly
 *   (fresh keys, parent hashes computed top-down, §7.9) instead of by N real
 *   commits, and handed to a creator built with the @internal Group constructor.
 *
 * The measured members A and B join through the creator's Welcomes, so ours
 * and ts-mls join the very same group (their KeyPackages carry raw keys both
 * libraries accept). Sparse: A and B are among the bulk adds. Full: the
 * creator adds A, A commits with a path, the creator adds B, B commits with a
 * path (scenario.ts, setup), so every node is non-blank again and no leaf is
 * unmerged anywhere. (Adding A and B in one commit would leave nodes listing
 * different unmerged leaves along one path: valid per RFC 9420 §7.1, but
 * ts-mls 2.0.0-rc.10 rejects it at join, validateRatchetTree requiring every
 * non-blank node on an unmerged leaf's direct path to list the same leaves.)
 */
import {
  basicCredential,
  createGroup,
  createKeyPackage,
  decode,
  decodeMLSMessage,
  encode,
  encodeMLSMessage,
  joinFromWelcome,
  serializeGroup,
  utf8Bytes,
  type CipherSuite,
  type Group,
  type KeyPackage,
  type KeyPackagePrivate,
  type MLSMessage,
} from "../../mls/node.js";
import { Group as GroupClass, type EpochState } from "../../mls/group/group.js";
import { resolveOptions } from "../../mls/group/options.js";
import { defaultCapabilities } from "../../mls/key-packages/key-package-ops.js";
import { PROTOCOL_VERSION_MLS10, type GroupContext } from "../../mls/messages/group-context.js";
import { confirmationTag, deriveEpochSecrets } from "../../mls/schedule/key-schedule.js";
import { SecretTree } from "../../mls/schedule/secret-tree.js";
import { interimTranscriptHash } from "../../mls/schedule/transcript.js";
import { signLeafNode } from "../../mls/tree/leaf-validation.js";
import { isLeaf, left, nodeWidth, right, root } from "../../mls/tree/math.js";
import type { Node } from "../../mls/tree/node.js";
import { parentHashValue } from "../../mls/tree/parent-hash.js";
import { hashTreeNode, RatchetTree, type TreeView } from "../../mls/tree/ratchet-tree.js";

export type Shape = "sparse" | "full";

export interface Member {
  readonly name: string;
  readonly keyPackage: KeyPackage;
  readonly priv: KeyPackagePrivate;
  /** MLSMessage(KeyPackage) bytes. */
  readonly kpBytes: Uint8Array;
}

export function newMember(cs: CipherSuite, name: string): Member {
  const sig = cs.signature.generateKeyPair();
  const { keyPackage, privateKeys } = createKeyPackage({
    cs,
    credential: basicCredential(utf8Bytes(name)),
    signaturePrivateKey: sig.privateKey,
    signaturePublicKey: sig.publicKey,
  });
  const kpBytes = encode(encodeMLSMessage, { version: PROTOCOL_VERSION_MLS10, wireFormat: "mls_key_package", keyPackage });
  return { name, keyPackage, priv: privateKeys, kpBytes };
}

export function encodeMsg(m: MLSMessage): Uint8Array {
  return encode(encodeMLSMessage, m);
}
export function decodeMsg(b: Uint8Array): MLSMessage {
  return decode(decodeMLSMessage, b);
}

/** Leaf slots of the measured members and of the removed member, for N leaves. */
export function slots(n: number): { a: number; b: number; removed: number } {
  const a = 1;
  const b = Math.floor(n / 2);
  let removed = Math.floor((3 * n) / 4);
  if (removed === b || removed === a) removed++;
  if (removed >= n - 1) removed = n - 2; // never the rightmost leaf: no truncation (see ts-mls D7)
  return { a, b, removed };
}

export interface Prepared {
  readonly n: number;
  readonly shape: Shape;
  /** Sparse: the Welcome that brings A and B (and everyone else) into the group. */
  readonly welcome?: Uint8Array;
  /** Full: the creator's state (serializeGroup), before A and B are added. */
  readonly creator?: Uint8Array;
  readonly memberA: Member;
  readonly memberB: Member;
  /** The member the "add" rows add (and the join rows join as). */
  readonly memberD: Member;
  readonly slotA: number;
  readonly slotB: number;
  readonly removed: number;
  /** Milliseconds spent building the fixture. */
  readonly buildMs: number;
}

/** Builds the group of `n` members in `shape` up to the Welcome for A and B. */
export function prepare(cs: CipherSuite, n: number, shape: Shape): Prepared {
  const t0 = performance.now();
  const { a, b, removed } = slots(n);
  const memberA = newMember(cs, "A");
  const memberB = newMember(cs, "B");
  const memberD = newMember(cs, "D");
  let welcome: MLSMessage | undefined;
  let creatorState: Uint8Array | undefined;
  if (shape === "sparse") {
    const creator = createGroup({ ...identity(cs, "C"), options: { ratchetTreeInWelcome: true } });
    const kps: KeyPackage[] = [];
    for (let l = 1; l < n; l++) {
      if (l === a) kps.push(memberA.keyPackage);
      else if (l === b) kps.push(memberB.keyPackage);
      else kps.push(newMember(cs, `m${l}`).keyPackage);
    }
    welcome = creator.commit({ add: kps }).welcome;
    if (welcome === undefined) throw new Error("no Welcome");
  } else {
    creatorState = serializeGroup(fullTreeCreator(cs, n, new Set([a, b])));
  }
  return {
    n,
    shape,
    ...(welcome ? { welcome: encodeMsg(welcome) } : {}),
    ...(creatorState ? { creator: creatorState } : {}),
    memberA,
    memberB,
    memberD,
    slotA: a,
    slotB: b,
    removed,
    buildMs: performance.now() - t0,
  };
}

function identity(cs: CipherSuite, name: string) {
  const kp = cs.signature.generateKeyPair();
  return { cs, credential: basicCredential(utf8Bytes(name)), signaturePrivateKey: kp.privateKey, signaturePublicKey: kp.publicKey };
}

/**
 * A creator (leaf 0) holding a full tree of n leaves, `blank` leaves left
 * empty. Every leaf has source "commit" (it committed at some point); the
 * parent-hash chain of each parent runs through its left child (through the
 * right one when the left subtree holds no member), the other child carrying
 * a stale parent_hash, as it would after an older commit.
 */
export function fullTreeCreator(cs: CipherSuite, n: number, blank: ReadonlySet<number>): Group {
  const groupId = cs.randomBytes(32);
  let leafCount = 1;
  while (leafCount < n) leafCount *= 2;
  const width = nodeWidth(leafCount);
  const nodes = new Array<Node | undefined>(width);
  const isMember = (l: number) => l < n && !blank.has(l);
  // Number of members under each node, bottom-up (leaf x covers [x/2, x/2]).
  const members = new Int32Array(width);
  for (let x = 0; x < width; x += 2) members[x] = isMember(x >>> 1) ? 1 : 0;
  for (let level = 1; 1 << level <= leafCount; level++) {
    for (let x = (1 << level) - 1; x < width; x += 1 << (level + 1)) members[x] = members[left(x)]! + members[right(x)]!;
  }
  const view = { cs } as TreeView;
  const capabilities = defaultCapabilities([cs.id]);
  let creatorSig: Uint8Array | undefined;
  let creatorEnc: { privateKey: Uint8Array; publicKey: Uint8Array } | undefined;
  const stale = () => cs.randomBytes(cs.hash.size);

  /** Fills subtree x whose representative node gets parent_hash `ph`; returns its tree hash. */
  const fill = (x: number, ph: Uint8Array): Uint8Array => {
    if (isLeaf(x)) {
      const l = x >>> 1;
      if (!isMember(l)) return hashTreeNode(cs, x, undefined);
      const sig = cs.signature.generateKeyPair();
      const enc = cs.kem.generateKeyPair();
      if (l === 0) {
        creatorSig = sig.privateKey;
        creatorEnc = enc;
      }
      const leaf = signLeafNode(
        cs,
        sig.privateKey,
        {
          encryptionKey: enc.publicKey,
          signatureKey: sig.publicKey,
          credential: basicCredential(utf8Bytes(`m${l}`)),
          capabilities,
          leafNodeSource: "commit",
          parentHash: ph,
          extensions: [],
        },
        groupId,
        l,
      );
      nodes[x] = { type: "leaf", leaf };
      return hashTreeNode(cs, x, nodes[x]);
    }
    const L = left(x);
    const R = right(x);
    const hasL = members[L]! > 0;
    const hasR = members[R]! > 0;
    if (!hasL || !hasR) {
      // Blank: the chain passes through to the one side holding members.
      const hl = fill(L, hasL ? ph : stale());
      const hr = fill(R, hasR ? ph : stale());
      return hashTreeNode(cs, x, undefined, hl, hr);
    }
    const key = cs.kem.generateKeyPair().publicKey;
    const node: Node = { type: "parent", parent: { encryptionKey: key, parentHash: ph, unmergedLeaves: [] } };
    nodes[x] = node;
    const hr = fill(R, stale());
    const hl = fill(L, parentHashValue(view, key, ph, hr));
    return hashTreeNode(cs, x, node, hl, hr);
  };
  const rootHash = fill(root(leafCount), new Uint8Array(0));
  let last = width;
  while (last > 0 && nodes[last - 1] === undefined) last--;
  const tree = RatchetTree.fromNodes(cs, nodes.slice(0, last));
  if (tree.leafCount !== leafCount) throw new Error("fixture leaf count");
  const got = tree.rootHash();
  if (got.length !== rootHash.length || !got.every((v, i) => v === rootHash[i])) throw new Error("fixture tree hash");
  if (creatorSig === undefined || creatorEnc === undefined) throw new Error("no creator leaf");

  const confirmed = cs.randomBytes(cs.hash.size);
  const context: GroupContext = {
    version: PROTOCOL_VERSION_MLS10,
    cipherSuite: cs.id,
    groupId,
    epoch: 1000n,
    treeHash: rootHash,
    confirmedTranscriptHash: confirmed,
    extensions: [],
  };
  const secrets = deriveEpochSecrets(cs, cs.randomBytes(cs.kdf.nh));
  const tag = confirmationTag(cs, secrets.confirmationKey, confirmed);
  const options = resolveOptions({ ratchetTreeInWelcome: true });
  const state: EpochState = {
    context,
    tree,
    interimTranscriptHash: interimTranscriptHash(cs, confirmed, tag),
    confirmationTag: tag,
    secrets,
    secretTree: SecretTree.create(cs, secrets.encryptionSecret, leafCount, {
      maxForwardDistance: options.maxForwardDistance,
      maxRetainedKeys: options.maxRetainedKeys,
    }),
    ownLeaf: 0,
    keys: new Map([[0, creatorEnc]]),
  };
  return new GroupClass(cs, creatorSig, state, options);
}

export function joinAs(cs: CipherSuite, welcome: Uint8Array, m: Member): Group {
  return joinFromWelcome({ cs, welcome: decodeMsg(welcome), keyPackage: m.keyPackage, keyPackagePrivate: m.priv });
}
