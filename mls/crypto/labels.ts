/** The labeled crypto helpers of RFC 9420 §5 and §8, over any CipherSuite. */
import { utf8Bytes } from "../codec/bytes.js";
import { varintSize, writeVarint } from "../codec/varint.js";
import { withWriter, Writer, type Encoder } from "../codec/writer.js";
import { fail } from "../errors.js";
import type { ByteInput, CipherSuite } from "./provider.js";
import { keepInfoHash } from "./hpke.js";

const EMPTY = new Uint8Array(0);
const MLS_PREFIX = "MLS 1.0 ";

/** opaque label<V>; opaque value<V>; — the shape of RefHashInput, SignContent and EncryptContext. */
function twoOpaques(a: Uint8Array, b: Uint8Array): Uint8Array {
  return new Writer(a.length + b.length + 8).opaque(a).opaque(b).finish();
}

/**
 * A label: a string (UTF-8 encoded) or raw bytes. Labels are opaque<V> on the
 * wire, and some (e.g. MLS-Exporter labels, §8.5) are arbitrary byte strings.
 */
export type Label = string | Uint8Array;

const PREFIX_BYTES = utf8Bytes(MLS_PREFIX);

/** "MLS 1.0 " + Label. */
function mlsLabel(label: Label): Uint8Array {
  if (typeof label === "string") return utf8Bytes(MLS_PREFIX + label);
  const out = new Uint8Array(PREFIX_BYTES.length + label.length);
  out.set(PREFIX_BYTES, 0);
  out.set(label, PREFIX_BYTES.length);
  return out;
}

/**
 * opaque label<V> of "MLS 1.0 " + Label. The RFC's own labels recur in every
 * epoch (a commit runs ~20 ExpandWithLabel), so string labels are encoded
 * once; the cache stops growing at LABEL_CACHE entries (exporter labels are
 * the caller's).
 */
const LABEL_CACHE = 64;
const encodedLabels = new Map<string, Uint8Array>();

function labelOpaque(label: Label): Uint8Array {
  if (typeof label === "string") {
    const hit = encodedLabels.get(label);
    if (hit !== undefined) return hit;
  }
  const l = mlsLabel(label);
  const out = new Uint8Array(varintSize(l.length) + l.length);
  out.set(l, writeVarint(out, 0, l.length));
  if (typeof label === "string" && encodedLabels.size < LABEL_CACHE) encodedLabels.set(label, out);
  return out;
}

const labelBytes = (label: Label): Uint8Array => (typeof label === "string" ? utf8Bytes(label) : label);

/** RefHash(label, value) = Hash(RefHashInput) (§5.2); `label` is used as given (no "MLS 1.0 " prefix added). */
export function refHash(cs: CipherSuite, label: Label, value: Uint8Array): Uint8Array {
  return cs.hash.digest(twoOpaques(labelBytes(label), value));
}

/** ExpandWithLabel(Secret, Label, Context, Length) = KDF.Expand(Secret, KDFLabel, Length) (§8). */
export function expandWithLabel(
  cs: CipherSuite,
  secret: Uint8Array,
  label: Label,
  context: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 0xffff) fail("InvalidValue", `KDFLabel length ${length}`);
  // struct { uint16 length; opaque label<V>; opaque context<V>; } KDFLabel;
  const l = labelOpaque(label);
  const kdfLabel = new Uint8Array(2 + l.length + varintSize(context.length) + context.length);
  kdfLabel[0] = length >>> 8;
  kdfLabel[1] = length & 0xff;
  kdfLabel.set(l, 2);
  kdfLabel.set(context, writeVarint(kdfLabel, 2 + l.length, context.length));
  return cs.kdf.expand(secret, kdfLabel, length);
}

/** DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh) (§8). */
export function deriveSecret(cs: CipherSuite, secret: Uint8Array, label: Label): Uint8Array {
  return expandWithLabel(cs, secret, label, EMPTY, cs.kdf.nh);
}

/** DeriveTreeSecret(Secret, Label, Generation, Length), Generation a big-endian uint32 (§9.1). */
export function deriveTreeSecret(
  cs: CipherSuite,
  secret: Uint8Array,
  label: Label,
  generation: number,
  length: number,
): Uint8Array {
  if (!Number.isInteger(generation) || generation < 0 || generation > 0xffffffff) {
    fail("InvalidValue", `generation ${generation} is not a uint32`);
  }
  return expandWithLabel(cs, secret, label, new Writer(4).u32(generation).finish(), length);
}

/** SignWithLabel(SignatureKey, Label, Content) over SignContent (§5.1.2). */
export function signWithLabel(cs: CipherSuite, privateKey: Uint8Array, label: Label, content: Uint8Array): Uint8Array {
  return cs.signature.sign(privateKey, twoOpaques(mlsLabel(label), content));
}

/**
 * SignWithLabel of content that `body` writes into `w` (after what `w` holds):
 * SignContent is built in place, so a large content (a GroupInfo with its
 * tree) is not copied to be signed. The content is then the last
 * `contentLength` bytes of `w`.
 */
export function signWithLabelIn(
  cs: CipherSuite,
  privateKey: Uint8Array,
  label: Label,
  w: Writer,
  body: () => void,
): { signature: Uint8Array; contentLength: number } {
  const start = w.length;
  let contentLength = 0;
  w.opaque(mlsLabel(label)).lengthPrefixed(() => {
    const from = w.length;
    body();
    contentLength = w.length - from;
  });
  return { signature: cs.signature.sign(privateKey, w.viewSince(start)), contentLength };
}

/** VerifyWithLabel of content that `enc` encodes, built in place as for signWithLabelIn (`sizeHint`: its expected size). */
export function verifyEncodedWithLabel<T>(
  cs: CipherSuite,
  publicKey: Uint8Array,
  label: Label,
  enc: Encoder<T>,
  value: T,
  signature: Uint8Array,
  sizeHint = 1024,
): boolean {
  return withWriter(sizeHint + 64, (w) => {
    w.opaque(mlsLabel(label)).lengthPrefixed(() => enc(w, value));
    return cs.signature.verify(publicKey, w.viewSince(0), signature);
  });
}

/** VerifyWithLabel (§5.1.2). False for any invalid signature or key; never throws. */
export function verifyWithLabel(
  cs: CipherSuite,
  publicKey: Uint8Array,
  label: Label,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  return cs.signature.verify(publicKey, twoOpaques(mlsLabel(label), content), signature);
}

export interface LabeledCiphertext {
  readonly kemOutput: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** EncryptContext = struct { opaque label<V>; opaque context<V>; } with label "MLS 1.0 " + Label (§5.1.3). */
function encryptContext(label: Label, context: Uint8Array): ByteInput {
  // A large context (the encrypted GroupInfo) is passed on in place, after the encoded label and its length.
  return context.length < 4096
    ? twoOpaques(mlsLabel(label), context)
    : [new Writer(16 + PREFIX_BYTES.length).opaque(mlsLabel(label)).varint(context.length).finish(), context];
}

/**
 * EncryptContexts of shared contexts, by context identity: a Welcome encrypts
 * to every new member with the whole encrypted GroupInfo as context, and an
 * UpdatePath to every resolution node with one GroupContext. Encoding it once
 * (and the HPKE info hash computed once from it) keeps those O(n), not
 * O(n * size).
 */
const sharedContexts = new WeakMap<Uint8Array, { readonly label: Label; readonly info: ByteInput }>();

/** EncryptWithLabel = SealBase(PublicKey, EncryptContext, "", Plaintext) (§5.1.3). */
export function encryptWithLabel(
  cs: CipherSuite,
  publicKey: Uint8Array,
  label: Label,
  context: Uint8Array,
  plaintext: Uint8Array,
): LabeledCiphertext {
  return sealLabeled(cs, publicKey, encryptContext(label, context), plaintext);
}

/**
 * EncryptWithLabel for a context that many encryptions share and whose bytes
 * never change afterwards (the library's own encoded GroupContext of a
 * commit, the encrypted GroupInfo of a Welcome): its EncryptContext and HPKE
 * info hash are computed once and kept by the context array's identity.
 * With a context that is later changed in place, use encryptWithLabel.
 */
export function encryptWithSharedContext(
  cs: CipherSuite,
  publicKey: Uint8Array,
  label: Label,
  context: Uint8Array,
  plaintext: Uint8Array,
): LabeledCiphertext {
  let shared = sharedContexts.get(context);
  if (shared === undefined || shared.label !== label) {
    shared = { label, info: keepInfoHash(encryptContext(label, context)) };
    sharedContexts.set(context, shared);
  }
  return sealLabeled(cs, publicKey, shared.info, plaintext);
}

/** SealBase(PublicKey, info, "", Plaintext) as an MLS HPKECiphertext. */
function sealLabeled(cs: CipherSuite, publicKey: Uint8Array, info: ByteInput, plaintext: Uint8Array): LabeledCiphertext {
  const { enc, ciphertext } = cs.hpke.seal(publicKey, info, EMPTY, plaintext);
  return { kemOutput: enc, ciphertext };
}

/** DecryptWithLabel = OpenBase(KEMOutput, PrivateKey, EncryptContext, "", Ciphertext) (§5.1.3). */
export function decryptWithLabel(
  cs: CipherSuite,
  privateKey: Uint8Array,
  label: Label,
  context: Uint8Array,
  kemOutput: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  return cs.hpke.open(privateKey, kemOutput, encryptContext(label, context), EMPTY, ciphertext);
}
