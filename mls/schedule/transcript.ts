/** Transcript hashes (RFC 9420 §8.2). */
import { withWriter, Writer } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import {
  encodeFramedContent,
  framedContentSize,
  WireFormat,
  type AuthenticatedContent,
  type FramedContent,
  type WireFormatName,
} from "../framing/content.js";

export interface TranscriptHashes {
  readonly confirmed: Uint8Array;
  readonly interim: Uint8Array;
}

/**
 * confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput), with
 * struct { WireFormat wire_format; FramedContent content; opaque signature<V>; } ConfirmedTranscriptHashInput.
 */
export function confirmedTranscriptHash(
  cs: CipherSuite,
  interimBefore: Uint8Array,
  wireFormat: WireFormatName,
  content: FramedContent,
  signature: Uint8Array,
): Uint8Array {
  if (content.contentType !== "commit") fail("InvalidValue", "transcript hashes cover commits only");
  // Hashed in place in the codec's kept buffer: a commit's content can be large (see framing/auth.ts).
  return withWriter(framedContentSize(content) + interimBefore.length + signature.length + 16, (w) => {
    w.raw(interimBefore);
    w.u16(WireFormat[wireFormat]);
    encodeFramedContent(w, content);
    w.opaque(signature);
    return cs.hash.digest(w.viewSince(0));
  });
}

/** interim_transcript_hash_[n] = Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput{ MAC confirmation_tag }). */
export function interimTranscriptHash(cs: CipherSuite, confirmed: Uint8Array, confirmationTag: Uint8Array): Uint8Array {
  const w = new Writer(confirmed.length + confirmationTag.length + 4);
  w.raw(confirmed);
  w.opaque(confirmationTag);
  return cs.hash.digest(w.finish());
}

/** The confirmed transcript hash of a commit's AuthenticatedContent (input to its confirmation tag). */
export function confirmedTranscriptHashOf(cs: CipherSuite, interimBefore: Uint8Array, ac: AuthenticatedContent): Uint8Array {
  return confirmedTranscriptHash(cs, interimBefore, ac.wireFormat, ac.content, ac.auth.signature);
}

/** Both hashes after a commit whose AuthenticatedContent carries its confirmation tag. */
export function nextTranscriptHashes(cs: CipherSuite, interimBefore: Uint8Array, ac: AuthenticatedContent): TranscriptHashes {
  const tag = ac.auth.confirmationTag;
  if (tag === undefined) fail("InvalidValue", "commit without confirmation tag");
  const confirmed = confirmedTranscriptHashOf(cs, interimBefore, ac);
  return { confirmed, interim: interimTranscriptHash(cs, confirmed, tag) };
}
