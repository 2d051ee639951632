/**
 * The secret tree and its per-leaf hash ratchets (RFC 9420 §9, §9.1, §9.2).
 *
 * The tree is derived lazily: only the nodes on the path to a leaf that is
 * actually used are expanded, and a node's secret is dropped as soon as its
 * two children are derived (§9.2). A leaf secret is replaced by its two
 * ratchets (handshake, application) on first use.
 *
 * Internally the derived state is a persistent (immutable, path-copied)
 * binary tree: an operation on one leaf rebuilds only the O(log n) nodes
 * above it, so `clone()` is O(1) and a clone's changes never reach the
 * original. The group layer runs operations on a clone and keeps it only on
 * success.
 */
import { decode, type Reader } from "../codec/reader.js";
import { encode, type Writer } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { deriveTreeSecret, expandWithLabel } from "../crypto/labels.js";
import { fail } from "../errors.js";

export type RatchetType = "handshake" | "application";

/** One generation of a sender ratchet: ratchet_key_[N]_[j] and ratchet_nonce_[N]_[j] (§9.1). */
export interface RatchetKey {
  readonly generation: number;
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
}

/** Out-of-order policy (§15.3): how far a receiver ratchets forward, and how many unused keys it keeps. */
export interface SecretTreeOptions {
  /** Largest `generation - next generation` accepted by keyForGeneration (default 1000). */
  readonly maxForwardDistance?: number;
  /** Unused keys retained per ratchet for late messages; the oldest are dropped first (default 128). */
  readonly maxRetainedKeys?: number;
}

export const DEFAULT_MAX_FORWARD_DISTANCE = 1000;
export const DEFAULT_MAX_RETAINED_KEYS = 128;

/** The last generation representable on the wire (uint32). */
const MAX_GENERATION = 0xffffffff;

interface KeyNonce {
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
}

/** One hash ratchet. `secret` is ratchet_secret_[N]_[generation]; generation 2^32 means exhausted. */
interface Ratchet {
  readonly generation: number;
  readonly secret: Uint8Array;
  /** Generations below `floor` that are not retained were dropped by the retention policy. */
  readonly floor: number;
  /** Unused keys of generations below `generation`, in ascending insertion order. */
  readonly retained: ReadonlyMap<number, KeyNonce>;
}

interface Inner {
  readonly kind: "inner";
  readonly left: TreeNode;
  readonly right: TreeNode;
}

interface LeafRatchets {
  readonly kind: "leaf";
  readonly handshake: Ratchet;
  readonly application: Ratchet;
}

/** An underived node secret, a node whose children were derived, or a leaf turned into its ratchets. */
type TreeNode = Uint8Array | Inner | LeafRatchets;

const EMPTY = new Uint8Array(0);
const NO_KEYS: ReadonlyMap<number, KeyNonce> = new Map();
const LEFT = new Uint8Array([0x6c, 0x65, 0x66, 0x74]); // "left"
const RIGHT = new Uint8Array([0x72, 0x69, 0x67, 0x68, 0x74]); // "right"

function checkLimit(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > MAX_GENERATION) fail("InvalidValue", `${name} must be an integer in [0, 2^32)`);
  return v;
}

/** Number of levels above the leaves in the (power-of-two wide) tree of `leafCount` leaves (§7.1, Appendix C). */
function depthOf(leafCount: number): number {
  let d = 0;
  while (2 ** d < leafCount) d++;
  return d;
}

export class SecretTree {
  readonly maxForwardDistance: number;
  readonly maxRetainedKeys: number;
  private readonly depth: number;

  private constructor(
    private readonly cs: CipherSuite,
    readonly leafCount: number,
    private root: TreeNode,
    maxForwardDistance: number,
    maxRetainedKeys: number,
  ) {
    this.depth = depthOf(leafCount);
    this.maxForwardDistance = maxForwardDistance;
    this.maxRetainedKeys = maxRetainedKeys;
  }

  /** §9: a tree for `leafCount` leaves with encryption_secret at the root. */
  static create(cs: CipherSuite, encryptionSecret: Uint8Array, leafCount: number, options: SecretTreeOptions = {}): SecretTree {
    if (!Number.isSafeInteger(leafCount) || leafCount < 1 || leafCount > 2 ** 31) {
      fail("InvalidValue", `secret tree of ${leafCount} leaves`);
    }
    return new SecretTree(
      cs,
      leafCount,
      encryptionSecret,
      checkLimit("maxForwardDistance", options.maxForwardDistance ?? DEFAULT_MAX_FORWARD_DISTANCE),
      checkLimit("maxRetainedKeys", options.maxRetainedKeys ?? DEFAULT_MAX_RETAINED_KEYS),
    );
  }

  /** An independent copy in O(1): the derived state is immutable and shared until either side changes it. */
  clone(): SecretTree {
    return new SecretTree(this.cs, this.leafCount, this.root, this.maxForwardDistance, this.maxRetainedKeys);
  }

  /** Runs `fn`; if it throws, the tree is left exactly as it was before (no key consumed, nothing derived). */
  atomically<T>(fn: () => T): T {
    const saved = this.root;
    try {
      return fn();
    } catch (e) {
      this.root = saved;
      throw e;
    }
  }

  /**
   * Sending (§6.3.1): the key and nonce of the next unused generation of `leaf`'s
   * ratchet, which then moves past it (the key is never handed out again).
   */
  nextKey(leaf: number, type: RatchetType): RatchetKey {
    return this.updateRatchet(leaf, type, (r) => {
      if (r.generation > MAX_GENERATION) fail("GenerationTooFar", "sender ratchet exhausted");
      return this.step(r, r.generation);
    });
  }

  /**
   * Receiving (§9.1, §15.3): the key and nonce of `generation`, which is consumed.
   * Later generations within `maxForwardDistance` ratchet forward, retaining the
   * skipped keys (up to `maxRetainedKeys`); earlier ones are served from the
   * retained keys. Throws MlsError "KeyReused" for a generation already consumed,
   * "GenerationTooOld" for one whose key was dropped, "GenerationTooFar" beyond the window.
   */
  keyForGeneration(leaf: number, type: RatchetType, generation: number): RatchetKey {
    if (!Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION) {
      fail("InvalidValue", `generation ${generation}`);
    }
    return this.updateRatchet(leaf, type, (r) => {
      if (generation < r.generation) {
        const kn = r.retained.get(generation);
        if (kn === undefined) {
          if (generation < r.floor) fail("GenerationTooOld", `generation ${generation} is no longer retained`);
          fail("KeyReused", `generation ${generation} was already used`);
        }
        const retained = new Map(r.retained);
        retained.delete(generation);
        return [{ ...r, retained }, { generation, ...kn }];
      }
      if (generation - r.generation > this.maxForwardDistance) {
        fail("GenerationTooFar", `generation ${generation} is more than ${this.maxForwardDistance} ahead of ${r.generation}`);
      }
      return this.step(r, generation);
    });
  }

  /** Ratchets `r` to `target`, retaining skipped keys per policy; returns the new ratchet and the target's key. */
  private step(r: Ratchet, target: number): [Ratchet, RatchetKey] {
    const cs = this.cs;
    const keep = this.maxRetainedKeys;
    let secret = r.secret;
    let floor = r.floor;
    let retained: Map<number, KeyNonce> | undefined;
    for (let g = r.generation; g < target; g++) {
      if (target - g <= keep) {
        retained ??= new Map(r.retained);
        retained.set(g, this.keyNonce(secret, g));
      } else {
        floor = g + 1; // skipped and immediately beyond the retention bound
      }
      secret = deriveTreeSecret(cs, secret, "secret", g, cs.kdf.nh);
    }
    const kn = this.keyNonce(secret, target);
    const next = target < MAX_GENERATION ? deriveTreeSecret(cs, secret, "secret", target, cs.kdf.nh) : EMPTY;
    if (retained !== undefined) {
      for (const g of retained.keys()) {
        if (retained.size <= keep) break;
        retained.delete(g); // insertion order is ascending: the oldest go first
        floor = Math.max(floor, g + 1);
      }
    }
    const ratchet: Ratchet = { generation: target + 1, secret: next, floor, retained: retained ?? r.retained };
    return [ratchet, { generation: target, ...kn }];
  }

  private keyNonce(secret: Uint8Array, generation: number): KeyNonce {
    const cs = this.cs;
    return {
      key: deriveTreeSecret(cs, secret, "key", generation, cs.aead.nk),
      nonce: deriveTreeSecret(cs, secret, "nonce", generation, cs.aead.nn),
    };
  }

  /** Path-copies the tree down to `leaf`, deriving what is needed, and replaces its `type` ratchet. */
  private updateRatchet<T>(leaf: number, type: RatchetType, f: (r: Ratchet) => [Ratchet, T]): T {
    if (!Number.isInteger(leaf) || leaf < 0 || leaf >= this.leafCount) {
      fail("UnknownSender", `leaf ${leaf} is outside a secret tree of ${this.leafCount} leaves`);
    }
    let out: T | undefined;
    const onLeaf = (node: LeafRatchets): LeafRatchets => {
      const [r, v] = f(node[type]);
      out = v;
      return type === "handshake" ? { ...node, handshake: r } : { ...node, application: r };
    };
    this.root = this.descend(this.root, leaf, this.depth, onLeaf);
    return out as T;
  }

  private descend(node: TreeNode, leaf: number, level: number, onLeaf: (n: LeafRatchets) => LeafRatchets): TreeNode {
    const cs = this.cs;
    if (level === 0) {
      if (node instanceof Uint8Array) {
        // §9: the leaf secret seeds both ratchets, then is dropped.
        node = {
          kind: "leaf",
          handshake: initRatchet(expandWithLabel(cs, node, "handshake", EMPTY, cs.kdf.nh)),
          application: initRatchet(expandWithLabel(cs, node, "application", EMPTY, cs.kdf.nh)),
        };
      } else if (node.kind !== "leaf") {
        fail("InvalidState", "secret tree: parent node at leaf level");
      }
      return onLeaf(node);
    }
    let inner: Inner;
    if (node instanceof Uint8Array) {
      // §9: children secrets ExpandWithLabel(., "tree", "left"/"right", Nh); the parent is dropped.
      inner = {
        kind: "inner",
        left: expandWithLabel(cs, node, "tree", LEFT, cs.kdf.nh),
        right: expandWithLabel(cs, node, "tree", RIGHT, cs.kdf.nh),
      };
    } else if (node.kind === "inner") {
      inner = node;
    } else {
      return fail("InvalidState", "secret tree: leaf node above leaf level");
    }
    if ((leaf >>> (level - 1)) & 1) {
      return { kind: "inner", left: inner.left, right: this.descend(inner.right, leaf, level - 1, onLeaf) };
    }
    return { kind: "inner", left: this.descend(inner.left, leaf, level - 1, onLeaf), right: inner.right };
  }

  /** Versioned persistence (see encodeSecretTree). */
  encode(): Uint8Array {
    return encode(encodeSecretTree, this, 1024);
  }

  static decode(cs: CipherSuite, bytes: Uint8Array): SecretTree {
    return decode((r) => decodeSecretTree(r, cs), bytes);
  }

  /** @internal codec access */
  static encodeTo(w: Writer, t: SecretTree): void {
    w.u8(STATE_VERSION);
    w.u32(t.leafCount);
    w.u32(t.maxForwardDistance);
    w.u32(t.maxRetainedKeys);
    encodeNode(w, t.root);
  }

  /** @internal codec access */
  static decodeFrom(r: Reader, cs: CipherSuite): SecretTree {
    const version = r.u8();
    if (version !== STATE_VERSION) fail("UnsupportedStateVersion", `secret tree state version ${version}`);
    const leafCount = r.u32();
    if (leafCount < 1 || leafCount > 2 ** 31) fail("InvalidState", `secret tree of ${leafCount} leaves`);
    const maxForward = r.u32();
    const maxRetained = r.u32();
    const root = decodeNode(r, cs, depthOf(leafCount));
    return new SecretTree(cs, leafCount, root, maxForward, maxRetained);
  }
}

function initRatchet(secret: Uint8Array): Ratchet {
  return { generation: 0, secret, floor: 0, retained: NO_KEYS };
}

// Persistence. Layout (version 1):
//   uint8 version; uint32 leaf_count; uint32 max_forward; uint32 max_retained; Node root
//   Node = uint8 tag; 1: opaque secret<V> | 2: Node left, Node right | 3: Ratchet handshake, Ratchet application
//   Ratchet = uint64 generation; opaque secret<V>; uint64 floor; { uint32 generation; opaque key<V>; opaque nonce<V> } retained<V>
const STATE_VERSION = 1;
const TAG_SECRET = 1;
const TAG_INNER = 2;
const TAG_LEAF = 3;

/** Writes the tree's derived state (only what has been derived; secrets already dropped are absent). */
export function encodeSecretTree(w: Writer, t: SecretTree): void {
  SecretTree.encodeTo(w, t);
}

/** Reads a tree written by encodeSecretTree; malformed or inconsistent state is MlsError "InvalidState". */
export function decodeSecretTree(r: Reader, cs: CipherSuite): SecretTree {
  return SecretTree.decodeFrom(r, cs);
}

function encodeNode(w: Writer, n: TreeNode): void {
  if (n instanceof Uint8Array) {
    w.u8(TAG_SECRET).opaque(n);
  } else if (n.kind === "inner") {
    w.u8(TAG_INNER);
    encodeNode(w, n.left);
    encodeNode(w, n.right);
  } else {
    w.u8(TAG_LEAF);
    encodeRatchet(w, n.handshake);
    encodeRatchet(w, n.application);
  }
}

function encodeRatchet(w: Writer, r: Ratchet): void {
  w.u64(BigInt(r.generation));
  w.opaque(r.secret);
  w.u64(BigInt(r.floor));
  w.lengthPrefixed(() => {
    for (const [g, kn] of r.retained) w.u32(g).opaque(kn.key).opaque(kn.nonce);
  });
}

function decodeNode(r: Reader, cs: CipherSuite, level: number): TreeNode {
  const tag = r.u8();
  if (tag === TAG_SECRET) return secretOf(r, cs.kdf.nh);
  if (tag === TAG_INNER && level > 0) {
    const left = decodeNode(r, cs, level - 1);
    return { kind: "inner", left, right: decodeNode(r, cs, level - 1) };
  }
  if (tag === TAG_LEAF && level === 0) {
    const handshake = decodeRatchet(r, cs);
    return { kind: "leaf", handshake, application: decodeRatchet(r, cs) };
  }
  return fail("InvalidState", `secret tree: node tag ${tag} at level ${level}`);
}

function secretOf(r: Reader, len: number): Uint8Array {
  const s = r.opaque();
  if (s.length !== len) fail("InvalidState", "secret tree: secret of the wrong length");
  return s.slice();
}

function decodeRatchet(r: Reader, cs: CipherSuite): Ratchet {
  const generation = Number(r.u64());
  if (generation > MAX_GENERATION + 1) fail("InvalidState", "secret tree: ratchet generation out of range");
  const secret = generation > MAX_GENERATION ? r.opaque().slice() : secretOf(r, cs.kdf.nh);
  const floor = Number(r.u64());
  if (floor > generation) fail("InvalidState", "secret tree: ratchet floor beyond its generation");
  const retained = new Map<number, KeyNonce>();
  let last = -1;
  for (const [g, kn] of r.vector((r) => [r.u32(), { key: r.opaque().slice(), nonce: r.opaque().slice() }] as const)) {
    if (g <= last || g >= generation || kn.key.length !== cs.aead.nk || kn.nonce.length !== cs.aead.nn) {
      fail("InvalidState", "secret tree: malformed retained key");
    }
    retained.set(g, kn);
    last = g;
  }
  return { generation, secret, floor, retained: retained.size === 0 ? NO_KEYS : retained };
}
