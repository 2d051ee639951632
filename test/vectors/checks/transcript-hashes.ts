import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { decodeAuthenticatedContent } from "../../../mls/framing/content.js";
import { confirmationTag, verifyConfirmationTag } from "../../../mls/schedule/key-schedule.js";
import { nextTranscriptHashes } from "../../../mls/schedule/transcript.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

function expectBytes(what: string, got: Uint8Array, want: Uint8Array): void {
  if (!bytesEqual(got, want)) throw new Error(`${what}: got ${toHex(got)}, expected ${toHex(want)}`);
}

/** transcript-hashes.json: the commit's confirmation tag, and both hashes after it. */
const check: VectorCheck = {
  file: "transcript-hashes.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cs = provider.suite(e.num("cipher_suite"));
    const ac = decode(decodeAuthenticatedContent, e.hex("authenticated_content"));
    if (ac.content.contentType !== "commit") throw new Error("authenticated_content is not a commit");
    const tag = ac.auth.confirmationTag;
    if (tag === undefined) throw new Error("commit without confirmation tag");
    const confirmedAfter = e.hex("confirmed_transcript_hash_after");
    verifyConfirmationTag(cs, e.hex("confirmation_key"), confirmedAfter, tag);
    expectBytes("confirmation_tag", confirmationTag(cs, e.hex("confirmation_key"), confirmedAfter), tag);

    const next = nextTranscriptHashes(cs, e.hex("interim_transcript_hash_before"), ac);
    expectBytes("confirmed_transcript_hash_after", next.confirmed, confirmedAfter);
    expectBytes("interim_transcript_hash_after", next.interim, e.hex("interim_transcript_hash_after"));
  },
};
export default check;
