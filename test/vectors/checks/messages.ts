import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { decode, type Decoder, type Reader } from "../../../mls/codec/reader.js";
import { encode, type Encoder, type Writer } from "../../../mls/codec/writer.js";
import { decodeExtensions, encodeExtensions, type Extension } from "../../../mls/extensions/extension.js";
import { decodeMLSMessage, encodeMLSMessage, type MLSMessage } from "../../../mls/framing/messages.js";
import { decodeKeyPackage, encodeKeyPackage } from "../../../mls/key-packages/key-package.js";
import { decodeCommit, encodeCommit } from "../../../mls/messages/commit.js";
import { decodeProposal, encodeProposal, type Proposal } from "../../../mls/messages/proposal.js";
import { decodePreSharedKeyID, encodePreSharedKeyID } from "../../../mls/messages/psk-id.js";
import { decodeGroupSecrets, encodeGroupSecrets } from "../../../mls/messages/welcome.js";
import { decodeLeafNode, encodeLeafNode } from "../../../mls/tree/leaf-node.js";
import { decodeRatchetTree, encodeRatchetTree } from "../../../mls/tree/node.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

/** The body of a proposal of a known type, as the vectors serialize it (without proposal_type). */
function bodyOf<T extends Proposal["type"]>(type: T): [Decoder<Proposal>, Encoder<Proposal>] {
  // Decoding a body = decoding a Proposal whose 2-byte type we prepend; encoding strips it.
  const code = { add: 1, update: 2, remove: 3, psk: 4, reinit: 5, external_init: 6, group_context_extensions: 7 }[type];
  return [
    (r: Reader) => {
      const rest = r.raw(r.remaining);
      const framed = new Uint8Array(rest.length + 2);
      framed[0] = code >> 8;
      framed[1] = code & 0xff;
      framed.set(rest, 2);
      return decode(decodeProposal, framed);
    },
    (w: Writer, p: Proposal) => {
      w.raw(encode(encodeProposal, p).subarray(2));
    },
  ];
}

function wireFormatIs(expected: MLSMessage["wireFormat"], contentType?: string): Decoder<MLSMessage> {
  return (r) => {
    const m = decodeMLSMessage(r);
    if (m.wireFormat !== expected) throw new Error(`expected ${expected}, got ${m.wireFormat}`);
    if (contentType && m.wireFormat === "mls_public_message" && m.publicMessage.content.contentType !== contentType) {
      throw new Error(`expected content type ${contentType}`);
    }
    return m;
  };
}

const FIELDS: Record<string, [Decoder<unknown>, Encoder<never>]> = {
  mls_welcome: [wireFormatIs("mls_welcome"), encodeMLSMessage],
  mls_group_info: [wireFormatIs("mls_group_info"), encodeMLSMessage],
  mls_key_package: [wireFormatIs("mls_key_package"), encodeMLSMessage],
  ratchet_tree: [decodeRatchetTree, encodeRatchetTree],
  group_secrets: [decodeGroupSecrets, encodeGroupSecrets],
  add_proposal: [decodeKeyPackage, encodeKeyPackage],
  update_proposal: [decodeLeafNode, encodeLeafNode],
  remove_proposal: bodyOf("remove"),
  pre_shared_key_proposal: [decodePreSharedKeyID, encodePreSharedKeyID],
  re_init_proposal: bodyOf("reinit"),
  external_init_proposal: bodyOf("external_init"),
  group_context_extensions_proposal: [decodeExtensions, (w: Writer, e: Extension[]) => encodeExtensions(w, e)],
  commit: [decodeCommit, encodeCommit],
  public_message_application: [wireFormatIs("mls_public_message", "application"), encodeMLSMessage],
  public_message_proposal: [wireFormatIs("mls_public_message", "proposal"), encodeMLSMessage],
  public_message_commit: [wireFormatIs("mls_public_message", "commit"), encodeMLSMessage],
  private_message: [wireFormatIs("mls_private_message"), encodeMLSMessage],
};

/** messages.json: every field decodes with its structure and re-encodes byte-exactly. */
const check: VectorCheck = {
  file: "messages.json",
  check(raw) {
    const e = Entry.of(raw);
    for (const [field, [dec, enc]] of Object.entries(FIELDS)) {
      const bytes = e.hex(field);
      const value = decode(dec, bytes);
      const again = encode(enc as Encoder<unknown>, value);
      if (!bytesEqual(again, bytes)) {
        throw new Error(`${field}: re-encoding differs (${toHex(again).slice(0, 40)}... vs ${toHex(bytes).slice(0, 40)}...)`);
      }
    }
  },
};
export default check;
