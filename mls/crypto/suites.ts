/**
 * The cipher suites of RFC 9420 §17.1 and the HPKE algorithm parameters they
 * use (RFC 9180 §7). Pure data, shared by every provider.
 */
import { fail } from "../errors.js";
import type { HashName, SignatureFns } from "./provider.js";

export type DhGroup = "X25519" | "X448" | "P-256" | "P-384" | "P-521";
export type SignatureScheme = SignatureFns["name"];

/** DHKEM parameters (RFC 9180 §7.1, Table 2). */
export interface KemParams {
  readonly id: number;
  readonly name: string;
  readonly group: DhGroup;
  /** Hash of the KEM's own HKDF (LabeledExtract/Expand inside the KEM). */
  readonly hash: HashName;
  readonly nsecret: number;
  readonly nenc: number;
  readonly npk: number;
  readonly nsk: number;
  /** Size of the DH shared secret (x-coordinate or u-coordinate, §4.1). */
  readonly ndh: number;
}

/** HKDF parameters (RFC 9180 §7.2). */
export interface KdfParams {
  readonly id: number;
  readonly hash: HashName;
  readonly nh: number;
}

export type AeadName = "AES-128-GCM" | "AES-256-GCM" | "ChaCha20Poly1305";

/** AEAD parameters (RFC 9180 §7.3). */
export interface AeadParams {
  readonly id: number;
  readonly name: AeadName;
  readonly nk: number;
  readonly nn: number;
  readonly nt: number;
}

export const KEMS = {
  P256: { id: 0x0010, name: "DHKEM(P-256, HKDF-SHA256)", group: "P-256", hash: "SHA-256", nsecret: 32, nenc: 65, npk: 65, nsk: 32, ndh: 32 },
  P384: { id: 0x0011, name: "DHKEM(P-384, HKDF-SHA384)", group: "P-384", hash: "SHA-384", nsecret: 48, nenc: 97, npk: 97, nsk: 48, ndh: 48 },
  P521: { id: 0x0012, name: "DHKEM(P-521, HKDF-SHA512)", group: "P-521", hash: "SHA-512", nsecret: 64, nenc: 133, npk: 133, nsk: 66, ndh: 66 },
  X25519: { id: 0x0020, name: "DHKEM(X25519, HKDF-SHA256)", group: "X25519", hash: "SHA-256", nsecret: 32, nenc: 32, npk: 32, nsk: 32, ndh: 32 },
  X448: { id: 0x0021, name: "DHKEM(X448, HKDF-SHA512)", group: "X448", hash: "SHA-512", nsecret: 64, nenc: 56, npk: 56, nsk: 56, ndh: 56 },
} as const satisfies Record<string, KemParams>;

export const KDFS = {
  SHA256: { id: 0x0001, hash: "SHA-256", nh: 32 },
  SHA384: { id: 0x0002, hash: "SHA-384", nh: 48 },
  SHA512: { id: 0x0003, hash: "SHA-512", nh: 64 },
} as const satisfies Record<string, KdfParams>;

export const AEADS = {
  AES128GCM: { id: 0x0001, name: "AES-128-GCM", nk: 16, nn: 12, nt: 16 },
  AES256GCM: { id: 0x0002, name: "AES-256-GCM", nk: 32, nn: 12, nt: 16 },
  CHACHA20POLY1305: { id: 0x0003, name: "ChaCha20Poly1305", nk: 32, nn: 12, nt: 16 },
} as const satisfies Record<string, AeadParams>;

/** One MLS cipher suite: its HPKE triple, hash (for MLS-level hashing/MAC) and signature scheme. */
export interface SuiteParams {
  readonly id: number;
  readonly name: string;
  readonly kem: KemParams;
  readonly kdf: KdfParams;
  readonly aead: AeadParams;
  readonly hash: HashName;
  readonly signature: SignatureScheme;
}

/** RFC 9420 §17.1. */
export const SUITES: readonly SuiteParams[] = [
  { id: 1, name: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", kem: KEMS.X25519, kdf: KDFS.SHA256, aead: AEADS.AES128GCM, hash: "SHA-256", signature: "Ed25519" },
  { id: 2, name: "MLS_128_DHKEMP256_AES128GCM_SHA256_P256", kem: KEMS.P256, kdf: KDFS.SHA256, aead: AEADS.AES128GCM, hash: "SHA-256", signature: "ECDSA-P256" },
  { id: 3, name: "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519", kem: KEMS.X25519, kdf: KDFS.SHA256, aead: AEADS.CHACHA20POLY1305, hash: "SHA-256", signature: "Ed25519" },
  { id: 4, name: "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448", kem: KEMS.X448, kdf: KDFS.SHA512, aead: AEADS.AES256GCM, hash: "SHA-512", signature: "Ed448" },
  { id: 5, name: "MLS_256_DHKEMP521_AES256GCM_SHA512_P521", kem: KEMS.P521, kdf: KDFS.SHA512, aead: AEADS.AES256GCM, hash: "SHA-512", signature: "ECDSA-P521" },
  { id: 6, name: "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448", kem: KEMS.X448, kdf: KDFS.SHA512, aead: AEADS.CHACHA20POLY1305, hash: "SHA-512", signature: "Ed448" },
  { id: 7, name: "MLS_256_DHKEMP384_AES256GCM_SHA384_P384", kem: KEMS.P384, kdf: KDFS.SHA384, aead: AEADS.AES256GCM, hash: "SHA-384", signature: "ECDSA-P384" },
];

export const SUITE_IDS: readonly number[] = SUITES.map((s) => s.id);

const BY_ID = new Map(SUITES.map((s) => [s.id, s]));

/** Throws MlsError("UnsupportedCipherSuite") for an unknown id. */
export function suiteParams(id: number): SuiteParams {
  return BY_ID.get(id) ?? fail("UnsupportedCipherSuite", `cipher suite ${id}`);
}

function lookup<T extends { readonly id: number }>(table: Record<string, T>, id: number, what: string): T {
  for (const v of Object.values(table)) if (v.id === id) return v;
  return fail("Unsupported", `${what} id 0x${id.toString(16).padStart(4, "0")}`);
}

export const kemParams = (id: number): KemParams => lookup(KEMS, id, "KEM");
export const kdfParams = (id: number): KdfParams => lookup(KDFS, id, "KDF");
export const aeadParams = (id: number): AeadParams => lookup(AEADS, id, "AEAD");

export const HASH_SIZE: Readonly<Record<HashName, number>> = { "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
