/** TreeKEM: creating, merging and decrypting UpdatePaths (RFC 9420 §7.4–§7.6). */
import { bytesEqual, bytesKey } from "../codec/bytes.js";
import { decryptWithLabel, deriveSecret, encryptWithSharedContext } from "../crypto/labels.js";
import type { CipherSuite, KeyPair } from "../crypto/provider.js";
import { fail } from "../errors.js";
import type { HPKECiphertext, UpdatePath, UpdatePathNode } from "../messages/update-path.js";
import type { LeafNode } from "./leaf-node.js";
import { directPath, isAncestorOrSelf } from "./math.js";
import { pathParentHashes } from "./parent-hash.js";
import { encryptionKeyOf, type TreeDiff, type TreeView } from "./ratchet-tree.js";
import { filteredDirectPath, resolution } from "./resolution.js";

/** Private keys a member holds: its leaf and the parent nodes above it it knows (§4.2). */
export type PrivateKeys = Map<number, KeyPair>;

/** node_priv/node_pub from a path secret (§7.4). */
export function nodeKeyPair(cs: CipherSuite, pathSecret: Uint8Array): KeyPair {
  return cs.kem.deriveKeyPair(deriveSecret(cs, pathSecret, "node"));
}

export function nextPathSecret(cs: CipherSuite, pathSecret: Uint8Array): Uint8Array {
  return deriveSecret(cs, pathSecret, "path");
}

export interface CreatedUpdatePath {
  readonly updatePath: UpdatePath;
  readonly commitSecret: Uint8Array;
  /** Path secret of each filtered-direct-path node (for Welcome path_secret, §12.4.3.1). */
  readonly pathSecrets: ReadonlyMap<number, Uint8Array>;
  /** The committer's new private keys: leaf and path nodes. */
  readonly privateKeys: PrivateKeys;
  readonly leafNode: LeafNode;
}

export interface CreateUpdatePathArgs {
  readonly diff: TreeDiff;
  readonly leafIndex: number;
  /** Builds and signs the committer's new leaf (source commit) from its new key and parent hash. */
  readonly makeLeaf: (encryptionKey: Uint8Array, parentHash: Uint8Array) => LeafNode;
  /** Leaves added by this commit: excluded from every resolution (§7.6). */
  readonly excluded: ReadonlySet<number>;
  /** The serialized provisional GroupContext, given the tree hash after the path is merged. */
  readonly groupContext: (treeHash: Uint8Array) => Uint8Array;
  /** Test hook: the leaf key pair and first path secret instead of fresh randomness. */
  readonly leafKeyPair?: KeyPair | undefined;
  readonly firstPathSecret?: Uint8Array | undefined;
}

/** Sender side of §7.5: generate keys, merge them into `diff`, encrypt path secrets. */
export function createUpdatePath(a: CreateUpdatePathArgs): CreatedUpdatePath {
  const { diff, leafIndex } = a;
  const cs = diff.cs;
  diff.blankDirectPath(leafIndex);
  const fdp = filteredDirectPath(diff, leafIndex);
  const secrets: Uint8Array[] = [];
  const keys: KeyPair[] = [];
  let ps = a.firstPathSecret ?? cs.randomBytes(cs.kdf.nh);
  for (let k = 0; k < fdp.nodes.length; k++) {
    secrets.push(ps);
    keys.push(nodeKeyPair(cs, ps));
    ps = nextPathSecret(cs, ps);
  }
  const commitSecret = ps;
  const leafKeys = a.leafKeyPair ?? cs.kem.generateKeyPair();
  const hashes = pathParentHashes(
    diff,
    fdp.nodes,
    fdp.copath,
    keys.map((k) => k.publicKey),
  );
  fdp.nodes.forEach((p, k) => {
    diff.setNode(p, {
      type: "parent",
      parent: { encryptionKey: keys[k]!.publicKey, parentHash: hashes.nodeParentHashes[k]!, unmergedLeaves: [] },
    });
  });
  const leafNode = a.makeLeaf(leafKeys.publicKey, hashes.leafParentHash);
  diff.setNode(leafIndex * 2, { type: "leaf", leaf: leafNode });
  const context = a.groupContext(diff.rootHash());
  const nodes: UpdatePathNode[] = fdp.nodes.map((_, k) => {
    const encryptedPathSecret: HPKECiphertext[] = resolution(diff, fdp.copath[k]!, a.excluded).map((r) => {
      const target = diff.node(r)!;
      return encryptWithSharedContext(cs, encryptionKeyOf(target), "UpdatePathNode", context, secrets[k]!);
    });
    return { encryptionKey: keys[k]!.publicKey, encryptedPathSecret };
  });
  const privateKeys: PrivateKeys = new Map();
  privateKeys.set(leafIndex * 2, leafKeys);
  const pathSecrets = new Map<number, Uint8Array>();
  fdp.nodes.forEach((p, k) => {
    privateKeys.set(p, keys[k]!);
    pathSecrets.set(p, secrets[k]!);
  });
  return { updatePath: { leafNode, nodes }, commitSecret, pathSecrets, privateKeys, leafNode };
}

export interface MergedUpdatePath {
  /** Filtered direct path of the sender and the copath children, bottom to top. */
  readonly path: readonly number[];
  readonly copath: readonly number[];
  /** Resolution of each copath child (new members excluded), as the ciphertexts are ordered. */
  readonly resolutions: readonly (readonly number[])[];
}

/**
 * Receiver side of §7.5 (public part, also what the Delivery Service runs):
 * checks the path's shape and keys, merges it into `diff`, verifies the leaf's parent hash.
 * `validateLeaf` checks the new leaf (§7.3) against the tree before it is replaced.
 */
export function mergeUpdatePath(
  diff: TreeDiff,
  senderLeaf: number,
  path: UpdatePath,
  excluded: ReadonlySet<number>,
  validateLeaf: (leaf: LeafNode) => void,
): MergedUpdatePath {
  const fdp = filteredDirectPath(diff, senderLeaf);
  if (path.nodes.length !== fdp.nodes.length) {
    fail("InvalidPath", `UpdatePath has ${path.nodes.length} nodes, filtered direct path has ${fdp.nodes.length}`);
  }
  const resolutions = fdp.copath.map((c) => resolution(diff, c, excluded));
  for (let k = 0; k < fdp.nodes.length; k++) {
    const want = resolutions[k]!.length;
    if (path.nodes[k]!.encryptedPathSecret.length !== want) {
      fail("InvalidPath", `UpdatePath node ${k} has ${path.nodes[k]!.encryptedPathSecret.length} ciphertexts, expected ${want}`);
    }
  }
  validateLeaf(path.leafNode);
  diff.blankDirectPath(senderLeaf);
  // §7.6/§16.8: the path's keys are fresh: unique among themselves and absent elsewhere in the tree.
  const seen = new Set<string>([bytesKey(path.leafNode.encryptionKey)]);
  for (const n of path.nodes) {
    const k = bytesKey(n.encryptionKey);
    if (seen.has(k)) fail("DuplicateKey", "UpdatePath repeats an encryption key");
    seen.add(k);
    const at = diff.findEncryptionKey(n.encryptionKey);
    if (at >= 0 && at !== senderLeaf * 2) fail("DuplicateKey", "UpdatePath key already in the tree");
  }
  const hashes = pathParentHashes(
    diff,
    fdp.nodes,
    fdp.copath,
    path.nodes.map((n) => n.encryptionKey),
  );
  const leaf = path.leafNode;
  if (leaf.leafNodeSource !== "commit" || !bytesEqual(leaf.parentHash, hashes.leafParentHash)) {
    fail("ParentHashMismatch", "committer's leaf parent_hash does not match its UpdatePath");
  }
  fdp.nodes.forEach((p, k) => {
    diff.setNode(p, {
      type: "parent",
      parent: { encryptionKey: path.nodes[k]!.encryptionKey, parentHash: hashes.nodeParentHashes[k]!, unmergedLeaves: [] },
    });
  });
  diff.setNode(senderLeaf * 2, { type: "leaf", leaf });
  // The copath subtrees are untouched by the merge: their resolutions still hold.
  return { path: fdp.nodes, copath: fdp.copath, resolutions };
}

export interface DecryptedUpdatePath {
  readonly commitSecret: Uint8Array;
  /** The path secret decrypted for the lowest path node above the receiver. */
  readonly pathSecret: Uint8Array;
  /** New private keys for the path nodes above the receiver. */
  readonly privateKeys: PrivateKeys;
}

/**
 * Receiver side of §7.5 (private part): find the path node whose copath child
 * covers us, decrypt its path secret with a key we hold, derive upwards and
 * check every derived public key against the path.
 */
export function decryptUpdatePath(
  view: TreeView,
  merged: MergedUpdatePath,
  path: UpdatePath,
  ownLeaf: number,
  excluded: ReadonlySet<number>,
  ownKeys: PrivateKeys,
  groupContext: Uint8Array,
): DecryptedUpdatePath {
  const cs = view.cs;
  const own = ownLeaf * 2;
  const k = merged.path.findIndex((p) => isAncestorOrSelf(p, own));
  if (k < 0) fail("InvalidPath", "no UpdatePath node covers this member");
  const res = merged.resolutions[k] ?? resolution(view, merged.copath[k]!, excluded);
  const j = res.findIndex((r) => ownKeys.has(r));
  if (j < 0) fail("InvalidPath", "no private key for the resolution of the covering copath node");
  const ct = path.nodes[k]!.encryptedPathSecret[j]!;
  const pathSecret = decryptWithLabel(cs, ownKeys.get(res[j]!)!.privateKey, "UpdatePathNode", groupContext, ct.kemOutput, ct.ciphertext);
  let ps = pathSecret;
  const privateKeys: PrivateKeys = new Map();
  for (let m = k; m < merged.path.length; m++) {
    const kp = nodeKeyPair(cs, ps);
    if (!bytesEqual(kp.publicKey, path.nodes[m]!.encryptionKey)) {
      fail("InvalidPath", "derived public key differs from the UpdatePath");
    }
    privateKeys.set(merged.path[m]!, kp);
    ps = nextPathSecret(cs, ps);
  }
  return { commitSecret: ps, pathSecret, privateKeys };
}

/** Drops private keys of nodes on our direct path whose public key changed or was blanked. */
export function prunePrivateKeys(view: TreeView, ownLeaf: number, keys: PrivateKeys): void {
  for (const i of [ownLeaf * 2, ...directPath(ownLeaf * 2, view.leafCount)]) {
    const kp = keys.get(i);
    if (kp === undefined) continue;
    const n = view.node(i);
    if (n === undefined || !bytesEqual(encryptionKeyOf(n), kp.publicKey)) keys.delete(i);
  }
  for (const i of keys.keys()) if (i >= view.leafCount * 2 - 1) keys.delete(i);
}
