import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { encode } from "../../../mls/codec/writer.js";
import type { CipherSuite } from "../../../mls/crypto/provider.js";
import { encodeGroupContext, type GroupContext } from "../../../mls/messages/group-context.js";
import { decodeUpdatePath } from "../../../mls/messages/update-path.js";
import { signLeafNode, validateLeafNode } from "../../../mls/tree/leaf-validation.js";
import { decodeRatchetTree } from "../../../mls/tree/node.js";
import { leafNodeAt, RatchetTree, type TreeDiff } from "../../../mls/tree/ratchet-tree.js";
import {
  createUpdatePath,
  decryptUpdatePath,
  mergeUpdatePath,
  nodeKeyPair,
  type PrivateKeys,
} from "../../../mls/tree/treekem.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

const NONE = new Set<number>();

/** treekem.json: process every UpdatePath as every other member, then create and process fresh ones. */
const check: VectorCheck = {
  file: "treekem.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cs = provider.suite(e.num("cipher_suite"));
    const treeBytes = e.hex("ratchet_tree");
    const groupId = e.hex("group_id");
    const base = {
      version: 1,
      cipherSuite: cs.id,
      groupId,
      epoch: BigInt(e.num("epoch")),
      confirmedTranscriptHash: e.hex("confirmed_transcript_hash"),
      extensions: [],
    };
    const contextFor = (treeHash: Uint8Array) =>
      encode(encodeGroupContext, { ...base, treeHash } satisfies GroupContext);
    const fresh = () => RatchetTree.fromNodes(cs, decode(decodeRatchetTree, treeBytes));
    const tree = fresh();

    // Private states: leaf key and path keys, each consistent with the public tree.
    const privs = new Map<number, { keys: PrivateKeys; signaturePriv: Uint8Array }>();
    for (const lp of e.entries("leaves_private")) {
      const leaf = lp.num("index");
      const keys: PrivateKeys = new Map();
      const encPriv = lp.hex("encryption_priv");
      keys.set(leaf * 2, { privateKey: encPriv, publicKey: cs.kem.publicKey(encPriv) });
      for (const ps of lp.entries("path_secrets")) keys.set(ps.num("node"), nodeKeyPair(cs, ps.hex("path_secret")));
      for (const [node, kp] of keys) {
        const n = tree.node(node);
        const pub = n?.type === "leaf" ? n.leaf.encryptionKey : n?.parent.encryptionKey;
        if (pub === undefined || !bytesEqual(pub, kp.publicKey)) throw new Error(`private key of node ${node} inconsistent`);
      }
      privs.set(leaf, { keys, signaturePriv: lp.hex("signature_priv") });
    }

    for (const up of e.entries("update_paths")) {
      const sender = up.num("sender");
      const path = decode(decodeUpdatePath, up.hex("update_path"));
      const diff = fresh().diff();
      const merged = mergeUpdatePath(diff, sender, path, NONE, (leaf) =>
        validateLeafNode(cs, leaf, { source: "commit", groupId, leafIndex: sender, groupExtensions: [], tree: diff, replacing: sender }),
      );
      if (!bytesEqual(diff.rootHash(), up.hex("tree_hash_after"))) throw new Error("tree_hash_after");
      const ctx = contextFor(diff.rootHash());
      const expectedSecrets = up.list("path_secrets");
      for (const [j, st] of privs) {
        if (j === sender) continue;
        const out = decryptUpdatePath(diff, merged, path, j, NONE, st.keys, ctx);
        if (toHex(out.pathSecret) !== expectedSecrets[j]) throw new Error(`path secret for leaf ${j}`);
        if (!bytesEqual(out.commitSecret, up.hex("commit_secret"))) throw new Error(`commit secret for leaf ${j}`);
      }
      // A fresh UpdatePath from the same sender, processed by everyone else.
      const signer = privs.get(sender);
      if (!signer) throw new Error(`no private state for sender ${sender}`);
      const created = createFor(cs, fresh(), sender, signer.signaturePriv, groupId, contextFor);
      const diff2 = fresh().diff();
      const merged2 = mergeUpdatePath(diff2, sender, created.updatePath, NONE, (leaf) =>
        validateLeafNode(cs, leaf, { source: "commit", groupId, leafIndex: sender, groupExtensions: [], tree: diff2, replacing: sender }),
      );
      if (!bytesEqual(diff2.rootHash(), created.treeHash)) throw new Error("created path: tree hashes differ");
      for (const [j, st] of privs) {
        if (j === sender) continue;
        const out = decryptUpdatePath(diff2, merged2, created.updatePath, j, NONE, st.keys, contextFor(diff2.rootHash()));
        if (!bytesEqual(out.commitSecret, created.commitSecret)) throw new Error(`new commit secret for leaf ${j}`);
      }
    }
  },
};

function createFor(
  cs: CipherSuite,
  tree: RatchetTree,
  sender: number,
  signaturePriv: Uint8Array,
  groupId: Uint8Array,
  contextFor: (h: Uint8Array) => Uint8Array,
) {
  const diff: TreeDiff = tree.diff();
  const old = leafNodeAt(tree, sender)!;
  const created = createUpdatePath({
    diff,
    leafIndex: sender,
    excluded: NONE,
    groupContext: contextFor,
    makeLeaf: (encryptionKey, parentHash) =>
      signLeafNode(
        cs,
        signaturePriv,
        {
          encryptionKey,
          signatureKey: old.signatureKey,
          credential: old.credential,
          capabilities: old.capabilities,
          leafNodeSource: "commit",
          parentHash,
          extensions: old.extensions,
        },
        groupId,
        sender,
      ),
  });
  return { ...created, treeHash: diff.rootHash() };
}
export default check;
