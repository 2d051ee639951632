/**
 * The raw primitives a provider supplies. Everything above them (input
 * validation, error mapping, HKDF, DHKEM, HPKE, key generation, the MLS
 * helpers) is written once in this folder and shared by all providers.
 *
 * Primitive functions may throw anything on bad input; the generic layer
 * validates lengths/formats before calling them and turns any exception
 * that still escapes into an MlsError.
 */
import { isMlsError, MlsError, type MlsErrorCode } from "../errors.js";
import type { ByteInput, HashName } from "./provider.js";
import type { AeadParams, DhGroup, SignatureScheme } from "./suites.js";

export interface HashPrimitive {
  digest(data: Uint8Array): Uint8Array;
  /** HMAC (RFC 2104) with this hash. */
  mac(key: Uint8Array, data: ByteInput): Uint8Array;
}

export interface AeadPrimitive {
  /** Returns ciphertext || tag. */
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws (anything) when authentication fails. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

/**
 * A Diffie-Hellman group. Callers pass keys of the right length, NIST
 * scalars in [1, n-1] and NIST points with the 0x04 prefix; the primitive
 * must still reject points that are not on the curve.
 */
export interface DhPrimitive {
  /** The raw shared secret: u-coordinate (X25519/X448) or x-coordinate (NIST), Ndh bytes. */
  dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** SerializePublicKey(pk(sk)): raw, or uncompressed SEC1 for NIST curves. */
  publicKey(privateKey: Uint8Array): Uint8Array;
}

/** A signature scheme over raw keys (formats as in provider.ts). Inputs are length-checked. */
export interface SignaturePrimitive {
  publicKey(privateKey: Uint8Array): Uint8Array;
  /** EdDSA (pure) or ECDSA with the scheme's hash and a DER-encoded signature. */
  sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

export interface Primitives {
  readonly name: string;
  randomBytes(length: number): Uint8Array;
  hash(name: HashName): HashPrimitive;
  aead(params: AeadParams): AeadPrimitive;
  dh(group: DhGroup): DhPrimitive;
  signature(scheme: SignatureScheme): SignaturePrimitive;
}

/** Runs `f`; any exception other than an MlsError becomes MlsError(code). */
export function guard<T>(code: MlsErrorCode, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isMlsError(e)) throw e;
    throw new MlsError(code, `${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
