/** PrivateMessage protection (RFC 9420 §6.3). */
import { Reader } from "../codec/reader.js";
import { Writer } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail, isMlsError } from "../errors.js";
import type { RatchetType, SecretTree } from "../schedule/secret-tree.js";
import { senderDataKeyNonce } from "../schedule/sender-data.js";
import {
  ContentType,
  decodeContentBody,
  decodeFramedContentAuthData,
  encodeContentBody,
  encodeFramedContentAuthData,
  type AuthenticatedContent,
  type ContentTypeName,
} from "./content.js";
import type { PrivateMessage } from "./messages.js";

/**
 * Padding policy (§6.3.1, §15.1): given the length in bytes of the encoded
 * PrivateMessageContent before padding (content body + FramedContentAuthData),
 * returns how many zero bytes to append. The padding hides the exact content
 * length from observers outside the group.
 */
export type PaddingPolicy = (contentLength: number) => number;

/** Pads the PrivateMessageContent to a multiple of `block` bytes. */
export function padToMultipleOf(block: number): PaddingPolicy {
  if (!Number.isSafeInteger(block) || block < 1) fail("InvalidValue", `padding block ${block}`);
  return (n) => (block - (n % block)) % block;
}

/** No padding. */
export const noPadding: PaddingPolicy = () => 0;

/** The default: PrivateMessageContent padded to a multiple of 32 bytes. */
export const defaultPadding: PaddingPolicy = padToMultipleOf(32);

/** The epoch's keys a PrivateMessage is protected with. */
export interface PrivateMessageKeys {
  /** The epoch's secret tree; its ratchets advance (and, on receipt, keys are consumed) as messages are protected. */
  readonly secretTree: SecretTree;
  readonly senderDataSecret: Uint8Array;
}

export interface ProtectPrivateOptions {
  /** Default `defaultPadding` (multiple of 32 bytes). */
  readonly padding?: PaddingPolicy;
  /** The 4-byte reuse guard (§6.3.1); fresh random by default. Only tests should set it. */
  readonly reuseGuard?: Uint8Array;
}

export interface UnprotectPrivateKeys extends PrivateMessageKeys {
  /** §6.3.2: true when `leafIndex` is a non-blank leaf of the current tree. */
  readonly isMember: (leafIndex: number) => boolean;
}

export interface UnprotectedPrivateMessage {
  /** With wire format mls_private_message and a member sender. */
  readonly authenticatedContent: AuthenticatedContent;
  readonly leafIndex: number;
  readonly generation: number;
}

const SENDER_DATA_LENGTH = 12; // uint32 leaf_index, uint32 generation, opaque reuse_guard[4]
const ZEROS = new Uint8Array(4096);

function ratchetOf(contentType: ContentTypeName): RatchetType {
  return contentType === "application" ? "application" : "handshake";
}

/** PrivateContentAAD (§6.3.1), or SenderDataAAD (§6.3.2) without authenticated_data. */
function aadOf(groupId: Uint8Array, epoch: bigint, contentType: ContentTypeName, authenticatedData?: Uint8Array): Uint8Array {
  const w = new Writer(24 + groupId.length + (authenticatedData?.length ?? 0));
  w.opaque(groupId).u64(epoch).u8(ContentType[contentType]);
  if (authenticatedData !== undefined) w.opaque(authenticatedData);
  return w.finish();
}

/** The content nonce: the first four bytes XORed with the reuse guard (§6.3.1). */
function guardedNonce(nonce: Uint8Array, guard: Uint8Array): Uint8Array {
  const out = nonce.slice();
  for (let i = 0; i < 4; i++) out[i]! ^= guard[i]!;
  return out;
}

function open(cs: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ct: Uint8Array, what: string): Uint8Array {
  try {
    return cs.aead.open(key, nonce, aad, ct);
  } catch (e) {
    if (isMlsError(e)) throw e;
    return fail("DecryptionFailed", `${what} does not decrypt`);
  }
}

/**
 * §6.3: encrypts signed content (see signContent, with wire format
 * mls_private_message and a member sender) with the key of the sender's next
 * generation (handshake ratchet for proposals and commits, application ratchet
 * for application data), then encrypts the SenderData under the sender data key.
 */
export function protectPrivateMessage(
  cs: CipherSuite,
  ac: AuthenticatedContent,
  keys: PrivateMessageKeys,
  options: ProtectPrivateOptions = {},
): PrivateMessage {
  const { content, auth } = ac;
  if (ac.wireFormat !== "mls_private_message") fail("WrongWireFormat", `content signed for ${ac.wireFormat}`);
  if (content.sender.type !== "member") fail("InvalidSender", "a PrivateMessage sender must be a member");
  const guard = options.reuseGuard ?? cs.randomBytes(4);
  if (guard.length !== 4) fail("InvalidValue", "reuse guard must be 4 bytes");

  // PrivateMessageContent: body, auth, then `padding` zero bytes.
  const w = new Writer(128 + (content.contentType === "application" ? content.applicationData.length : 0) + auth.signature.length);
  encodeContentBody(w, content);
  encodeFramedContentAuthData(w, auth, content.contentType);
  const pad = (options.padding ?? defaultPadding)(w.length);
  if (!Number.isSafeInteger(pad) || pad < 0) fail("InvalidValue", `padding policy returned ${pad}`);
  for (let left = pad; left > 0; left -= ZEROS.length) w.raw(left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left));
  const plaintext = w.finish();

  const leafIndex = content.sender.leafIndex;
  const { generation, key, nonce } = keys.secretTree.nextKey(leafIndex, ratchetOf(content.contentType));
  const aad = aadOf(content.groupId, content.epoch, content.contentType, content.authenticatedData);
  const ciphertext = cs.aead.seal(key, guardedNonce(nonce, guard), aad, plaintext);

  const senderData = new Writer(SENDER_DATA_LENGTH).u32(leafIndex).u32(generation).raw(guard).finish();
  const sd = senderDataKeyNonce(cs, keys.senderDataSecret, ciphertext);
  const encryptedSenderData = cs.aead.seal(sd.key, sd.nonce, aadOf(content.groupId, content.epoch, content.contentType), senderData);

  return {
    groupId: content.groupId,
    epoch: content.epoch,
    contentType: content.contentType,
    authenticatedData: content.authenticatedData,
    encryptedSenderData,
    ciphertext,
  };
}

/**
 * §6.3: decrypts the SenderData, checks the sender is a member (`isMember`),
 * takes the key of its generation from the secret tree (out of order within the
 * tree's window), decrypts and parses the PrivateMessageContent and checks its
 * padding is all zeros. The secret tree is changed only on success: a failed
 * call consumes no key. The signature is verified separately
 * (verifyContentSignature). Group id and epoch checks are the caller's.
 *
 * Throws MlsError: DecryptionFailed, UnknownSender, KeyReused, GenerationTooOld,
 * GenerationTooFar, InvalidPadding, or a codec code for malformed content.
 */
export function unprotectPrivateMessage(
  cs: CipherSuite,
  msg: PrivateMessage,
  keys: UnprotectPrivateKeys,
): UnprotectedPrivateMessage {
  const { groupId, epoch, contentType, authenticatedData } = msg;
  const sd = senderDataKeyNonce(cs, keys.senderDataSecret, msg.ciphertext);
  const senderData = open(cs, sd.key, sd.nonce, aadOf(groupId, epoch, contentType), msg.encryptedSenderData, "sender data");
  const r = new Reader(senderData);
  const leafIndex = r.u32();
  const generation = r.u32();
  const guard = r.raw(4);
  r.done();
  if (!keys.isMember(leafIndex)) fail("UnknownSender", `leaf ${leafIndex} is not a member`);

  const tree = keys.secretTree;
  return tree.atomically(() => {
    const { key, nonce } = tree.keyForGeneration(leafIndex, ratchetOf(contentType), generation);
    const aad = aadOf(groupId, epoch, contentType, authenticatedData);
    const plaintext = open(cs, key, guardedNonce(nonce, guard), aad, msg.ciphertext, "content");

    const pr = new Reader(plaintext);
    const body = decodeContentBody(pr, contentType);
    const auth = decodeFramedContentAuthData(pr, contentType);
    // §6.3.1: the padding is whatever follows the auth, and must be all zeros.
    for (let i = pr.offset; i < plaintext.length; i++) {
      if (plaintext[i] !== 0) fail("InvalidPadding", "non-zero byte in PrivateMessageContent padding");
    }
    const authenticatedContent: AuthenticatedContent = {
      wireFormat: "mls_private_message",
      content: { groupId, epoch, sender: { type: "member", leafIndex }, authenticatedData, ...body },
      auth,
    };
    return { authenticatedContent, leafIndex, generation };
  });
}
