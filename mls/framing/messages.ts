/** PublicMessage, PrivateMessage and MLSMessage (RFC 9420 §6, §6.2, §6.3). */
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import { fail } from "../errors.js";
import { decodeGroupInfo, encodeGroupInfo, type GroupInfo } from "../messages/group-info.js";
import { decodeKeyPackage, encodeKeyPackage, type KeyPackage } from "../key-packages/key-package.js";
import { decodeWelcome, encodeWelcome, type Welcome } from "../messages/welcome.js";
import {
  ContentType,
  contentTypes,
  decodeFramedContent,
  decodeFramedContentAuthData,
  encodeFramedContent,
  encodeFramedContentAuthData,
  WireFormat,
  wireFormats,
  type ContentTypeName,
  type FramedContent,
  type FramedContentAuthData,
} from "./content.js";

export interface PublicMessage {
  readonly content: FramedContent;
  readonly auth: FramedContentAuthData;
  /** Present exactly when the sender is a member. */
  readonly membershipTag?: Uint8Array | undefined;
}

export function encodePublicMessage(w: Writer, m: PublicMessage): void {
  encodeFramedContent(w, m.content);
  encodeFramedContentAuthData(w, m.auth, m.content.contentType);
  if (m.content.sender.type === "member") {
    if (m.membershipTag === undefined) fail("InvalidValue", "member PublicMessage without membership tag");
    w.opaque(m.membershipTag);
  }
}

export function decodePublicMessage(r: Reader): PublicMessage {
  const content = decodeFramedContent(r);
  const auth = decodeFramedContentAuthData(r, content.contentType);
  return content.sender.type === "member" ? { content, auth, membershipTag: r.opaque() } : { content, auth };
}

export interface PrivateMessage {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly contentType: ContentTypeName;
  readonly authenticatedData: Uint8Array;
  readonly encryptedSenderData: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export function encodePrivateMessage(w: Writer, m: PrivateMessage): void {
  w.opaque(m.groupId);
  w.u64(m.epoch);
  w.u8(ContentType[m.contentType]);
  w.opaque(m.authenticatedData);
  w.opaque(m.encryptedSenderData);
  w.opaque(m.ciphertext);
}

export function decodePrivateMessage(r: Reader): PrivateMessage {
  return {
    groupId: r.opaque(),
    epoch: r.u64(),
    contentType: contentTypes.fromWire(r.u8()),
    authenticatedData: r.opaque(),
    encryptedSenderData: r.opaque(),
    ciphertext: r.opaque(),
  };
}

export type MLSMessage =
  | { readonly version: number; readonly wireFormat: "mls_public_message"; readonly publicMessage: PublicMessage }
  | { readonly version: number; readonly wireFormat: "mls_private_message"; readonly privateMessage: PrivateMessage }
  | { readonly version: number; readonly wireFormat: "mls_welcome"; readonly welcome: Welcome }
  | { readonly version: number; readonly wireFormat: "mls_group_info"; readonly groupInfo: GroupInfo }
  | { readonly version: number; readonly wireFormat: "mls_key_package"; readonly keyPackage: KeyPackage };

export function encodeMLSMessage(w: Writer, m: MLSMessage): void {
  w.u16(m.version);
  w.u16(WireFormat[m.wireFormat]);
  switch (m.wireFormat) {
    case "mls_public_message":
      return encodePublicMessage(w, m.publicMessage);
    case "mls_private_message":
      return encodePrivateMessage(w, m.privateMessage);
    case "mls_welcome":
      return encodeWelcome(w, m.welcome);
    case "mls_group_info":
      return encodeGroupInfo(w, m.groupInfo);
    case "mls_key_package":
      return encodeKeyPackage(w, m.keyPackage);
  }
}

export function decodeMLSMessage(r: Reader): MLSMessage {
  const version = r.u16();
  const wireFormat = wireFormats.fromWire(r.u16());
  switch (wireFormat) {
    case "mls_public_message":
      return { version, wireFormat, publicMessage: decodePublicMessage(r) };
    case "mls_private_message":
      return { version, wireFormat, privateMessage: decodePrivateMessage(r) };
    case "mls_welcome":
      return { version, wireFormat, welcome: decodeWelcome(r) };
    case "mls_group_info":
      return { version, wireFormat, groupInfo: decodeGroupInfo(r) };
    case "mls_key_package":
      return { version, wireFormat, keyPackage: decodeKeyPackage(r) };
  }
}
