/** PreSharedKeyID (RFC 9420 §8.4). */
import { enumCodec } from "../codec/enum.js";
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";

export const PSKType = { external: 1, resumption: 2 } as const;
const pskTypes = enumCodec("PSKType", PSKType);

export const ResumptionPSKUsage = { application: 1, reinit: 2, branch: 3 } as const;
export type ResumptionPSKUsageName = keyof typeof ResumptionPSKUsage;
const usages = enumCodec("ResumptionPSKUsage", ResumptionPSKUsage);

export type PreSharedKeyID =
  | { readonly pskType: "external"; readonly pskId: Uint8Array; readonly pskNonce: Uint8Array }
  | {
      readonly pskType: "resumption";
      readonly usage: ResumptionPSKUsageName;
      readonly pskGroupId: Uint8Array;
      readonly pskEpoch: bigint;
      readonly pskNonce: Uint8Array;
    };

export function encodePreSharedKeyID(w: Writer, p: PreSharedKeyID): void {
  w.u8(PSKType[p.pskType]);
  if (p.pskType === "external") {
    w.opaque(p.pskId);
  } else {
    w.u8(ResumptionPSKUsage[p.usage]);
    w.opaque(p.pskGroupId);
    w.u64(p.pskEpoch);
  }
  w.opaque(p.pskNonce);
}

export function decodePreSharedKeyID(r: Reader): PreSharedKeyID {
  const pskType = pskTypes.fromWire(r.u8());
  if (pskType === "external") {
    const pskId = r.opaque();
    return { pskType, pskId, pskNonce: r.opaque() };
  }
  const usage = usages.fromWire(r.u8());
  const pskGroupId = r.opaque();
  const pskEpoch = r.u64();
  return { pskType, usage, pskGroupId, pskEpoch, pskNonce: r.opaque() };
}
