/** Sender, FramedContent, FramedContentAuthData, AuthenticatedContent and the TBS forms (RFC 9420 §6, §6.1). */
import { enumCodec } from "../codec/enum.js";
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import { fail } from "../errors.js";
import { decodeCommit, encodeCommit, type Commit } from "../messages/commit.js";
import { encodeGroupContext, type GroupContext } from "../messages/group-context.js";
import { decodeProposal, encodeProposal, type Proposal } from "../messages/proposal.js";

export const WireFormat = {
  mls_public_message: 1,
  mls_private_message: 2,
  mls_welcome: 3,
  mls_group_info: 4,
  mls_key_package: 5,
} as const;
export type WireFormatName = keyof typeof WireFormat;
export const wireFormats = enumCodec("WireFormat", WireFormat);

export const ContentType = { application: 1, proposal: 2, commit: 3 } as const;
export type ContentTypeName = keyof typeof ContentType;
export const contentTypes = enumCodec("ContentType", ContentType);

export const SenderType = { member: 1, external: 2, new_member_proposal: 3, new_member_commit: 4 } as const;
const senderTypes = enumCodec("SenderType", SenderType);

export type Sender =
  | { readonly type: "member"; readonly leafIndex: number }
  | { readonly type: "external"; readonly senderIndex: number }
  | { readonly type: "new_member_proposal" }
  | { readonly type: "new_member_commit" };

export function encodeSender(w: Writer, s: Sender): void {
  w.u8(SenderType[s.type]);
  if (s.type === "member") w.u32(s.leafIndex);
  else if (s.type === "external") w.u32(s.senderIndex);
}

export function decodeSender(r: Reader): Sender {
  const type = senderTypes.fromWire(r.u8());
  if (type === "member") return { type, leafIndex: r.u32() };
  if (type === "external") return { type, senderIndex: r.u32() };
  return { type };
}

/** The select of FramedContent / PrivateMessageContent on content_type. */
export type ContentBody =
  | { readonly contentType: "application"; readonly applicationData: Uint8Array }
  | { readonly contentType: "proposal"; readonly proposal: Proposal }
  | { readonly contentType: "commit"; readonly commit: Commit };

export function encodeContentBody(w: Writer, b: ContentBody): void {
  if (b.contentType === "application") w.opaque(b.applicationData);
  else if (b.contentType === "proposal") encodeProposal(w, b.proposal);
  else encodeCommit(w, b.commit);
}

export function decodeContentBody(r: Reader, contentType: ContentTypeName): ContentBody {
  if (contentType === "application") return { contentType, applicationData: r.opaque() };
  if (contentType === "proposal") return { contentType, proposal: decodeProposal(r) };
  return { contentType, commit: decodeCommit(r) };
}

export type FramedContent = {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly sender: Sender;
  readonly authenticatedData: Uint8Array;
} & ContentBody;

/**
 * Encodings of large FramedContents, by object identity: a commit is encoded
 * for its signature, its membership tag, its transcript hash and its
 * reference, and a received one is re-encoded exactly as it arrived (the
 * codec is canonical), so each is serialized once. Values are immutable.
 */
const encodedContent = new WeakMap<FramedContent, Uint8Array>();
const CACHE_THRESHOLD = 2048;

export function encodeFramedContent(w: Writer, c: FramedContent): void {
  const cached = encodedContent.get(c);
  if (cached !== undefined) {
    w.raw(cached);
    return;
  }
  const start = w.length;
  encodeFramedContentFields(w, c);
  if (w.length - start >= CACHE_THRESHOLD) encodedContent.set(c, w.copySince(start));
}

/** Bytes the encoding of `c` takes (exact once encoded or decoded; else an estimate). */
export function framedContentSize(c: FramedContent): number {
  const cached = encodedContent.get(c);
  if (cached !== undefined) return cached.length;
  return 64 + c.groupId.length + c.authenticatedData.length + (c.contentType === "application" ? c.applicationData.length : 512);
}

function encodeFramedContentFields(w: Writer, c: FramedContent): void {
  w.opaque(c.groupId);
  w.u64(c.epoch);
  encodeSender(w, c.sender);
  w.opaque(c.authenticatedData);
  w.u8(ContentType[c.contentType]);
  encodeContentBody(w, c);
}

export function decodeFramedContent(r: Reader): FramedContent {
  const start = r.offset;
  const groupId = r.opaque();
  const epoch = r.u64();
  const sender = decodeSender(r);
  const authenticatedData = r.opaque();
  const contentType = contentTypes.fromWire(r.u8());
  const content: FramedContent = { groupId, epoch, sender, authenticatedData, ...decodeContentBody(r, contentType) };
  if (r.offset - start >= CACHE_THRESHOLD) encodedContent.set(content, r.since(start));
  return content;
}

export interface FramedContentAuthData {
  readonly signature: Uint8Array;
  /** Present exactly when the content is a commit. */
  readonly confirmationTag?: Uint8Array | undefined;
}

export function encodeFramedContentAuthData(w: Writer, a: FramedContentAuthData, contentType: ContentTypeName): void {
  w.opaque(a.signature);
  if (contentType === "commit") {
    if (a.confirmationTag === undefined) fail("InvalidValue", "commit without confirmation tag");
    w.opaque(a.confirmationTag);
  }
}

export function decodeFramedContentAuthData(r: Reader, contentType: ContentTypeName): FramedContentAuthData {
  const signature = r.opaque();
  return contentType === "commit" ? { signature, confirmationTag: r.opaque() } : { signature };
}

export interface AuthenticatedContent {
  readonly wireFormat: WireFormatName;
  readonly content: FramedContent;
  readonly auth: FramedContentAuthData;
}

export function encodeAuthenticatedContent(w: Writer, a: AuthenticatedContent): void {
  w.u16(WireFormat[a.wireFormat]);
  encodeFramedContent(w, a.content);
  encodeFramedContentAuthData(w, a.auth, a.content.contentType);
}

export function decodeAuthenticatedContent(r: Reader): AuthenticatedContent {
  const wireFormat = wireFormats.fromWire(r.u16());
  const content = decodeFramedContent(r);
  return { wireFormat, content, auth: decodeFramedContentAuthData(r, content.contentType) };
}

/** FramedContentTBS (§6.1): the group context is bound for member and new_member_commit senders. */
export function encodeFramedContentTBS(
  w: Writer,
  wireFormat: WireFormatName,
  content: FramedContent,
  context: GroupContext | undefined,
): void {
  w.u16(1); // version = mls10
  w.u16(WireFormat[wireFormat]);
  encodeFramedContent(w, content);
  if (content.sender.type === "member" || content.sender.type === "new_member_commit") {
    if (context === undefined) fail("InvalidValue", "FramedContentTBS needs the group context for this sender");
    encodeGroupContext(w, context);
  }
}
