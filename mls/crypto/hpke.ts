/**
 * HPKE base mode (RFC 9180 §5.1 key schedule, §5.2 encryption context,
 * §5.3 exporter, §6 single-shot APIs), written once over the primitives a
 * provider supplies.
 */
import { concatBytes, utf8Bytes } from "../codec/bytes.js";
import { fail } from "../errors.js";
import { makeAead } from "./aead.js";
import { DhKem, Labeled, u16 } from "./dhkem.js";
import { makeHash } from "./hash.js";
import { makeKdf } from "./hkdf.js";
import type { AeadFns, ByteInput, HpkeFns, HpkeSealed, KdfFns, KeyPair } from "./provider.js";
import type { Primitives } from "./primitives.js";
import type { AeadParams, KdfParams, KemParams } from "./suites.js";

const EMPTY = new Uint8Array(0);
const MODE_BASE = 0x00;
const L_PSK_ID_HASH = utf8Bytes("psk_id_hash");
const L_INFO_HASH = utf8Bytes("info_hash");
const L_SECRET = utf8Bytes("secret");
const L_KEY = utf8Bytes("key");
const L_BASE_NONCE = utf8Bytes("base_nonce");
const L_EXP = utf8Bytes("exp");
const L_SEC = utf8Bytes("sec");

/**
 * An encryption context (§5.2). The key, base nonce and exporter secret are
 * derived on first use, so single-shot seal/open skip the exporter secret
 * and export-only callers skip the AEAD key.
 */
export class HpkeContext {
  private seq = 0;
  private keyCache: Uint8Array | undefined;
  private nonceCache: Uint8Array | undefined;
  private exporterCache: Uint8Array | undefined;

  constructor(
    private readonly suite: Hpke,
    private readonly secret: Uint8Array,
    private readonly keyScheduleContext: Uint8Array,
  ) {}

  get key(): Uint8Array {
    return (this.keyCache ??= this.suite.labeled.expand(this.secret, L_KEY, this.keyScheduleContext, this.suite.aead.nk));
  }

  get baseNonce(): Uint8Array {
    return (this.nonceCache ??= this.suite.labeled.expand(
      this.secret,
      L_BASE_NONCE,
      this.keyScheduleContext,
      this.suite.aead.nn,
    ));
  }

  get exporterSecret(): Uint8Array {
    return (this.exporterCache ??= this.suite.labeled.expand(
      this.secret,
      L_EXP,
      this.keyScheduleContext,
      this.suite.labeled.kdf.nh,
    ));
  }

  /** ComputeNonce(seq): base_nonce XOR I2OSP(seq, Nn). */
  private nonce(): Uint8Array {
    const n = this.baseNonce.slice();
    let s = this.seq;
    for (let i = n.length - 1; s > 0 && i >= 0; i--) {
      n[i] ^= s % 256;
      s = Math.floor(s / 256);
    }
    return n;
  }

  private increment(): void {
    // Nn is 12 bytes for every AEAD here: the 2^96-1 limit cannot be reached with a JS number.
    if (this.seq >= Number.MAX_SAFE_INTEGER) fail("InvalidState", "HPKE sequence number overflow");
    this.seq++;
  }

  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const ct = this.suite.aead.seal(this.key, this.nonce(), aad, plaintext);
    this.increment();
    return ct;
  }

  open(aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const pt = this.suite.aead.open(this.key, this.nonce(), aad, ciphertext);
    this.increment();
    return pt;
  }

  /** Context.Export (§5.3). */
  export(exporterContext: Uint8Array, length: number): Uint8Array {
    const max = 255 * this.suite.labeled.kdf.nh;
    if (!Number.isInteger(length) || length < 0 || length > max) {
      fail("InvalidValue", `HPKE export length ${length} (max ${max})`);
    }
    return this.suite.labeled.expand(this.exporterSecret, L_SEC, exporterContext, length);
  }
}

/**
 * Infos that never change once made (the library's shared EncryptContexts,
 * labels.ts): their info_hash is kept by identity, since a Welcome seals to
 * every new member, and an UpdatePath to every resolution node, with one
 * info. Any other info is hashed on every call: a caller may well reuse an
 * array with new contents.
 */
const unchangingInfos = new WeakSet<object>();

/** Marks `info` (and its parts) as never to change, so that HPKE keeps its info_hash by identity. */
export function keepInfoHash<T extends ByteInput>(info: T): T {
  unchangingInfos.add(info);
  return info;
}

/** HPKE in base mode for one (KEM, KDF, AEAD) triple. */
export class Hpke implements HpkeFns {
  /** LabeledExtract/Expand with suite_id = "HPKE" || kem_id || kdf_id || aead_id (§5.1). */
  readonly labeled: Labeled;
  private pskIdHashCache: Uint8Array | undefined;
  /** info_hash of the last info marked keepInfoHash: many seals share one info (see labels.ts). */
  private lastInfo: ByteInput | undefined;
  private lastInfoHash: Uint8Array | undefined;

  constructor(
    readonly kem: DhKem,
    kdfId: number,
    kdf: KdfFns,
    readonly aead: AeadFns,
    aeadId: number,
  ) {
    this.labeled = new Labeled(kdf, concatBytes(utf8Bytes("HPKE"), u16(kem.id), u16(kdfId), u16(aeadId)));
  }

  /** KeySchedule<ROLE>(mode_base, shared_secret, info, "", "") (§5.1). */
  private keySchedule(sharedSecret: Uint8Array, info: ByteInput): HpkeContext {
    // psk_id is always empty in base mode, so its hash is a per-suite constant.
    const pskIdHash = (this.pskIdHashCache ??= this.labeled.extract(EMPTY, L_PSK_ID_HASH, EMPTY));
    let infoHash = this.lastInfo === info ? this.lastInfoHash : undefined;
    if (infoHash === undefined) {
      infoHash = this.labeled.extract(EMPTY, L_INFO_HASH, info);
      if (unchangingInfos.has(info)) {
        this.lastInfo = info;
        this.lastInfoHash = infoHash;
      }
    }
    const ksc = concatBytes(new Uint8Array([MODE_BASE]), pskIdHash, infoHash);
    const secret = this.labeled.extract(sharedSecret, L_SECRET, EMPTY);
    return new HpkeContext(this, secret, ksc);
  }

  /** SetupBaseS (§5.1.1). */
  setupS(pkR: Uint8Array, info: ByteInput): { enc: Uint8Array; ctx: HpkeContext } {
    const { sharedSecret, enc } = this.kem.encap(pkR);
    return { enc, ctx: this.keySchedule(sharedSecret, info) };
  }

  /** SetupBaseR (§5.1.1). */
  setupR(enc: Uint8Array, skR: Uint8Array, info: ByteInput): HpkeContext {
    return this.keySchedule(this.kem.decap(enc, skR), info);
  }

  seal(publicKey: Uint8Array, info: ByteInput, aad: Uint8Array, plaintext: Uint8Array): HpkeSealed {
    const { enc, ctx } = this.setupS(publicKey, info);
    return { enc, ciphertext: ctx.seal(aad, plaintext) };
  }

  open(privateKey: Uint8Array, enc: Uint8Array, info: ByteInput, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    return this.setupR(enc, privateKey, info).open(aad, ciphertext);
  }

  sendExport(
    publicKey: Uint8Array,
    info: ByteInput,
    exporterContext: Uint8Array,
    length: number,
  ): { enc: Uint8Array; secret: Uint8Array } {
    const { enc, ctx } = this.setupS(publicKey, info);
    return { enc, secret: ctx.export(exporterContext, length) };
  }

  receiveExport(
    privateKey: Uint8Array,
    enc: Uint8Array,
    info: ByteInput,
    exporterContext: Uint8Array,
    length: number,
  ): Uint8Array {
    return this.setupR(enc, privateKey, info).export(exporterContext, length);
  }
}

/** A DHKEM for `kem` on a provider's primitives (its KDF uses the KEM's own hash). */
export function createKem(prims: Primitives, kem: KemParams): DhKem {
  return kemWith(prims, kem, undefined);
}

function kemWith(prims: Primitives, kem: KemParams, ephemeral: (() => KeyPair) | undefined): DhKem {
  const kdf = makeKdf(makeHash(kem.hash, prims.hash(kem.hash)));
  return new DhKem(kem, prims.dh(kem.group), kdf, (n) => prims.randomBytes(n), ephemeral);
}

/** HPKE for any (KEM, KDF, AEAD) triple on a provider's primitives. */
export function createHpke(prims: Primitives, kem: KemParams, kdf: KdfParams, aead: AeadParams): Hpke {
  return createHpkeInternal(prims, kem, kdf, aead);
}

/**
 * Test hook for known-answer tests (not re-exported from index.ts): Encap
 * takes its ephemeral key pair from `ephemeral` instead of generating one.
 */
export function createHpkeInternal(
  prims: Primitives,
  kem: KemParams,
  kdf: KdfParams,
  aead: AeadParams,
  ephemeral?: () => KeyPair,
): Hpke {
  return new Hpke(
    kemWith(prims, kem, ephemeral),
    kdf.id,
    makeKdf(makeHash(kdf.hash, prims.hash(kdf.hash))),
    makeAead(aead, prims.aead(aead)),
    aead.id,
  );
}
