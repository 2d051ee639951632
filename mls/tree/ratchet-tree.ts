/**
 * The public ratchet tree (RFC 9420 §4, §7). One implementation serves the
 * member's view and the Delivery Service's public view.
 *
 * `RatchetTree` is the tree of the current epoch. Changes are staged in a
 * `TreeDiff` laid over it: the tree stays untouched until `merge`, so a
 * rejected proposal or commit leaves no trace, and staging costs only what
 * it changes (tree hashes, key indices and node writes are incremental).
 */
import { bytesEqual, bytesKey } from "../codec/bytes.js";
import { withWriter, type Writer } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import { encodeLeafNode, type LeafNode } from "./leaf-node.js";
import { directPath, isLeaf, left, nodeWidth, parent, right, root } from "./math.js";
import { checkRatchetTreeShape, type Node, type RatchetTreeNodes } from "./node.js";
import { encodeParentNode, type ParentNode } from "./parent-node.js";

/** Read access shared by the tree and its diffs. */
export interface TreeView {
  readonly cs: CipherSuite;
  /** Always a power of two (§7). */
  readonly leafCount: number;
  node(i: number): Node | undefined;
  /** Tree hash of node `i` (§7.8). */
  treeHash(i: number): Uint8Array;
  /** Node index whose encryption key equals `key`, or -1. */
  findEncryptionKey(key: Uint8Array): number;
  /** Leaf index whose signature key equals `key`, or -1. */
  findSignatureKey(key: Uint8Array): number;
  /** Credential types in use and supported, over all leaves (§7.3). */
  credentialStats(): CredentialStats;
  /** Index of the rightmost non-blank leaf (-1 when none): nodes to its right have empty subtrees. */
  lastMemberLeaf(): number;
}

/** Counts over the non-blank leaves, kept incrementally (§7.3 credential-type checks). */
export interface CredentialStats {
  readonly members: number;
  /** credential type -> number of leaves using it. */
  readonly inUse: ReadonlyMap<number, number>;
  /** credential type -> number of leaves listing it in capabilities.credentials. */
  readonly supports: ReadonlyMap<number, number>;
}

class MutableStats implements CredentialStats {
  members = 0;
  readonly inUse = new Map<number, number>();
  readonly supports = new Map<number, number>();

  static copy(s: CredentialStats): MutableStats {
    const m = new MutableStats();
    m.members = s.members;
    for (const [k, v] of s.inUse) m.inUse.set(k, v);
    for (const [k, v] of s.supports) m.supports.set(k, v);
    return m;
  }

  count(n: Node | undefined, delta: 1 | -1): void {
    if (n?.type !== "leaf") return;
    this.members += delta;
    const t = credentialTypeOf(n.leaf);
    this.inUse.set(t, (this.inUse.get(t) ?? 0) + delta);
    for (const c of new Set(n.leaf.capabilities.credentials)) this.supports.set(c, (this.supports.get(c) ?? 0) + delta);
  }
}

function credentialTypeOf(leaf: LeafNode): number {
  return leaf.credential.type === "basic" ? 1 : 2;
}

export function rootIndex(view: TreeView): number {
  return root(view.leafCount);
}

export function leafNodeAt(view: TreeView, leafIndex: number): LeafNode | undefined {
  if (leafIndex >= view.leafCount) return undefined;
  const n = view.node(leafIndex * 2);
  return n?.type === "leaf" ? n.leaf : undefined;
}

export function parentNodeAt(view: TreeView, i: number): ParentNode | undefined {
  const n = view.node(i);
  return n?.type === "parent" ? n.parent : undefined;
}

export function encryptionKeyOf(n: Node): Uint8Array {
  return n.type === "leaf" ? n.leaf.encryptionKey : n.parent.encryptionKey;
}

/** Leaf indices of non-blank leaves, in order. */
export function memberLeaves(view: TreeView): number[] {
  const out: number[] = [];
  for (let l = 0; l < view.leafCount; l++) if (view.node(l * 2) !== undefined) out.push(l);
  return out;
}

/** TreeHashInput (§7.8) of node `i` given its children's hashes. */
function hashInput(w: Writer, i: number, n: Node | undefined, leftHash?: Uint8Array, rightHash?: Uint8Array): void {
  if (isLeaf(i)) {
    w.u8(1);
    w.u32(i >>> 1);
    w.optional(n?.type === "leaf" ? n.leaf : undefined, encodeLeafNode);
  } else {
    w.u8(2);
    w.optional(n?.type === "parent" ? n.parent : undefined, encodeParentNode);
    w.opaque(leftHash!);
    w.opaque(rightHash!);
  }
}

export function hashTreeNode(
  cs: CipherSuite,
  i: number,
  n: Node | undefined,
  leftHash?: Uint8Array,
  rightHash?: Uint8Array,
): Uint8Array {
  // Hashed where it was encoded: the input is not kept.
  return withWriter(512, (w) => {
    hashInput(w, i, n, leftHash, rightHash);
    return cs.hash.digest(w.viewSince(0));
  });
}

function nodeMatchesKey(n: Node | undefined, key: Uint8Array): boolean {
  return n !== undefined && bytesEqual(encryptionKeyOf(n), key);
}

/** The tree of one epoch. Mutated only by `merge` (and by the group when it owns it alone). */
export class RatchetTree implements TreeView {
  private nodes: (Node | undefined)[];
  private hashes: (Uint8Array | undefined)[];
  private readonly encIndex = new Map<string, number>();
  private readonly sigIndex = new Map<string, number>();
  private duplicateKeys = false;
  private leaves: number;
  private stats = new MutableStats();
  private firstBlank: number | undefined;
  private lastMember: number | undefined;

  private constructor(
    readonly cs: CipherSuite,
    nodes: (Node | undefined)[],
    leafCount: number,
  ) {
    this.nodes = nodes;
    this.leaves = leafCount;
    this.hashes = new Array<Uint8Array | undefined>(nodes.length);
    for (let i = 0; i < nodes.length; i++) this.index(i, nodes[i]);
  }

  /** A tree from its serialized node list (§12.4.3.3): shape checked, padded to full width. */
  static fromNodes(cs: CipherSuite, list: RatchetTreeNodes): RatchetTree {
    checkRatchetTreeShape(list);
    let leafCount = 1;
    while (nodeWidth(leafCount) < list.length) leafCount *= 2;
    const nodes = new Array<Node | undefined>(nodeWidth(leafCount));
    for (let i = 0; i < list.length; i++) nodes[i] = list[i];
    return new RatchetTree(cs, nodes, leafCount);
  }

  /** The one-member tree of a new group (§11). */
  static withCreator(cs: CipherSuite, leaf: LeafNode): RatchetTree {
    return new RatchetTree(cs, [{ type: "leaf", leaf }], 1);
  }

  get leafCount(): number {
    return this.leaves;
  }

  /** True when two nodes of the tree share an encryption key or two leaves a signature key. */
  get hasDuplicateKeys(): boolean {
    return this.duplicateKeys;
  }

  node(i: number): Node | undefined {
    return this.nodes[i];
  }

  treeHash(i: number): Uint8Array {
    const cached = this.hashes[i];
    if (cached !== undefined) return cached;
    const n = this.nodes[i];
    const h = isLeaf(i)
      ? hashTreeNode(this.cs, i, n)
      : hashTreeNode(this.cs, i, n, this.treeHash(left(i)), this.treeHash(right(i)));
    this.hashes[i] = h;
    return h;
  }

  rootHash(): Uint8Array {
    return this.treeHash(root(this.leaves));
  }

  findEncryptionKey(key: Uint8Array): number {
    const i = this.encIndex.get(bytesKey(key));
    return i !== undefined && nodeMatchesKey(this.nodes[i], key) ? i : -1;
  }

  findSignatureKey(key: Uint8Array): number {
    const l = this.sigIndex.get(bytesKey(key));
    if (l === undefined) return -1;
    const n = this.nodes[l * 2];
    return n?.type === "leaf" && bytesEqual(n.leaf.signatureKey, key) ? l : -1;
  }

  credentialStats(): CredentialStats {
    return this.stats;
  }

  lastMemberLeaf(): number {
    if (this.lastMember === undefined) {
      let l = this.leaves - 1;
      while (l >= 0 && this.nodes[l * 2] === undefined) l--;
      this.lastMember = l;
    }
    return this.lastMember;
  }

  /** Index of the leftmost blank leaf (leafCount when there is none); cached between merges. */
  firstBlankLeaf(): number {
    if (this.firstBlank === undefined) {
      let l = 0;
      while (l < this.leaves && this.nodes[l * 2] !== undefined) l++;
      this.firstBlank = l;
    }
    return this.firstBlank;
  }

  /** The serializable node list, trailing blanks trimmed (§12.4.3.3). */
  toNodes(): (Node | undefined)[] {
    let n = this.nodes.length;
    while (n > 0 && this.nodes[n - 1] === undefined) n--;
    return this.nodes.slice(0, n);
  }

  diff(): TreeDiff {
    return new TreeDiff(this);
  }

  /** An independent copy (node objects are immutable and shared). */
  clone(): RatchetTree {
    const t = new RatchetTree(this.cs, [], 1);
    t.nodes = this.nodes.slice();
    t.hashes = this.hashes.slice();
    t.leaves = this.leaves;
    for (const [k, v] of this.encIndex) t.encIndex.set(k, v);
    for (const [k, v] of this.sigIndex) t.sigIndex.set(k, v);
    t.duplicateKeys = this.duplicateKeys;
    t.stats = MutableStats.copy(this.stats);
    t.firstBlank = this.firstBlank;
    t.lastMember = this.lastMember;
    return t;
  }

  /** Applies a diff made on this tree. The diff must not be used afterwards. */
  merge(d: TreeDiff): void {
    if (d.base !== this) fail("InvalidState", "diff belongs to another tree");
    const width = nodeWidth(d.leafCount);
    const grown = Math.max(width, this.nodes.length);
    this.nodes.length = grown;
    this.hashes.length = grown;
    for (const [i, n] of d.changes) {
      this.unindex(i, this.nodes[i]);
      this.nodes[i] = n;
      this.index(i, n);
    }
    // The diff knows which hashes changed, and already computed most of them.
    for (const i of d.dirtyNodes()) if (i < grown) this.hashes[i] = d.hashCache.get(i);
    for (let i = width; i < grown; i++) this.unindex(i, this.nodes[i]);
    this.nodes.length = width;
    this.hashes.length = width;
    this.leaves = d.leafCount;
    // Both bounds move only where the diff changed leaves: from the old bound, look at those, then scan on.
    if (this.firstBlank !== undefined) {
      let f = Math.min(this.firstBlank, this.leaves);
      for (const i of d.changes.keys()) if ((i & 1) === 0 && i >>> 1 < f && this.nodes[i] === undefined) f = i >>> 1;
      while (f < this.leaves && this.nodes[f * 2] !== undefined) f++;
      this.firstBlank = f;
    }
    if (this.lastMember !== undefined) {
      let l = Math.min(this.lastMember, this.leaves - 1);
      for (const i of d.changes.keys()) if ((i & 1) === 0 && i >>> 1 > l && this.nodes[i] !== undefined) l = i >>> 1;
      while (l >= 0 && this.nodes[l * 2] === undefined) l--;
      this.lastMember = l;
    }
  }

  private index(i: number, n: Node | undefined): void {
    if (n === undefined) return;
    this.stats.count(n, 1);
    const ek = bytesKey(encryptionKeyOf(n));
    const atEk = this.encIndex.get(ek);
    if (atEk !== undefined && atEk !== i) this.duplicateKeys = true;
    this.encIndex.set(ek, i);
    if (n.type === "leaf") {
      const sk = bytesKey(n.leaf.signatureKey);
      const atSk = this.sigIndex.get(sk);
      if (atSk !== undefined && atSk !== i >>> 1) this.duplicateKeys = true;
      this.sigIndex.set(sk, i >>> 1);
    }
  }

  private unindex(i: number, n: Node | undefined): void {
    if (n === undefined) return;
    this.stats.count(n, -1);
    const ek = bytesKey(encryptionKeyOf(n));
    if (this.encIndex.get(ek) === i) this.encIndex.delete(ek);
    if (n.type === "leaf") {
      const sk = bytesKey(n.leaf.signatureKey);
      if (this.sigIndex.get(sk) === i >>> 1) this.sigIndex.delete(sk);
    }
  }
}

/** Staged changes over a RatchetTree (§7.7, §12.1 tree operations). */
export class TreeDiff implements TreeView {
  readonly cs: CipherSuite;
  /** Node writes (undefined = blanked). */
  readonly changes = new Map<number, Node | undefined>();
  /** Hashes recomputed for nodes whose subtree changed. */
  readonly hashCache = new Map<number, Uint8Array>();
  private readonly dirty = new Set<number>();
  private readonly encIndex = new Map<string, number>();
  private readonly sigIndex = new Map<string, number>();
  private leaves: number;
  private stats: MutableStats | undefined;
  private lastMember: number | undefined;
  /** No blank leaf below this index (a search hint for reserveLeaf). */
  private freeFrom: number;

  constructor(readonly base: RatchetTree) {
    this.cs = base.cs;
    this.leaves = base.leafCount;
    this.freeFrom = base.firstBlankLeaf();
  }

  get leafCount(): number {
    return this.leaves;
  }

  node(i: number): Node | undefined {
    if (i >= nodeWidth(this.leaves)) return undefined;
    if (this.changes.has(i)) return this.changes.get(i);
    return i < nodeWidth(this.base.leafCount) ? this.base.node(i) : undefined;
  }

  treeHash(i: number): Uint8Array {
    const cached = this.hashCache.get(i);
    if (cached !== undefined) return cached;
    if (!this.dirty.has(i) && i < nodeWidth(this.base.leafCount)) return this.base.treeHash(i);
    const n = this.node(i);
    const h = isLeaf(i)
      ? hashTreeNode(this.cs, i, n)
      : hashTreeNode(this.cs, i, n, this.treeHash(left(i)), this.treeHash(right(i)));
    this.hashCache.set(i, h);
    return h;
  }

  rootHash(): Uint8Array {
    return this.treeHash(root(this.leaves));
  }

  findEncryptionKey(key: Uint8Array): number {
    const k = bytesKey(key);
    const mine = this.encIndex.get(k);
    if (mine !== undefined && nodeMatchesKey(this.node(mine), key)) return mine;
    const i = this.base.findEncryptionKey(key);
    return i >= 0 && !this.changes.has(i) && i < nodeWidth(this.leaves) ? i : -1;
  }

  findSignatureKey(key: Uint8Array): number {
    const k = bytesKey(key);
    const mine = this.sigIndex.get(k);
    if (mine !== undefined) {
      const n = this.node(mine * 2);
      if (n?.type === "leaf" && bytesEqual(n.leaf.signatureKey, key)) return mine;
    }
    const l = this.base.findSignatureKey(key);
    return l >= 0 && !this.changes.has(l * 2) && l < this.leaves ? l : -1;
  }

  credentialStats(): CredentialStats {
    if (this.stats === undefined) {
      // Base counts, corrected for the writes made so far; kept current by setNode from now on.
      const s = MutableStats.copy(this.base.credentialStats());
      const baseWidth = nodeWidth(this.base.leafCount);
      for (const [i, n] of this.changes) {
        if (!isLeaf(i)) continue;
        if (i < baseWidth) s.count(this.base.node(i), -1);
        s.count(n, 1);
      }
      this.stats = s;
    }
    return this.stats;
  }

  lastMemberLeaf(): number {
    if (this.lastMember === undefined) {
      let l = Math.min(this.base.lastMemberLeaf(), this.leaves - 1);
      for (const [i, n] of this.changes) if (isLeaf(i) && n !== undefined && i >>> 1 > l && i >>> 1 < this.leaves) l = i >>> 1;
      while (l >= 0 && this.node(l * 2) === undefined) l--;
      this.lastMember = l;
    }
    return this.lastMember;
  }

  /** Rebuilds a diff from its node writes and final leaf count (state persistence). */
  static restore(base: RatchetTree, leafCount: number, changes: Iterable<[number, Node | undefined]>): TreeDiff {
    const d = new TreeDiff(base);
    while (d.leaves < leafCount) d.extend();
    d.leaves = leafCount;
    for (const [i, n] of changes) d.setNode(i, n);
    return d;
  }

  /** Nodes whose tree hash may differ from the base tree's. */
  dirtyNodes(): Iterable<number> {
    return this.dirty;
  }

  setNode(i: number, n: Node | undefined): void {
    if (i >= nodeWidth(this.leaves)) fail("InvalidState", `node ${i} outside the tree`);
    if (isLeaf(i)) {
      this.lastMember = undefined;
      if (this.stats !== undefined) {
        this.stats.count(this.node(i), -1);
        this.stats.count(n, 1);
      }
      if (n === undefined && i >>> 1 < this.freeFrom) this.freeFrom = i >>> 1;
    }
    this.changes.set(i, n);
    if (n !== undefined) {
      this.encIndex.set(bytesKey(encryptionKeyOf(n)), i);
      if (n.type === "leaf") this.sigIndex.set(bytesKey(n.leaf.signatureKey), i >>> 1);
    }
    this.touch(i);
  }

  /**
   * Marks `i` and its ancestors dirty and drops their cached hashes. Two
   * invariants let the walk stop early: every ancestor of a dirty node is
   * dirty, and a node hashed since it became dirty cached every dirty node
   * below it. So above a dirty node without a cached hash, nothing is cached
   * (a path commit touches ~2 nodes per write instead of the whole path).
   */
  private touch(i: number): void {
    this.dirty.add(i);
    this.hashCache.delete(i);
    const r = root(this.leaves);
    for (let p = i; p !== r; ) {
      p = parent(p, this.leaves);
      if (this.dirty.has(p) && !this.hashCache.has(p)) return;
      this.dirty.add(p);
      this.hashCache.delete(p);
    }
  }

  /** Blanks every node on the direct path of a leaf (§7.4, §12.1.2, §12.1.3). */
  blankDirectPath(leafIndex: number): void {
    for (const p of directPath(leafIndex * 2, this.leaves)) {
      if (this.node(p) !== undefined) this.setNode(p, undefined);
    }
  }

  /** §12.1.1: leftmost blank leaf (extending the tree when full), marked unmerged above. */
  addLeaf(leaf: LeafNode): number {
    const l = this.reserveLeaf();
    for (const p of directPath(l * 2, this.leaves)) {
      const n = this.node(p);
      if (n?.type === "parent") {
        const unmerged = [...n.parent.unmergedLeaves, l].sort((a, b) => a - b);
        this.setNode(p, { type: "parent", parent: { ...n.parent, unmergedLeaves: unmerged } });
      }
    }
    this.setNode(l * 2, { type: "leaf", leaf });
    return l;
  }

  /** The leaf an Add or external commit would take: leftmost blank, extending the tree when full (§12.4.3.2). */
  reserveLeaf(): number {
    let l = this.freeFrom;
    while (l < this.leaves && this.node(l * 2) !== undefined) l++;
    this.freeFrom = l;
    if (l === this.leaves) this.extend();
    return l;
  }

  /** §12.1.2: replace the sender's leaf and blank its direct path. */
  updateLeaf(leafIndex: number, leaf: LeafNode): void {
    this.setNode(leafIndex * 2, { type: "leaf", leaf });
    this.blankDirectPath(leafIndex);
  }

  /** §12.1.3: blank the leaf and its direct path, then truncate. */
  removeLeaf(leafIndex: number): void {
    this.setNode(leafIndex * 2, undefined);
    this.blankDirectPath(leafIndex);
    this.truncate();
  }

  /** §7.7: double the leaf count; the new right half is blank. */
  private extend(): void {
    const oldWidth = nodeWidth(this.leaves);
    this.leaves *= 2;
    // Every node beyond the old width, and the new root above it, hashes afresh.
    const baseWidth = nodeWidth(this.base.leafCount);
    for (let i = oldWidth; i < nodeWidth(this.leaves); i++) {
      this.dirty.add(i);
      // After a truncation the base still holds the cut-off nodes: they must not come back.
      if (i < baseWidth && !this.changes.has(i) && this.base.node(i) !== undefined) this.changes.set(i, undefined);
    }
  }

  /** §12.1.3: shrink to 2^d leaves, d smallest with 2^d > rightmost non-blank leaf. */
  truncate(): void {
    // The rightmost member comes from the base's kept bound, not a scan of the
    // blank tail (at 10,000 leaves of 16,384, 6,384 lookups per removal).
    const last = Math.max(0, this.lastMemberLeaf());
    let n = this.leaves;
    while (n > 1 && n / 2 > last) n /= 2;
    if (n === this.leaves) return;
    this.leaves = n;
    const width = nodeWidth(n);
    for (const i of [...this.changes.keys()]) if (i >= width) this.changes.delete(i);
    // Their hashes go too: were the tree to grow again within this diff
    // (Remove then Add, §12.3), those nodes come back blank, not as they were.
    for (const i of [...this.hashCache.keys()]) if (i >= width) this.hashCache.delete(i);
  }
}
