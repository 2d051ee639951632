/**
 * The tree hashes a TreeDiff caches while it is being changed (ratchet-tree.ts:
 * a write invalidates its ancestors, stopping where nothing above can be
 * cached), checked against hashes computed afresh from the nodes, with
 * lookups at random nodes in between so that caches sit at every height.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toHex } from "../../../mls/codec/bytes.js";
import { nativeProvider } from "../../../mls/crypto/native/index.js";
import { isLeaf, left, nodeWidth, right, root } from "../../../mls/tree/math.js";
import { hashTreeNode, type TreeView } from "../../../mls/tree/ratchet-tree.js";
import { distinctKey as key, treeOfLeaves, unvalidatedLeaf as leaf } from "./unvalidated-leaf.js";

const cs = nativeProvider.suite(1);

/** TreeHash (§7.8) from the nodes alone, no cache. */
function freshHash(v: TreeView, i: number): string {
  const h = (x: number): Uint8Array => (isLeaf(x) ? hashTreeNode(cs, x, v.node(x)) : hashTreeNode(cs, x, v.node(x), h(left(x)), h(right(x))));
  return toHex(h(i));
}

type Op =
  | { kind: "add" }
  | { kind: "remove"; at: number }
  | { kind: "update"; at: number }
  | { kind: "parent"; at: number }
  | { kind: "blankPath"; at: number }
  | { kind: "look"; at: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: "add" as const }),
  ...(["remove", "update", "parent", "blankPath", "look", "look"] as const).map((kind) => fc.nat(1023).map((at) => ({ kind, at }) as Op)),
);

describe("tree hashes cached by a diff", () => {
  it("property: equal hashes computed afresh, at every node, after every write and merge", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.array(op, { minLength: 1, maxLength: 12 }), { maxLength: 8 }), (start, commits) => {
        const t = treeOfLeaves(cs, start);
        for (const ops of commits) {
          const d = t.diff();
          for (const o of ops) {
            const members = [...Array(d.leafCount).keys()].filter((l) => d.node(l * 2) !== undefined);
            const member = o.kind === "add" ? 0 : members[o.at % members.length]!;
            const width = nodeWidth(d.leafCount);
            switch (o.kind) {
              case "add":
                d.addLeaf(leaf());
                break;
              case "remove":
                if (members.length > 1) d.removeLeaf(member);
                break;
              case "update":
                d.updateLeaf(member, leaf());
                break;
              case "parent": {
                // A parent node on some leaf's direct path gets a new key, as an UpdatePath merge does.
                const i = (o.at % Math.max(1, width >>> 1)) * 2 + 1;
                if (i < width) d.setNode(i, { type: "parent", parent: { encryptionKey: key(), parentHash: new Uint8Array(32), unmergedLeaves: [] } });
                break;
              }
              case "blankPath":
                d.blankDirectPath(member);
                break;
              case "look":
                // Caches the hash of one node (and the dirty nodes below it).
                d.treeHash(o.at % width);
                break;
            }
            expect(toHex(d.rootHash())).toBe(freshHash(d, root(d.leafCount)));
          }
          for (let i = 0; i < nodeWidth(d.leafCount); i++) expect(toHex(d.treeHash(i))).toBe(freshHash(d, i));
          t.merge(d);
          expect(toHex(t.rootHash())).toBe(freshHash(t, root(t.leafCount)));
        }
      }),
      {
        numRuns: 500,
        // Found by CI: a parent set in the right half, the last member there removed (the
        // tree halves), then an Add (it doubles again): the cut-off nodes' hashes were kept.
        examples: [[9, [[{ kind: "parent", at: 927 }, { kind: "remove", at: 980 }, { kind: "add" }, { kind: "update", at: 0 }]]]],
      },
    );
  });
});
