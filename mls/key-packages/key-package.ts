/** KeyPackage (RFC 9420 §10). */
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import { decodeExtensions, encodeExtensions, type Extension } from "../extensions/extension.js";
import { decodeLeafNode, encodeLeafNode, type LeafNode } from "../tree/leaf-node.js";

export interface KeyPackageTBS {
  readonly version: number;
  readonly cipherSuite: number;
  readonly initKey: Uint8Array;
  readonly leafNode: LeafNode;
  readonly extensions: readonly Extension[];
}

export interface KeyPackage extends KeyPackageTBS {
  readonly signature: Uint8Array;
}

export function encodeKeyPackageTBS(w: Writer, k: KeyPackageTBS): void {
  w.u16(k.version);
  w.u16(k.cipherSuite);
  w.opaque(k.initKey);
  encodeLeafNode(w, k.leafNode);
  encodeExtensions(w, k.extensions);
}

export function encodeKeyPackage(w: Writer, k: KeyPackage): void {
  encodeKeyPackageTBS(w, k);
  w.opaque(k.signature);
}

export function decodeKeyPackage(r: Reader): KeyPackage {
  return {
    version: r.u16(),
    cipherSuite: r.u16(),
    initKey: r.opaque(),
    leafNode: decodeLeafNode(r),
    extensions: decodeExtensions(r),
    signature: r.opaque(),
  };
}
