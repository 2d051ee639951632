/** LeafNode and its parts (RFC 9420 §7.2). */
import { enumCodec } from "../codec/enum.js";
import type { Reader } from "../codec/reader.js";
import { encode, type Writer } from "../codec/writer.js";
import { decodeCredential, encodeCredential, type Credential } from "../credentials/credential.js";
import { decodeExtensions, encodeExtensions, type Extension } from "../extensions/extension.js";

export const LeafNodeSource = { key_package: 1, update: 2, commit: 3 } as const;
export type LeafNodeSourceName = keyof typeof LeafNodeSource;
export const leafNodeSources = enumCodec("LeafNodeSource", LeafNodeSource);

/** Capabilities lists keep unknown (e.g. GREASE) values: they must be ignored, not rejected (§13.5). */
export interface Capabilities {
  readonly versions: readonly number[];
  readonly cipherSuites: readonly number[];
  readonly extensions: readonly number[];
  readonly proposals: readonly number[];
  readonly credentials: readonly number[];
}

export interface Lifetime {
  readonly notBefore: bigint;
  readonly notAfter: bigint;
}

export type LeafNodeSourceData =
  | { readonly leafNodeSource: "key_package"; readonly lifetime: Lifetime }
  | { readonly leafNodeSource: "update" }
  | { readonly leafNodeSource: "commit"; readonly parentHash: Uint8Array };

export type LeafNodeContent = {
  readonly encryptionKey: Uint8Array;
  readonly signatureKey: Uint8Array;
  readonly credential: Credential;
  readonly capabilities: Capabilities;
  readonly extensions: readonly Extension[];
} & LeafNodeSourceData;

export type LeafNode = LeafNodeContent & { readonly signature: Uint8Array };

const u16List = (w: Writer, list: readonly number[]) => w.vector(list, (w, v) => w.u16(v));
const readU16List = (r: Reader) => r.vector((r) => r.u16());

export function encodeCapabilities(w: Writer, c: Capabilities): void {
  u16List(w, c.versions);
  u16List(w, c.cipherSuites);
  u16List(w, c.extensions);
  u16List(w, c.proposals);
  u16List(w, c.credentials);
}

export function decodeCapabilities(r: Reader): Capabilities {
  return {
    versions: readU16List(r),
    cipherSuites: readU16List(r),
    extensions: readU16List(r),
    proposals: readU16List(r),
    credentials: readU16List(r),
  };
}

/** The fields shared by LeafNode and LeafNodeTBS, up to and including extensions. */
function encodeLeafNodeContent(w: Writer, n: LeafNodeContent): void {
  w.opaque(n.encryptionKey);
  w.opaque(n.signatureKey);
  encodeCredential(w, n.credential);
  encodeCapabilities(w, n.capabilities);
  w.u8(LeafNodeSource[n.leafNodeSource]);
  if (n.leafNodeSource === "key_package") {
    w.u64(n.lifetime.notBefore);
    w.u64(n.lifetime.notAfter);
  } else if (n.leafNodeSource === "commit") {
    w.opaque(n.parentHash);
  }
  encodeExtensions(w, n.extensions);
}

/**
 * Encodings of leaf nodes by object identity (values are immutable): a leaf
 * is encoded for every tree hash over it, for the ratchet_tree extension and
 * for its signature checks; decoded leaves keep the bytes they came in.
 */
const encodedLeaves = new WeakMap<LeafNode, Uint8Array>();

export function encodeLeafNode(w: Writer, n: LeafNode): void {
  const cached = encodedLeaves.get(n);
  if (cached !== undefined) {
    w.raw(cached);
    return;
  }
  const start = w.length;
  encodeLeafNodeContent(w, n);
  w.opaque(n.signature);
  encodedLeaves.set(n, w.copySince(start));
}

/** The encoding of `n` (kept, not to be modified). */
export function leafNodeBytes(n: LeafNode): Uint8Array {
  return encodedLeaves.get(n) ?? encode(encodeLeafNode, n);
}

export function decodeLeafNode(r: Reader): LeafNode {
  const start = r.offset;
  const encryptionKey = r.opaque();
  const signatureKey = r.opaque();
  const credential = decodeCredential(r);
  const capabilities = decodeCapabilities(r);
  const source = leafNodeSources.fromWire(r.u8());
  let sourceData: LeafNodeSourceData;
  if (source === "key_package") {
    const notBefore = r.u64();
    sourceData = { leafNodeSource: source, lifetime: { notBefore, notAfter: r.u64() } };
  } else if (source === "commit") {
    sourceData = { leafNodeSource: source, parentHash: r.opaque() };
  } else {
    sourceData = { leafNodeSource: source };
  }
  const extensions = decodeExtensions(r);
  const signature = r.opaque();
  const leaf: LeafNode = { encryptionKey, signatureKey, credential, capabilities, ...sourceData, extensions, signature };
  encodedLeaves.set(leaf, r.since(start));
  return leaf;
}

/** LeafNodeTBS (§7.2): group context is bound for update and commit leaves. */
export function encodeLeafNodeTBS(
  w: Writer,
  n: LeafNodeContent,
  groupId: Uint8Array | undefined,
  leafIndex: number | undefined,
): void {
  encodeLeafNodeContent(w, n);
  if (n.leafNodeSource !== "key_package") {
    if (groupId === undefined || leafIndex === undefined) {
      throw new TypeError("LeafNodeTBS for update/commit needs group id and leaf index");
    }
    w.opaque(groupId);
    w.u32(leafIndex);
  }
}
