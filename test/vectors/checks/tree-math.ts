import * as tm from "../../../mls/tree/math.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

function opt(f: () => number): number | null {
  try {
    return f();
  } catch {
    return null;
  }
}

/** tree-math.json: node count, root, and left/right/parent/sibling of every node. */
const check: VectorCheck = {
  file: "tree-math.json",
  check(raw) {
    const e = Entry.of(raw);
    const n = e.num("n_leaves");
    if (tm.nodeWidth(n) !== e.num("n_nodes")) throw new Error("n_nodes");
    if (tm.root(n) !== e.num("root")) throw new Error("root");
    const rels: [string, (x: number) => number][] = [
      ["left", tm.left],
      ["right", tm.right],
      ["parent", (x) => tm.parent(x, n)],
      ["sibling", (x) => tm.sibling(x, n)],
    ];
    for (const [name, f] of rels) {
      const expected = e.list(name);
      if (expected.length !== tm.nodeWidth(n)) throw new Error(`${name}: length`);
      expected.forEach((want, x) => {
        const got = opt(() => f(x));
        if (got !== want) throw new Error(`${name}[${x}] = ${got}, expected ${String(want)}`);
      });
    }
  },
};
export default check;
