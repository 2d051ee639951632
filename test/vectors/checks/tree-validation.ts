import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { decodeRatchetTree } from "../../../mls/tree/node.js";
import { verifyTreeParentHashes } from "../../../mls/tree/parent-hash.js";
import { RatchetTree } from "../../../mls/tree/ratchet-tree.js";
import { resolution } from "../../../mls/tree/resolution.js";
import { verifyLeafNodeSignature } from "../../../mls/tree/leaf-validation.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

/** tree-validation.json: resolutions and tree hashes of every node, parent hashes, leaf signatures. */
const check: VectorCheck = {
  file: "tree-validation.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cs = provider.suite(e.num("cipher_suite"));
    const tree = RatchetTree.fromNodes(cs, decode(decodeRatchetTree, e.hex("tree")));
    const groupId = e.hex("group_id");
    const resolutions = e.list("resolutions");
    const hashes = e.list("tree_hashes");
    const width = tree.leafCount * 2 - 1;
    if (resolutions.length !== width || hashes.length !== width) throw new Error("node count differs");
    for (let i = 0; i < width; i++) {
      const got = resolution(tree, i);
      if (JSON.stringify(got) !== JSON.stringify(resolutions[i])) {
        throw new Error(`resolution of node ${i}: ${JSON.stringify(got)} vs ${JSON.stringify(resolutions[i])}`);
      }
      const h = tree.treeHash(i);
      if (toHex(h) !== hashes[i]) throw new Error(`tree hash of node ${i}`);
    }
    verifyTreeParentHashes(tree);
    for (let l = 0; l < tree.leafCount; l++) {
      const n = tree.node(l * 2);
      if (n?.type !== "leaf") continue;
      const inGroup = n.leaf.leafNodeSource !== "key_package";
      if (!verifyLeafNodeSignature(cs, n.leaf, inGroup ? groupId : undefined, inGroup ? l : undefined)) {
        throw new Error(`leaf ${l} signature`);
      }
    }
    // A second computation from a fresh tree gives the same root (no cache dependence).
    const again = RatchetTree.fromNodes(cs, decode(decodeRatchetTree, e.hex("tree")));
    if (!bytesEqual(again.rootHash(), tree.rootHash())) throw new Error("root hash not deterministic");
  },
};
export default check;
