/**
 * DHKEM (RFC 9180 §4.1) over a provider's DH primitive, with DeriveKeyPair
 * (§7.1.3) and the input/output validation of §7.1.4.
 */
import { concatBytes, constantTimeEqual, utf8Bytes } from "../codec/bytes.js";
import { fail } from "../errors.js";
import { isNist, isUncompressedPoint, isValidScalar, NIST, normalizeScalar, randomScalar } from "./curves.js";
import type { ByteInput, KdfFns, KemFns, KeyPair } from "./provider.js";
import { guard, type DhPrimitive } from "./primitives.js";
import type { KemParams } from "./suites.js";

const HPKE_V1 = utf8Bytes("HPKE-v1");

/** I2OSP(n, 2). */
export function u16(n: number): Uint8Array {
  return new Uint8Array([(n >>> 8) & 0xff, n & 0xff]);
}

/** LabeledExtract / LabeledExpand of RFC 9180 §4 for one suite_id. */
export class Labeled {
  private readonly prefix: Uint8Array;

  constructor(
    readonly kdf: KdfFns,
    suiteId: Uint8Array,
  ) {
    this.prefix = concatBytes(HPKE_V1, suiteId);
  }

  extract(salt: Uint8Array, label: Uint8Array, ikm: ByteInput): Uint8Array {
    // Small inputs (all but a Welcome's HPKE info) are cheaper concatenated than fed in parts.
    const parts = ikm instanceof Uint8Array ? [ikm] : ikm;
    let size = 0;
    for (const p of parts) size += p.length;
    return this.kdf.extract(salt, size < 4096 ? concatBytes(this.prefix, label, ...parts) : [this.prefix, label, ...parts]);
  }

  expand(prk: Uint8Array, label: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    return this.kdf.expand(prk, concatBytes(u16(length), this.prefix, label, info), length);
  }
}

const EMPTY = new Uint8Array(0);
const L_EAE_PRK = utf8Bytes("eae_prk");
const L_SHARED_SECRET = utf8Bytes("shared_secret");
const L_DKP_PRK = utf8Bytes("dkp_prk");
const L_SK = utf8Bytes("sk");
const L_CANDIDATE = utf8Bytes("candidate");

interface CachedPublic {
  readonly sk: Uint8Array;
  readonly pk: Uint8Array;
}

/** A DHKEM with Encap/Decap (the KemFns of provider.ts plus what HPKE needs). */
export class DhKem implements KemFns {
  readonly id: number;
  readonly nsecret: number;
  readonly nenc: number;
  readonly npk: number;
  readonly nsk: number;
  private readonly labeled: Labeled;
  /**
   * pk(sk) by private-key array identity, so Decap does not recompute the
   * public key of a key pair this KEM produced. The stored copy detects
   * callers that mutate the array in place.
   */
  private readonly publicCache = new WeakMap<Uint8Array, CachedPublic>();

  constructor(
    readonly params: KemParams,
    private readonly prim: DhPrimitive,
    kdf: KdfFns,
    private readonly randomBytes: (n: number) => Uint8Array,
    /** Test hook for known-answer tests: the ephemeral key pair of the next Encap. */
    private readonly ephemeral?: () => KeyPair,
  ) {
    this.id = params.id;
    this.nsecret = params.nsecret;
    this.nenc = params.nenc;
    this.npk = params.npk;
    this.nsk = params.nsk;
    // §4.1: suite_id = concat("KEM", I2OSP(kem_id, 2)).
    this.labeled = new Labeled(kdf, concatBytes(utf8Bytes("KEM"), u16(params.id)));
  }

  /** DeserializePrivateKey (§7.1.2): the key as the primitive expects it, or MlsError("InvalidKey"). */
  private privateKey(sk: Uint8Array): Uint8Array {
    const { group, nsk } = this.params;
    if (isNist(group)) {
      // NIST private keys must be in [1, n-1]; shorter encodings are left-padded (see normalizeScalar).
      return normalizeScalar(group, sk) ?? fail("InvalidKey", `${group} private key invalid or out of range`);
    }
    if (sk.length !== nsk) fail("InvalidKey", `${group} private key of ${sk.length} bytes, expected ${nsk}`);
    return sk;
  }

  private checkPublic(pk: Uint8Array): void {
    const { group, npk } = this.params;
    if (pk.length !== npk) fail("InvalidKey", `${group} public key of ${pk.length} bytes, expected ${npk}`);
    // §7.1.1: NIST public keys use the uncompressed encoding only.
    if (isNist(group) && !isUncompressedPoint(group, pk)) fail("InvalidKey", `${group} public key not uncompressed`);
  }

  private keyPair(sk: Uint8Array): KeyPair {
    return { privateKey: sk, publicKey: this.publicKey(sk) };
  }

  publicKey(sk: Uint8Array): Uint8Array {
    const hit = this.publicCache.get(sk);
    if (hit !== undefined && constantTimeEqual(hit.sk, sk)) return hit.pk;
    const pk = guard("InvalidKey", `${this.params.group} public key`, () => this.prim.publicKey(this.privateKey(sk)));
    this.publicCache.set(sk, { sk: sk.slice(), pk });
    return pk;
  }

  generateKeyPair(): KeyPair {
    const { group, nsk } = this.params;
    return this.keyPair(isNist(group) ? randomScalar(group, this.randomBytes) : this.randomBytes(nsk));
  }

  /** §7.1.3. */
  deriveKeyPair(ikm: Uint8Array): KeyPair {
    const { group, nsk } = this.params;
    const dkpPrk = this.labeled.extract(EMPTY, L_DKP_PRK, ikm);
    if (!isNist(group)) return this.keyPair(this.labeled.expand(dkpPrk, L_SK, EMPTY, nsk));
    // Rejection sampling over field elements, with the curve's bitmask.
    const { bitmask } = NIST[group];
    for (let counter = 0; counter <= 255; counter++) {
      const bytes = this.labeled.expand(dkpPrk, L_CANDIDATE, new Uint8Array([counter]), nsk);
      bytes[0] &= bitmask;
      if (isValidScalar(group, bytes)) return this.keyPair(bytes);
    }
    return fail("InvalidKey", "DeriveKeyPairError: no valid candidate");
  }

  /** DH(sk, pk) with §7.1.4 validation. Throws MlsError("InvalidKey"). */
  dh(sk: Uint8Array, pk: Uint8Array): Uint8Array {
    const scalar = this.privateKey(sk);
    this.checkPublic(pk);
    const { group, ndh } = this.params;
    const z = guard("InvalidKey", `${group} DH`, () => this.prim.dh(scalar, pk));
    if (z.length !== ndh) fail("InvalidKey", `${group} DH output of ${z.length} bytes`);
    // RFC 7748 §6: reject the all-zero shared secret (small-order public keys).
    if (!isNist(group) && isZero(z)) fail("InvalidKey", `${group} DH output is all-zero`);
    return z;
  }

  private extractAndExpand(dh: Uint8Array, kemContext: Uint8Array): Uint8Array {
    const eaePrk = this.labeled.extract(EMPTY, L_EAE_PRK, dh);
    return this.labeled.expand(eaePrk, L_SHARED_SECRET, kemContext, this.nsecret);
  }

  /** Encap(pkR). */
  encap(pkR: Uint8Array): { sharedSecret: Uint8Array; enc: Uint8Array } {
    this.checkPublic(pkR);
    const e = this.ephemeral?.() ?? this.generateKeyPair();
    const dh = this.dh(e.privateKey, pkR);
    const enc = e.publicKey;
    return { sharedSecret: this.extractAndExpand(dh, concatBytes(enc, pkR)), enc };
  }

  /** Decap(enc, skR). */
  decap(enc: Uint8Array, skR: Uint8Array): Uint8Array {
    const dh = this.dh(skR, enc);
    return this.extractAndExpand(dh, concatBytes(enc, this.publicKey(skR)));
  }
}

function isZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}
