/** GroupInfo (RFC 9420 §12.4.3). */
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
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

export function encodeGroupInfo(w: Writer, g: GroupInfo): void {
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
