/** Proposals (RFC 9420 §12.1). */
import { enumCodec } from "../codec/enum.js";
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import { decodeExtensions, encodeExtensions, type Extension } from "../extensions/extension.js";
import { decodeKeyPackage, encodeKeyPackage, type KeyPackage } from "../key-packages/key-package.js";
import { decodeLeafNode, encodeLeafNode, type LeafNode } from "../tree/leaf-node.js";
import { decodePreSharedKeyID, encodePreSharedKeyID, type PreSharedKeyID } from "./psk-id.js";

export const ProposalType = {
  add: 1,
  update: 2,
  remove: 3,
  psk: 4,
  reinit: 5,
  external_init: 6,
  group_context_extensions: 7,
} as const;
export type ProposalTypeName = keyof typeof ProposalType;
export const proposalTypes = enumCodec("ProposalType", ProposalType);

export interface ReInit {
  readonly groupId: Uint8Array;
  readonly version: number;
  readonly cipherSuite: number;
  readonly extensions: readonly Extension[];
}

export type Proposal =
  | { readonly type: "add"; readonly keyPackage: KeyPackage }
  | { readonly type: "update"; readonly leafNode: LeafNode }
  | { readonly type: "remove"; readonly removed: number }
  | { readonly type: "psk"; readonly psk: PreSharedKeyID }
  | ({ readonly type: "reinit" } & ReInit)
  | { readonly type: "external_init"; readonly kemOutput: Uint8Array }
  | { readonly type: "group_context_extensions"; readonly extensions: readonly Extension[] };

export type ProposalOf<T extends ProposalTypeName> = Extract<Proposal, { type: T }>;

export function encodeProposal(w: Writer, p: Proposal): void {
  w.u16(ProposalType[p.type]);
  switch (p.type) {
    case "add":
      return encodeKeyPackage(w, p.keyPackage);
    case "update":
      return encodeLeafNode(w, p.leafNode);
    case "remove":
      w.u32(p.removed);
      return;
    case "psk":
      return encodePreSharedKeyID(w, p.psk);
    case "reinit":
      w.opaque(p.groupId);
      w.u16(p.version);
      w.u16(p.cipherSuite);
      return encodeExtensions(w, p.extensions);
    case "external_init":
      w.opaque(p.kemOutput);
      return;
    case "group_context_extensions":
      return encodeExtensions(w, p.extensions);
  }
}

export function decodeProposal(r: Reader): Proposal {
  const type = proposalTypes.fromWire(r.u16());
  switch (type) {
    case "add":
      return { type, keyPackage: decodeKeyPackage(r) };
    case "update":
      return { type, leafNode: decodeLeafNode(r) };
    case "remove":
      return { type, removed: r.u32() };
    case "psk":
      return { type, psk: decodePreSharedKeyID(r) };
    case "reinit": {
      const groupId = r.opaque();
      const version = r.u16();
      const cipherSuite = r.u16();
      return { type, groupId, version, cipherSuite, extensions: decodeExtensions(r) };
    }
    case "external_init":
      return { type, kemOutput: r.opaque() };
    case "group_context_extensions":
      return { type, extensions: decodeExtensions(r) };
  }
}
