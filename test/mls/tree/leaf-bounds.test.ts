/**
 * The leftmost blank leaf and the rightmost member leaf, which a merged tree
 * carries over from the diff instead of rescanning every leaf, and the
 * truncation after a removal, which starts from them (ratchet-tree.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nativeProvider } from "../../../mls/crypto/native/index.js";
import type { RatchetTree } from "../../../mls/tree/ratchet-tree.js";
import { treeOfLeaves, unvalidatedLeaf as leaf } from "./unvalidated-leaf.js";

const cs = nativeProvider.suite(1);

function scan(t: RatchetTree): { firstBlank: number; lastMember: number } {
  let firstBlank = 0;
  while (firstBlank < t.leafCount && t.node(firstBlank * 2) !== undefined) firstBlank++;
  let lastMember = t.leafCount - 1;
  while (lastMember >= 0 && t.node(lastMember * 2) === undefined) lastMember--;
  return { firstBlank, lastMember };
}

type Op = { kind: "add" } | { kind: "remove"; at: number } | { kind: "update"; at: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: "add" as const }),
  fc.nat(63).map((at) => ({ kind: "remove" as const, at })),
  fc.nat(63).map((at) => ({ kind: "update" as const, at })),
);

describe("leaf bounds across merges", () => {
  it("property: equal a full scan after every merge of adds, removes and updates", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { maxLength: 25 }), (start, commits) => {
        let t = treeOfLeaves(cs, start);
        for (const ops of commits) {
          // The bounds are known before the merge (the diff asks for one), so the merge updates them.
          t.firstBlankLeaf();
          t.lastMemberLeaf();
          const d = t.diff();
          for (const o of ops) {
            const members = [...Array(d.leafCount).keys()].filter((l) => d.node(l * 2) !== undefined);
            if (o.kind === "add") d.addLeaf(leaf());
            else if (members.length > 1) {
              const l = members[o.at % members.length]!;
              if (o.kind === "remove") {
                // §12.1.3: truncation to 2^d leaves, d smallest with 2^d > the rightmost member, from a scan.
                const before = d.leafCount;
                d.removeLeaf(l);
                let last = before - 1;
                while (last > 0 && d.node(last * 2) === undefined) last--;
                let width = before;
                while (width > 1 && width / 2 > last) width /= 2;
                expect(d.leafCount).toBe(width);
                expect(d.lastMemberLeaf()).toBe(last);
              } else d.updateLeaf(l, leaf());
            }
          }
          t.merge(d);
          expect({ firstBlank: t.firstBlankLeaf(), lastMember: t.lastMemberLeaf() }).toEqual(scan(t));
        }
        t = t.clone();
        expect({ firstBlank: t.firstBlankLeaf(), lastMember: t.lastMemberLeaf() }).toEqual(scan(t));
      }),
      { numRuns: 150 },
    );
  });
});
