/** Credentials (RFC 9420 §5.3). */
import { enumCodec } from "../codec/enum.js";
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";

export const CredentialType = { basic: 1, x509: 2 } as const;
export const credentialTypes = enumCodec("CredentialType", CredentialType);

export type Credential =
  | { readonly type: "basic"; readonly identity: Uint8Array }
  | { readonly type: "x509"; readonly certificates: readonly Uint8Array[] };

export function encodeCredential(w: Writer, c: Credential): void {
  w.u16(CredentialType[c.type]);
  if (c.type === "basic") w.opaque(c.identity);
  else w.vector(c.certificates, (w, cert) => w.opaque(cert));
}

export function decodeCredential(r: Reader): Credential {
  const type = credentialTypes.fromWire(r.u16());
  if (type === "basic") return { type, identity: r.opaque() };
  return { type, certificates: r.vector((r) => r.opaque()) };
}

export function basicCredential(identity: Uint8Array): Credential {
  return { type: "basic", identity };
}
