/**
 * Leaf nodes for tests of the tree's own bookkeeping (hashes, indexes,
 * bounds): distinct keys and nothing else a validator would look at.
 */
import type { CipherSuite } from "../../../mls/crypto/provider.js";
import type { LeafNode } from "../../../mls/tree/leaf-node.js";
import { RatchetTree } from "../../../mls/tree/ratchet-tree.js";

let serial = 0;

/** A 32-byte key unique within the test run. */
export function distinctKey(): Uint8Array {
  const k = new Uint8Array(32);
  new DataView(k.buffer).setUint32(0, ++serial);
  return k;
}

/** A leaf with distinct encryption and signature keys, not signed (the tree is not validated). */
export function unvalidatedLeaf(): LeafNode {
  const k = distinctKey();
  return {
    encryptionKey: k,
    signatureKey: k.map((b, i) => (i === 31 ? 1 : b)),
    credential: { type: "basic", identity: k },
    capabilities: { versions: [1], cipherSuites: [1], extensions: [], proposals: [], credentials: [1] },
    leafNodeSource: "update",
    extensions: [],
    signature: new Uint8Array(64),
  } as LeafNode;
}

/** A tree of `n` (>= 1) such leaves, all members, merged from one diff. */
export function treeOfLeaves(cs: CipherSuite, n: number): RatchetTree {
  const t = RatchetTree.withCreator(cs, unvalidatedLeaf());
  const grow = t.diff();
  for (let i = 1; i < n; i++) grow.addLeaf(unvalidatedLeaf());
  t.merge(grow);
  return t;
}
