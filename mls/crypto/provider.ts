/**
 * The crypto provider interface: plain objects of synchronous functions over
 * Uint8Array. Two providers implement it (portable `noble`, and `native` on
 * node:crypto); both must pass every test vector.
 *
 * Key encodings follow RFC 9420 §5.1.1 and the test-vector conventions:
 * HPKE keys as SerializePublicKey/SerializePrivateKey (RFC 9180 §7.1.1);
 * signature public keys raw (EdDSA) or uncompressed SEC1 points (ECDSA);
 * signature private keys as the raw seed (EdDSA) or big-endian scalar (ECDSA);
 * ECDSA signatures DER-encoded.
 */

export interface KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export type HashName = "SHA-256" | "SHA-384" | "SHA-512";

/**
 * Bytes as one array, or as parts read in order as if concatenated (they are
 * not: a large input, such as a Welcome's encrypted GroupInfo in an HPKE
 * info, is hashed where it lies instead of being copied).
 */
export type ByteInput = Uint8Array | readonly Uint8Array[];

export interface HashFns {
  readonly name: HashName;
  /** Output length in bytes. */
  readonly size: number;
  digest(data: Uint8Array): Uint8Array;
  mac(key: Uint8Array, data: ByteInput): Uint8Array;
}

/** HKDF over the suite's hash (RFC 5869). */
export interface KdfFns {
  /** Nh: output size of Extract. */
  readonly nh: number;
  extract(salt: Uint8Array, ikm: ByteInput): Uint8Array;
  expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

export interface AeadFns {
  readonly nk: number;
  readonly nn: number;
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws MlsError("DecryptionFailed") when authentication fails. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

/** DHKEM of RFC 9180 §4.1. */
export interface KemFns {
  readonly id: number;
  readonly nsecret: number;
  readonly nenc: number;
  readonly npk: number;
  readonly nsk: number;
  generateKeyPair(): KeyPair;
  /** DeriveKeyPair(ikm) (RFC 9180 §7.1.3). */
  deriveKeyPair(ikm: Uint8Array): KeyPair;
  /** Public key of a serialized private key. Throws MlsError("InvalidKey"). */
  publicKey(privateKey: Uint8Array): Uint8Array;
}

export interface HpkeSealed {
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** HPKE base mode, single-shot (RFC 9180 §6.1), plus the exporter (§5.3). */
export interface HpkeFns {
  seal(publicKey: Uint8Array, info: ByteInput, aad: Uint8Array, plaintext: Uint8Array): HpkeSealed;
  /** Throws MlsError("DecryptionFailed") or MlsError("InvalidKey"). */
  open(privateKey: Uint8Array, enc: Uint8Array, info: ByteInput, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
  /** SetupBaseS(pkR, info) then Export(exporterContext, length). */
  sendExport(
    publicKey: Uint8Array,
    info: ByteInput,
    exporterContext: Uint8Array,
    length: number,
  ): { enc: Uint8Array; secret: Uint8Array };
  /** SetupBaseR(enc, skR, info) then Export(exporterContext, length). */
  receiveExport(
    privateKey: Uint8Array,
    enc: Uint8Array,
    info: ByteInput,
    exporterContext: Uint8Array,
    length: number,
  ): Uint8Array;
}

export interface SignatureFns {
  readonly name: "Ed25519" | "Ed448" | "ECDSA-P256" | "ECDSA-P384" | "ECDSA-P521";
  generateKeyPair(): KeyPair;
  /** Public key of a private key. Throws MlsError("InvalidKey"). */
  publicKey(privateKey: Uint8Array): Uint8Array;
  sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** False for any invalid signature or malformed key; never throws. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** One of the cipher suites of RFC 9420 §17.1, bound to a provider. */
export interface CipherSuite {
  readonly id: number;
  readonly name: string;
  readonly provider: string;
  readonly hash: HashFns;
  readonly kdf: KdfFns;
  readonly aead: AeadFns;
  readonly kem: KemFns;
  readonly hpke: HpkeFns;
  readonly signature: SignatureFns;
  randomBytes(length: number): Uint8Array;
}

export interface CryptoProvider {
  readonly name: string;
  /** Suite ids this provider implements. */
  readonly suites: readonly number[];
  /** Throws MlsError("UnsupportedCipherSuite") for an unknown id. */
  suite(id: number): CipherSuite;
}
