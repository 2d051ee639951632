/** ParentNode (RFC 9420 §7.1). */
import type { Reader } from "../codec/reader.js";
import { encode, type Writer } from "../codec/writer.js";

export interface ParentNode {
  readonly encryptionKey: Uint8Array;
  readonly parentHash: Uint8Array;
  /** Leaf indices, sorted increasing (§7.1). */
  readonly unmergedLeaves: readonly number[];
}

/** Encodings of parent nodes by identity (immutable values), as for leaf nodes. */
const encodedParents = new WeakMap<ParentNode, Uint8Array>();

export function encodeParentNode(w: Writer, p: ParentNode): void {
  const cached = encodedParents.get(p);
  if (cached !== undefined) {
    w.raw(cached);
    return;
  }
  const start = w.length;
  w.opaque(p.encryptionKey);
  w.opaque(p.parentHash);
  w.vector(p.unmergedLeaves, (w, i) => w.u32(i));
  encodedParents.set(p, w.copySince(start));
}

/** The encoding of `p` (kept, not to be modified). */
export function parentNodeBytes(p: ParentNode): Uint8Array {
  return encodedParents.get(p) ?? encode(encodeParentNode, p);
}

export function decodeParentNode(r: Reader): ParentNode {
  const start = r.offset;
  const p: ParentNode = { encryptionKey: r.opaque(), parentHash: r.opaque(), unmergedLeaves: r.vector((r) => r.u32()) };
  encodedParents.set(p, r.since(start));
  return p;
}
