/** Parent hashes (RFC 9420 §7.9). */
import { bytesEqual } from "../codec/bytes.js";
import { withWriter } from "../codec/writer.js";
import { fail } from "../errors.js";
import { isLeaf, leafRange, left, right } from "./math.js";
import type { Node } from "./node.js";
import { hashTreeNode, type TreeView } from "./ratchet-tree.js";
import { resolution } from "./resolution.js";

const EMPTY = new Uint8Array(0);

/** Hash(ParentHashInput) (§7.9). */
export function parentHashValue(
  view: TreeView,
  encryptionKey: Uint8Array,
  parentHash: Uint8Array,
  originalSiblingTreeHash: Uint8Array,
): Uint8Array {
  return withWriter(256, (w) => {
    w.opaque(encryptionKey);
    w.opaque(parentHash);
    w.opaque(originalSiblingTreeHash);
    return view.cs.hash.digest(w.viewSince(0));
  });
}

/**
 * Tree hash of `i` as if the leaves in `removed` were blank and absent from
 * every unmerged_leaves list (the "original sibling tree hash" of §7.9).
 */
export function originalTreeHash(view: TreeView, i: number, removed: readonly number[]): Uint8Array {
  const [lo, hi] = leafRange(i);
  const inside = removed.filter((l) => l >= lo && l < hi);
  if (inside.length === 0) return view.treeHash(i);
  const n = view.node(i);
  if (isLeaf(i)) return hashTreeNode(view.cs, i, undefined);
  let stripped: Node | undefined = n;
  if (n?.type === "parent") {
    const keep = n.parent.unmergedLeaves.filter((l) => !inside.includes(l));
    if (keep.length !== n.parent.unmergedLeaves.length) {
      stripped = { type: "parent", parent: { ...n.parent, unmergedLeaves: keep } };
    }
  }
  return hashTreeNode(view.cs, i, stripped, originalTreeHash(view, left(i), inside), originalTreeHash(view, right(i), inside));
}

export interface PathParentHashes {
  /** parent_hash field for each filtered-direct-path node, bottom to top. */
  readonly nodeParentHashes: Uint8Array[];
  /** parent_hash for the leaf (the parent hash of the first filtered-direct-path node). */
  readonly leafParentHash: Uint8Array;
}

/**
 * Parent hashes along a fresh UpdatePath (§7.9), computed root to leaf.
 * `path` and `copath` are the filtered direct path and its copath children;
 * `keys` the new encryption keys of the path nodes, bottom to top.
 */
export function pathParentHashes(
  view: TreeView,
  path: readonly number[],
  copath: readonly number[],
  keys: readonly Uint8Array[],
): PathParentHashes {
  const nodeParentHashes = new Array<Uint8Array>(path.length);
  let above: Uint8Array = EMPTY;
  for (let k = path.length - 1; k >= 0; k--) {
    nodeParentHashes[k] = above;
    // The path nodes are fresh (no unmerged leaves), so the sibling hash is the current one.
    above = parentHashValue(view, keys[k]!, above, view.treeHash(copath[k]!));
  }
  return { nodeParentHashes, leafParentHash: above };
}

function parentHashField(n: Node | undefined): Uint8Array | undefined {
  if (n === undefined) return undefined;
  if (n.type === "parent") return n.parent.parentHash;
  return n.leaf.leafNodeSource === "commit" ? n.leaf.parentHash : undefined;
}

/**
 * §7.9.2, when joining: every non-blank parent node must be parent-hash valid,
 * i.e. have exactly one descendant D whose parent_hash links to it (top-down check).
 */
export function verifyTreeParentHashes(view: TreeView): void {
  const width = view.leafCount * 2 - 1;
  for (let p = 1; p < width; p += 2) {
    const n = view.node(p);
    if (n?.type !== "parent") continue;
    const unmergedNodes = new Set(n.parent.unmergedLeaves.map((l) => l * 2));
    let matches = 0;
    for (const [c, s] of [
      [left(p), right(p)],
      [right(p), left(p)],
    ] as const) {
      // D is the single node of res(C) that is not one of P's unmerged leaves, and
      // res(C) \ {D} must be exactly P's unmerged leaves under C.
      const res = resolution(view, c);
      const rest = res.filter((x) => !unmergedNodes.has(x));
      if (rest.length !== 1) continue;
      const [lo, hi] = leafRange(c);
      const unmergedUnderC = n.parent.unmergedLeaves.filter((l) => l >= lo && l < hi);
      if (unmergedUnderC.length !== res.length - 1) continue;
      const d = rest[0]!;
      const field = parentHashField(view.node(d));
      if (field === undefined) continue;
      const expected = parentHashValue(
        view,
        n.parent.encryptionKey,
        n.parent.parentHash,
        originalTreeHash(view, s, n.parent.unmergedLeaves),
      );
      if (bytesEqual(field, expected)) matches++;
    }
    if (matches !== 1) fail("ParentHashMismatch", `parent node ${p} is not parent-hash valid`);
  }
}
