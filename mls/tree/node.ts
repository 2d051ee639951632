/** Node and the serialized ratchet tree (RFC 9420 §7.1, §12.4.3.3). */
import { enumCodec } from "../codec/enum.js";
import type { Reader } from "../codec/reader.js";
import { fail } from "../errors.js";
import type { Writer } from "../codec/writer.js";
import { MAX_VARINT } from "../codec/varint.js";
import { decodeLeafNode, encodeLeafNode, leafNodeBytes, type LeafNode } from "./leaf-node.js";
import { decodeParentNode, encodeParentNode, parentNodeBytes, type ParentNode } from "./parent-node.js";

export const NodeType = { leaf: 1, parent: 2 } as const;
const nodeTypes = enumCodec("NodeType", NodeType);

export type Node = { readonly type: "leaf"; readonly leaf: LeafNode } | { readonly type: "parent"; readonly parent: ParentNode };

export function encodeNode(w: Writer, n: Node): void {
  w.u8(NodeType[n.type]);
  if (n.type === "leaf") encodeLeafNode(w, n.leaf);
  else encodeParentNode(w, n.parent);
}

export function decodeNode(r: Reader): Node {
  const type = nodeTypes.fromWire(r.u8());
  return type === "leaf" ? { type, leaf: decodeLeafNode(r) } : { type, parent: decodeParentNode(r) };
}

/** optional<Node> ratchet_tree<V>: the array form, trailing blanks stripped by the sender. */
export type RatchetTreeNodes = readonly (Node | undefined)[];

export function encodeRatchetTree(w: Writer, nodes: RatchetTreeNodes): void {
  let n = nodes.length;
  while (n > 0 && nodes[n - 1] === undefined) n--;
  // Every node's encoding is kept (leaf-node.ts, parent-node.ts): gather them, grow the output once, copy.
  const parts = new Array<Uint8Array | undefined>(n);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const node = nodes[i];
    if (node === undefined) {
      size += 1;
      continue;
    }
    const b = node.type === "leaf" ? leafNodeBytes(node.leaf) : parentNodeBytes(node.parent);
    parts[i] = b;
    size += 2 + b.length;
  }
  if (size > MAX_VARINT) fail("LengthOverflow", `ratchet tree of ${size} bytes exceeds 2^30-1`);
  w.varint(size);
  w.reserve(size);
  for (let i = 0; i < n; i++) {
    const b = parts[i];
    if (b === undefined) w.u8(0);
    else w.u8(1).u8(nodes[i]!.type === "leaf" ? NodeType.leaf : NodeType.parent).raw(b);
  }
}

/** Decodes the syntax only; `checkRatchetTreeShape` applies §12.4.3.3's structural rules. */
export function decodeRatchetTree(r: Reader): (Node | undefined)[] {
  return r.vector((r) => r.optional(decodeNode));
}

/** §12.4.3.3: non-empty, last node present, leaves at even positions and parents at odd ones. */
export function checkRatchetTreeShape(nodes: RatchetTreeNodes): void {
  if (nodes.length === 0) fail("InvalidTree", "empty ratchet tree");
  if (nodes[nodes.length - 1] === undefined) fail("InvalidTree", "ratchet tree ends with a blank node");
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    if (n !== undefined && (n.type === "leaf") !== (i % 2 === 0)) {
      fail("InvalidTree", `node ${i} has the wrong type for its position`);
    }
  }
}
