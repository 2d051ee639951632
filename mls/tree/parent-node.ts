/** ParentNode (RFC 9420 §7.1). */
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";

export interface ParentNode {
  readonly encryptionKey: Uint8Array;
  readonly parentHash: Uint8Array;
  /** Leaf indices, sorted increasing (§7.1). */
  readonly unmergedLeaves: readonly number[];
}

export function encodeParentNode(w: Writer, p: ParentNode): void {
  w.opaque(p.encryptionKey);
  w.opaque(p.parentHash);
  w.vector(p.unmergedLeaves, (w, i) => w.u32(i));
}

export function decodeParentNode(r: Reader): ParentNode {
  return { encryptionKey: r.opaque(), parentHash: r.opaque(), unmergedLeaves: r.vector((r) => r.u32()) };
}
