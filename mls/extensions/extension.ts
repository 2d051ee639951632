/** Extensions (RFC 9420 §13.4) and the typed payloads of the ones this library knows. */
import type { Reader } from "../codec/reader.js";
import { decode } from "../codec/reader.js";
import { encode, type Writer } from "../codec/writer.js";
import { decodeCredential, encodeCredential, type Credential } from "../credentials/credential.js";

/** Extension types of RFC 9420 §17.3. Unknown types are legal and carried opaquely. */
export const ExtensionType = {
  application_id: 1,
  ratchet_tree: 2,
  required_capabilities: 3,
  external_pub: 4,
  external_senders: 5,
} as const;

export interface Extension {
  readonly extensionType: number;
  readonly extensionData: Uint8Array;
}

export function encodeExtension(w: Writer, e: Extension): void {
  w.u16(e.extensionType);
  w.opaque(e.extensionData);
}

export function decodeExtension(r: Reader): Extension {
  return { extensionType: r.u16(), extensionData: r.opaque() };
}

export function encodeExtensions(w: Writer, list: readonly Extension[]): void {
  w.vector(list, encodeExtension);
}

export function decodeExtensions(r: Reader): Extension[] {
  return r.vector(decodeExtension);
}

export function findExtension(list: readonly Extension[], type: number): Extension | undefined {
  return list.find((e) => e.extensionType === type);
}

/** True when two extensions share a type (forbidden in every extension list, §13.4). */
export function hasDuplicateExtension(list: readonly Extension[]): boolean {
  const seen = new Set<number>();
  for (const e of list) {
    if (seen.has(e.extensionType)) return true;
    seen.add(e.extensionType);
  }
  return false;
}

/** RequiredCapabilities (§11.1). */
export interface RequiredCapabilities {
  readonly extensionTypes: readonly number[];
  readonly proposalTypes: readonly number[];
  readonly credentialTypes: readonly number[];
}

export function encodeRequiredCapabilities(w: Writer, v: RequiredCapabilities): void {
  w.vector(v.extensionTypes, (w, t) => w.u16(t));
  w.vector(v.proposalTypes, (w, t) => w.u16(t));
  w.vector(v.credentialTypes, (w, t) => w.u16(t));
}

export function decodeRequiredCapabilities(r: Reader): RequiredCapabilities {
  return {
    extensionTypes: r.vector((r) => r.u16()),
    proposalTypes: r.vector((r) => r.u16()),
    credentialTypes: r.vector((r) => r.u16()),
  };
}

/** ExternalSender (§12.1.8.1). */
export interface ExternalSender {
  readonly signatureKey: Uint8Array;
  readonly credential: Credential;
}

export function encodeExternalSender(w: Writer, v: ExternalSender): void {
  w.opaque(v.signatureKey);
  encodeCredential(w, v.credential);
}

export function decodeExternalSender(r: Reader): ExternalSender {
  return { signatureKey: r.opaque(), credential: decodeCredential(r) };
}

export function requiredCapabilitiesExtension(v: RequiredCapabilities): Extension {
  return { extensionType: ExtensionType.required_capabilities, extensionData: encode(encodeRequiredCapabilities, v) };
}

export function externalSendersExtension(senders: readonly ExternalSender[]): Extension {
  return {
    extensionType: ExtensionType.external_senders,
    extensionData: encode((w, s: readonly ExternalSender[]) => w.vector(s, encodeExternalSender), senders),
  };
}

export function externalPubExtension(publicKey: Uint8Array): Extension {
  return { extensionType: ExtensionType.external_pub, extensionData: encode((w, k: Uint8Array) => w.opaque(k), publicKey) };
}

export function readRequiredCapabilities(list: readonly Extension[]): RequiredCapabilities | undefined {
  const e = findExtension(list, ExtensionType.required_capabilities);
  return e && decode(decodeRequiredCapabilities, e.extensionData);
}

export function readExternalSenders(list: readonly Extension[]): ExternalSender[] | undefined {
  const e = findExtension(list, ExtensionType.external_senders);
  return e && decode((r) => r.vector(decodeExternalSender), e.extensionData);
}

export function readExternalPub(list: readonly Extension[]): Uint8Array | undefined {
  const e = findExtension(list, ExtensionType.external_pub);
  return e && decode((r) => r.opaque(), e.extensionData);
}
