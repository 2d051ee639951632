import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { encode } from "../../../mls/codec/writer.js";
import { decodeProposal } from "../../../mls/messages/proposal.js";
import { decodeRatchetTree, encodeRatchetTree } from "../../../mls/tree/node.js";
import { RatchetTree } from "../../../mls/tree/ratchet-tree.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

/** tree-operations.json: apply one Add/Update/Remove to a tree; compare bytes and tree hashes. */
const check: VectorCheck = {
  file: "tree-operations.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cs = provider.suite(e.num("cipher_suite"));
    const tree = RatchetTree.fromNodes(cs, decode(decodeRatchetTree, e.hex("tree_before")));
    if (!bytesEqual(tree.rootHash(), e.hex("tree_hash_before"))) throw new Error("tree_hash_before");
    const proposal = decode(decodeProposal, e.hex("proposal"));
    const sender = e.num("proposal_sender");
    const diff = tree.diff();
    if (proposal.type === "add") diff.addLeaf(proposal.keyPackage.leafNode);
    else if (proposal.type === "update") diff.updateLeaf(sender, proposal.leafNode);
    else if (proposal.type === "remove") diff.removeLeaf(proposal.removed);
    else throw new Error(`unexpected proposal ${proposal.type}`);
    // The diff's view and the merged tree must agree.
    const diffHash = diff.rootHash();
    tree.merge(diff);
    const after = encode(encodeRatchetTree, tree.toNodes());
    if (!bytesEqual(after, e.hex("tree_after"))) throw new Error(`tree_after differs: ${toHex(after).slice(0, 64)}`);
    if (!bytesEqual(diffHash, e.hex("tree_hash_after"))) throw new Error("tree_hash_after (diff)");
    if (!bytesEqual(tree.rootHash(), e.hex("tree_hash_after"))) throw new Error("tree_hash_after (merged)");
    const fresh = RatchetTree.fromNodes(cs, decode(decodeRatchetTree, after));
    if (!bytesEqual(fresh.rootHash(), e.hex("tree_hash_after"))) throw new Error("tree_hash_after (fresh)");
  },
};
export default check;
