/** Resolution and filtered direct path (RFC 9420 §4.1.1, §4.1.2). */
import { copath, directPath, isLeaf, leafRange, left, right } from "./math.js";
import type { TreeView } from "./ratchet-tree.js";

/**
 * Resolution of node `i`: the nearest non-blank nodes covering its subtree,
 * left to right; a non-blank parent contributes itself and its unmerged leaves.
 * Leaves in `exclude` (leaf indices) are left out (§7.6: new members of the commit).
 */
export function resolution(view: TreeView, i: number, exclude?: ReadonlySet<number>): number[] {
  const out: number[] = [];
  collect(view, i, out, exclude);
  return out;
}

function collect(view: TreeView, i: number, out: number[], exclude?: ReadonlySet<number>, last = view.lastMemberLeaf()): void {
  // Subtrees right of the last member are blank: nothing to collect.
  if (leafRange(i)[0] > last) return;
  const n = view.node(i);
  if (n !== undefined) {
    if (n.type === "leaf") {
      if (!exclude?.has(i >>> 1)) out.push(i);
      return;
    }
    out.push(i);
    for (const l of n.parent.unmergedLeaves) if (!exclude?.has(l)) out.push(l * 2);
    return;
  }
  if (isLeaf(i)) return;
  collect(view, left(i), out, exclude, last);
  collect(view, right(i), out, exclude, last);
}

/** True when node `i`'s resolution is empty: its whole subtree is blank. */
export function resolutionIsEmpty(view: TreeView, i: number, last = view.lastMemberLeaf()): boolean {
  if (leafRange(i)[0] > last) return true;
  if (view.node(i) !== undefined) return false;
  if (isLeaf(i)) return true;
  return resolutionIsEmpty(view, left(i), last) && resolutionIsEmpty(view, right(i), last);
}

/**
 * Filtered direct path of a leaf (§4.1.2): direct-path nodes whose copath
 * child has a non-empty resolution, leaf to root; with their copath children.
 */
export function filteredDirectPath(view: TreeView, leafIndex: number): { nodes: number[]; copath: number[] } {
  const x = leafIndex * 2;
  const dp = directPath(x, view.leafCount);
  const cp = copath(x, view.leafCount);
  const nodes: number[] = [];
  const cps: number[] = [];
  for (let k = 0; k < dp.length; k++) {
    if (!resolutionIsEmpty(view, cp[k]!)) {
      nodes.push(dp[k]!);
      cps.push(cp[k]!);
    }
  }
  return { nodes, copath: cps };
}
