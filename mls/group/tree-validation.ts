/** Validating a ratchet tree received when joining (RFC 9420 §12.4.3.1, "Verify the integrity of the ratchet tree"). */
import { bytesEqual } from "../codec/bytes.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import type { GroupContext } from "../messages/group-context.js";
import { validateLeafNode, type CredentialValidator } from "../tree/leaf-validation.js";
import { directPath, isAncestorOrSelf } from "../tree/math.js";
import { verifyTreeParentHashes } from "../tree/parent-hash.js";
import type { RatchetTree } from "../tree/ratchet-tree.js";

export interface TreeCheckOptions {
  readonly credentialValidator?: CredentialValidator | undefined;
  /** Seconds since the epoch: when set, key_package leaves' lifetimes are checked (RECOMMENDED, §7.3). */
  readonly now?: bigint | undefined;
}

export function validateJoinTree(cs: CipherSuite, tree: RatchetTree, context: GroupContext, o: TreeCheckOptions = {}): void {
  if (!bytesEqual(tree.rootHash(), context.treeHash)) fail("TreeHashMismatch", "ratchet tree does not match the GroupContext tree_hash");
  // Distinct encryption keys across all nodes, signature keys across leaves (§7.3, §16.8).
  if (tree.hasDuplicateKeys) fail("DuplicateKey", "two nodes of the ratchet tree share a key");
  verifyTreeParentHashes(tree);
  const width = tree.leafCount * 2 - 1;
  for (let i = 0; i < width; i++) {
    const n = tree.node(i);
    if (n === undefined) continue;
    if (n.type === "leaf") {
      validateLeafNode(cs, n.leaf, {
        source: n.leaf.leafNodeSource,
        groupId: context.groupId,
        leafIndex: i >>> 1,
        groupExtensions: context.extensions,
        credentialValidator: o.credentialValidator,
        now: o.now,
      });
      continue;
    }
    // Unmerged leaves: sorted, non-blank descendants, listed at every non-blank node in between.
    const unmerged = n.parent.unmergedLeaves;
    for (let k = 0; k < unmerged.length; k++) {
      const l = unmerged[k]!;
      if (k > 0 && unmerged[k - 1]! >= l) fail("InvalidTree", `unmerged leaves of node ${i} not strictly increasing`);
      if (l >= tree.leafCount || tree.node(l * 2) === undefined) fail("InvalidTree", `unmerged leaf ${l} of node ${i} is blank`);
      if (!isAncestorOrSelf(i, l * 2)) fail("InvalidTree", `unmerged leaf ${l} is not under node ${i}`);
      for (const p of directPath(l * 2, tree.leafCount)) {
        if (p === i) break;
        const q = tree.node(p);
        if (q?.type === "parent" && !q.parent.unmergedLeaves.includes(l)) {
          fail("InvalidTree", `node ${p} between leaf ${l} and node ${i} does not list it as unmerged`);
        }
      }
    }
  }
}
