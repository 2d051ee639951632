/** GroupInfo (RFC 9420 §12.4.3). */
import type { Reader } from "../codec/reader.js";
import { encode, type Writer } from "../codec/writer.js";
import { decodeExtensions, encodeExtensions, type Extension } from "../extensions/extension.js";
import { decodeGroupContext, encodeGroupContext, type GroupContext } from "./group-context.js";

export interface GroupInfoTBS {
  readonly groupContext: GroupContext;
  readonly extensions: readonly Extension[];
  readonly confirmationTag: Uint8Array;
  readonly signer: number;
}

export interface GroupInfo extends GroupInfoTBS {
  readonly signature: Uint8Array;
}

export function encodeGroupInfoTBS(w: Writer, g: GroupInfoTBS): void {
  encodeGroupContext(w, g.groupContext);
  encodeExtensions(w, g.extensions);
  w.opaque(g.confirmationTag);
  w.u32(g.signer);
}

/** Encodings of the GroupInfos signed here (kept by identity: a Welcome encrypts the one just signed). */
const encodedGroupInfos = new WeakMap<GroupInfo, Uint8Array>();

/** Records `bytes` as the encoding of `g` (its signer wrote them). */
export function keepGroupInfoEncoding(g: GroupInfo, bytes: Uint8Array): void {
  encodedGroupInfos.set(g, bytes);
}

/** The encoding of `g`: the one kept when it was signed here, else encoded now. */
export function groupInfoBytes(g: GroupInfo): Uint8Array {
  return encodedGroupInfos.get(g) ?? encode(encodeGroupInfo, g, 1024);
}

export function encodeGroupInfo(w: Writer, g: GroupInfo): void {
  const kept = encodedGroupInfos.get(g);
  if (kept !== undefined) {
    w.raw(kept);
    return;
  }
  encodeGroupInfoTBS(w, g);
  w.opaque(g.signature);
}

export function decodeGroupInfo(r: Reader): GroupInfo {
  return {
    groupContext: decodeGroupContext(r),
    extensions: decodeExtensions(r),
    confirmationTag: r.opaque(),
    signer: r.u32(),
    signature: r.opaque(),
  };
}
