/**
 * Raw key bytes -> node:crypto KeyObjects, cheaply.
 *
 * Measured on Node 20 / OpenSSL 3.0: JWK import is the fastest path for OKP
 * keys (X25519 public ~7 µs; DER SPKI ~120 µs and DER PKCS#8 ~600 µs go
 * through OpenSSL's slow decoder framework); NIST keys differ (see
 * ecPrivateKey, ecPublicKey). Importing an OKP private key costs one
 * base-point multiplication (OpenSSL derives the public key), and importing
 * an EC key runs a full key check, so private keys are cached (by array
 * identity, then by a digest of their content: the same key often comes back
 * in a new array, from a group state read again or a path secret derived
 * again) and public keys by content (a small LRU: peers' keys recur).
 */
import { createPrivateKey, createPublicKey, hash, type KeyObject } from "node:crypto";
import { concatBytes, constantTimeEqual, fromHex } from "../../codec/bytes.js";
import type { NistCurve } from "../curves.js";
import { b64u, buf, fromB64u } from "./bytes.js";

export type OkpCurve = "X25519" | "X448" | "Ed25519" | "Ed448";

/** OpenSSL curve names for createECDH. */
export const ECDH_CURVE: Readonly<Record<NistCurve, string>> = {
  "P-256": "prime256v1",
  "P-384": "secp384r1",
  "P-521": "secp521r1",
};

/** A bounded most-recently-used map (keys by content). */
class Lru<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string, make: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const value = make();
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
    return value;
  }

  clear(): void {
    this.map.clear();
  }
}

/** Private keys remembered by content, per curve: enough for a tree's path and a member's own keys. */
const PRIVATE_BY_CONTENT = 256;

/**
 * Values derived from a private key: keyed by the key's Uint8Array identity
 * (entries die with the array; a copy of the bytes detects in-place
 * mutation), then by a SHA-256 digest of its bytes in a small LRU, so that
 * the raw key is never a map key.
 */
class PrivateCache<V> {
  private readonly map = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly value: V }>();
  private readonly byContent = new Lru<V>(PRIVATE_BY_CONTENT);

  get(sk: Uint8Array, make: (sk: Uint8Array) => V): V {
    const hit = this.map.get(sk);
    if (hit !== undefined && constantTimeEqual(hit.bytes, sk)) return hit.value;
    const value = this.byContent.get(hash("sha256", sk, "base64"), () => make(sk));
    this.map.set(sk, { bytes: sk.slice(), value });
    return value;
  }

  forgetContent(): void {
    this.byContent.clear();
  }
}

// --- OKP keys (X25519, X448, Ed25519, Ed448) --------------------------------

interface OkpPrivate {
  readonly key: KeyObject;
  /** Raw public key, exported on first use. */
  pub?: Uint8Array;
}

const okpCaches: Record<OkpCurve, PrivateCache<OkpPrivate>> = {
  X25519: new PrivateCache(),
  X448: new PrivateCache(),
  Ed25519: new PrivateCache(),
  Ed448: new PrivateCache(),
};

function okpPrivate(crv: OkpCurve, sk: Uint8Array): OkpPrivate {
  // Node requires "x" to be a string but ignores it for private keys: OpenSSL derives the public key from "d".
  return okpCaches[crv].get(sk, () => ({ key: createPrivateKey({ key: { kty: "OKP", crv, d: b64u(sk), x: "" }, format: "jwk" }) }));
}

export function okpPrivateKey(crv: OkpCurve, sk: Uint8Array): KeyObject {
  return okpPrivate(crv, sk).key;
}

/** The raw public key of a raw private key. */
export function okpPublicOf(crv: OkpCurve, sk: Uint8Array): Uint8Array {
  const p = okpPrivate(crv, sk);
  return (p.pub ??= fromB64u(p.key.export({ format: "jwk" }).x!));
}

const okpPublicCache = new Lru<KeyObject>(512);

/**
 * Public KeyObject of a raw OKP key. Signature keys recur (a member's leaf
 * key verifies all its messages) and are cached; X25519/X448 peers are
 * mostly ephemeral HPKE keys and would only churn the cache.
 */
export function okpPublicKey(crv: OkpCurve, pk: Uint8Array): KeyObject {
  const x = b64u(pk);
  const make = (): KeyObject => createPublicKey({ key: { kty: "OKP", crv, x }, format: "jwk" });
  return crv === "Ed25519" || crv === "Ed448" ? okpPublicCache.get(crv + x, make) : make();
}

// --- NIST curves -------------------------------------------------------------

/**
 * Uncompressed SEC1 point of the scalar `sk`. Computed through the private
 * KeyObject (one scalar multiplication, at import), which is then cached for
 * the DH or signature that follows with the same key.
 */
export function ecPublicOf(curve: NistCurve, sk: Uint8Array): Uint8Array {
  const jwk = ecPrivateKey(curve, sk).export({ format: "jwk" });
  const size = FIELD_SIZE[curve];
  return concatBytes(new Uint8Array([4]), leftPad(fromB64u(jwk.x!), size), leftPad(fromB64u(jwk.y!), size));
}

const FIELD_SIZE: Readonly<Record<NistCurve, number>> = { "P-256": 32, "P-384": 48, "P-521": 66 };

function leftPad(b: Uint8Array, size: number): Uint8Array {
  if (b.length === size) return b;
  const out = new Uint8Array(size);
  out.set(b, size - b.length);
  return out;
}

function ecJwk(curve: NistCurve, pub: Uint8Array): { kty: "EC"; crv: NistCurve; x: string; y: string } {
  const n = (pub.length - 1) / 2;
  return { kty: "EC", crv: curve, x: b64u(pub.subarray(1, 1 + n)), y: b64u(pub.subarray(1 + n)) };
}

const ecPrivateCaches: Record<NistCurve, PrivateCache<KeyObject>> = {
  "P-256": new PrivateCache(),
  "P-384": new PrivateCache(),
  "P-521": new PrivateCache(),
};

/**
 * Forgets the private keys remembered by content (not those held by array
 * identity). For benchmarks: a repeated run of one operation would otherwise
 * find the keys its previous run derived, which fresh input never does.
 */
export function forgetPrivateKeysByContent(): void {
  for (const c of [...Object.values(okpCaches), ...Object.values(ecPrivateCaches)]) c.forgetContent();
}

/** DER of the namedCurve OIDs (RFC 5480 §2.1.1.1). */
const CURVE_OID: Readonly<Record<NistCurve, Uint8Array>> = {
  "P-256": fromHex("06082a8648ce3d030107"),
  "P-384": fromHex("06052b81040022"),
  "P-521": fromHex("06052b81040023"),
};

/**
 * ECDSA private KeyObject of the fixed-size scalar `sk`, imported as a SEC1
 * ECPrivateKey (RFC 5915) without the optional public key: OpenSSL derives
 * it. Measured cheaper than JWK (which needs the point computed first and
 * then runs a full key check) for P-384/P-521, on par for P-256.
 */
export function ecPrivateKey(curve: NistCurve, sk: Uint8Array): KeyObject {
  return ecPrivateCaches[curve].get(sk, () => {
    const oid = CURVE_OID[curve];
    // SEQUENCE { INTEGER 1, OCTET STRING sk, [0] { OID } }: at most 80 bytes, so short-form lengths.
    const body = concatBytes(
      new Uint8Array([0x02, 0x01, 0x01, 0x04, sk.length]),
      sk,
      new Uint8Array([0xa0, oid.length]),
      oid,
    );
    const der = concatBytes(new Uint8Array([0x30, body.length]), body);
    return createPrivateKey({ key: buf(der), format: "der", type: "sec1" });
  });
}

const ecPublicCache = new Lru<KeyObject>(512);

/** DER tag-length-value with a definite length below 256 (all that EC keys need). */
function tlv(tag: number, body: Uint8Array): Uint8Array {
  const head = body.length < 0x80 ? [tag, body.length] : [tag, 0x81, body.length];
  return concatBytes(new Uint8Array(head), body);
}

/** id-ecPublicKey (RFC 5480 §2.1.1). */
const EC_PUBLIC_KEY_OID = fromHex("06072a8648ce3d0201");

/**
 * ECDSA/ECDH public KeyObject of an uncompressed SEC1 point; throws when it
 * is not on the curve (the partial validation RFC 9180 §7.1.4 asks for:
 * these curves have cofactor 1). P-384 and P-521 go through a DER
 * SubjectPublicKeyInfo (RFC 5480): measured ~0.2-0.3 ms there against ~1 ms
 * for JWK, whose import runs a full key check (a scalar multiplication by
 * the order). For P-256 JWK is the faster of the two (~0.14 ms).
 */
export function ecPublicKey(curve: NistCurve, pub: Uint8Array): KeyObject {
  return ecPublicCache.get(curve + b64u(pub), () => {
    if (curve === "P-256") return createPublicKey({ key: ecJwk(curve, pub), format: "jwk" });
    const algorithm = tlv(0x30, concatBytes(EC_PUBLIC_KEY_OID, CURVE_OID[curve]));
    const spki = tlv(0x30, concatBytes(algorithm, tlv(0x03, concatBytes(new Uint8Array([0]), pub))));
    return createPublicKey({ key: buf(spki), format: "der", type: "spki" });
  });
}
