/** GroupContext (RFC 9420 §8.1). */
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import { decodeExtensions, encodeExtensions, type Extension } from "../extensions/extension.js";

export const PROTOCOL_VERSION_MLS10 = 1;

export interface GroupContext {
  readonly version: number;
  readonly cipherSuite: number;
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly treeHash: Uint8Array;
  readonly confirmedTranscriptHash: Uint8Array;
  readonly extensions: readonly Extension[];
}

export function encodeGroupContext(w: Writer, g: GroupContext): void {
  w.u16(g.version);
  w.u16(g.cipherSuite);
  w.opaque(g.groupId);
  w.u64(g.epoch);
  w.opaque(g.treeHash);
  w.opaque(g.confirmedTranscriptHash);
  encodeExtensions(w, g.extensions);
}

export function decodeGroupContext(r: Reader): GroupContext {
  return {
    version: r.u16(),
    cipherSuite: r.u16(),
    groupId: r.opaque(),
    epoch: r.u64(),
    treeHash: r.opaque(),
    confirmedTranscriptHash: r.opaque(),
    extensions: decodeExtensions(r),
  };
}
