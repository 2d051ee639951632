/** Welcome, GroupSecrets and their parts (RFC 9420 §12.4.3.1). */
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import { decodePreSharedKeyID, encodePreSharedKeyID, type PreSharedKeyID } from "./psk-id.js";
import { decodeHPKECiphertext, encodeHPKECiphertext, type HPKECiphertext } from "./update-path.js";

export interface GroupSecrets {
  readonly joinerSecret: Uint8Array;
  readonly pathSecret?: Uint8Array | undefined;
  readonly psks: readonly PreSharedKeyID[];
}

export interface EncryptedGroupSecrets {
  readonly newMember: Uint8Array;
  readonly encryptedGroupSecrets: HPKECiphertext;
}

export interface Welcome {
  readonly cipherSuite: number;
  readonly secrets: readonly EncryptedGroupSecrets[];
  readonly encryptedGroupInfo: Uint8Array;
}

export function encodeGroupSecrets(w: Writer, g: GroupSecrets): void {
  w.opaque(g.joinerSecret);
  w.optional(g.pathSecret, (w, s) => w.opaque(s));
  w.vector(g.psks, encodePreSharedKeyID);
}

export function decodeGroupSecrets(r: Reader): GroupSecrets {
  const joinerSecret = r.opaque();
  const pathSecret = r.optional((r) => r.opaque());
  const psks = r.vector(decodePreSharedKeyID);
  return pathSecret === undefined ? { joinerSecret, psks } : { joinerSecret, pathSecret, psks };
}

export function encodeEncryptedGroupSecrets(w: Writer, e: EncryptedGroupSecrets): void {
  w.opaque(e.newMember);
  encodeHPKECiphertext(w, e.encryptedGroupSecrets);
}

export function decodeEncryptedGroupSecrets(r: Reader): EncryptedGroupSecrets {
  return { newMember: r.opaque(), encryptedGroupSecrets: decodeHPKECiphertext(r) };
}

export function encodeWelcome(w: Writer, m: Welcome): void {
  w.u16(m.cipherSuite);
  w.vector(m.secrets, encodeEncryptedGroupSecrets);
  w.opaque(m.encryptedGroupInfo);
}

export function decodeWelcome(r: Reader): Welcome {
  return { cipherSuite: r.u16(), secrets: r.vector(decodeEncryptedGroupSecrets), encryptedGroupInfo: r.opaque() };
}
