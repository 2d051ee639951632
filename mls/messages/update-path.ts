/** HPKECiphertext, UpdatePathNode, UpdatePath (RFC 9420 §7.6). */
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import { decodeLeafNode, encodeLeafNode, type LeafNode } from "../tree/leaf-node.js";

export interface HPKECiphertext {
  readonly kemOutput: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface UpdatePathNode {
  readonly encryptionKey: Uint8Array;
  readonly encryptedPathSecret: readonly HPKECiphertext[];
}

export interface UpdatePath {
  readonly leafNode: LeafNode;
  readonly nodes: readonly UpdatePathNode[];
}

export function encodeHPKECiphertext(w: Writer, c: HPKECiphertext): void {
  w.opaque(c.kemOutput);
  w.opaque(c.ciphertext);
}

export function decodeHPKECiphertext(r: Reader): HPKECiphertext {
  return { kemOutput: r.opaque(), ciphertext: r.opaque() };
}

export function encodeUpdatePathNode(w: Writer, n: UpdatePathNode): void {
  w.opaque(n.encryptionKey);
  w.vector(n.encryptedPathSecret, encodeHPKECiphertext);
}

export function decodeUpdatePathNode(r: Reader): UpdatePathNode {
  return { encryptionKey: r.opaque(), encryptedPathSecret: r.vector(decodeHPKECiphertext) };
}

export function encodeUpdatePath(w: Writer, p: UpdatePath): void {
  encodeLeafNode(w, p.leafNode);
  w.vector(p.nodes, encodeUpdatePathNode);
}

export function decodeUpdatePath(r: Reader): UpdatePath {
  return { leafNode: decodeLeafNode(r), nodes: r.vector(decodeUpdatePathNode) };
}
