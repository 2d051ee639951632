/** The MLS key schedule (RFC 9420 §8), exporters (§8.5), external init (§8.3) and the Welcome key (§12.4.3.1). */
import { constantTimeEqual, utf8Bytes } from "../codec/bytes.js";
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import type { CipherSuite, KeyPair } from "../crypto/provider.js";
import { deriveSecret, expandWithLabel } from "../crypto/labels.js";
import { fail, isMlsError } from "../errors.js";

/** The secrets derived from one epoch_secret (§8, table "Epoch-Derived Secrets"). */
export interface EpochSecrets {
  readonly senderDataSecret: Uint8Array;
  readonly encryptionSecret: Uint8Array;
  readonly exporterSecret: Uint8Array;
  readonly externalSecret: Uint8Array;
  readonly confirmationKey: Uint8Array;
  readonly membershipKey: Uint8Array;
  readonly resumptionPsk: Uint8Array;
  readonly epochAuthenticator: Uint8Array;
  /** init_secret_[n], the input of the next epoch's key schedule. */
  readonly initSecret: Uint8Array;
}

/** Everything the key schedule yields for an epoch entered by a Commit. */
export interface KeyScheduleResult {
  readonly joinerSecret: Uint8Array;
  readonly welcomeSecret: Uint8Array;
  readonly epochSecrets: EpochSecrets;
}

const EMPTY = new Uint8Array(0);

/** §8: joiner_secret = ExpandWithLabel(Extract(salt=init_secret_[n-1], ikm=commit_secret), "joiner", GroupContext_[n], Nh). */
export function deriveJoinerSecret(
  cs: CipherSuite,
  initSecret: Uint8Array,
  commitSecret: Uint8Array,
  groupContext: Uint8Array,
): Uint8Array {
  const prk = cs.kdf.extract(initSecret, commitSecret);
  return expandWithLabel(cs, prk, "joiner", groupContext, cs.kdf.nh);
}

/** §8: the intermediate Extract(salt=joiner_secret, ikm=psk_secret) that feeds both "welcome" and "epoch". */
function memberSecret(cs: CipherSuite, joinerSecret: Uint8Array, pskSecret: Uint8Array): Uint8Array {
  return cs.kdf.extract(joinerSecret, pskSecret);
}

/** §8: welcome_secret = DeriveSecret(Extract(joiner_secret, psk_secret), "welcome"). */
export function deriveWelcomeSecret(cs: CipherSuite, joinerSecret: Uint8Array, pskSecret: Uint8Array): Uint8Array {
  return deriveSecret(cs, memberSecret(cs, joinerSecret, pskSecret), "welcome");
}

/** §8: epoch_secret = ExpandWithLabel(Extract(joiner_secret, psk_secret), "epoch", GroupContext_[n], Nh). */
export function deriveEpochSecret(
  cs: CipherSuite,
  joinerSecret: Uint8Array,
  pskSecret: Uint8Array,
  groupContext: Uint8Array,
): Uint8Array {
  return expandWithLabel(cs, memberSecret(cs, joinerSecret, pskSecret), "epoch", groupContext, cs.kdf.nh);
}

/** §8: the epoch-derived secrets, each DeriveSecret(epoch_secret, <label>). Also used at group creation (§11). */
export function deriveEpochSecrets(cs: CipherSuite, epochSecret: Uint8Array): EpochSecrets {
  return {
    senderDataSecret: deriveSecret(cs, epochSecret, "sender data"),
    encryptionSecret: deriveSecret(cs, epochSecret, "encryption"),
    exporterSecret: deriveSecret(cs, epochSecret, "exporter"),
    externalSecret: deriveSecret(cs, epochSecret, "external"),
    confirmationKey: deriveSecret(cs, epochSecret, "confirm"),
    membershipKey: deriveSecret(cs, epochSecret, "membership"),
    resumptionPsk: deriveSecret(cs, epochSecret, "resumption"),
    epochAuthenticator: deriveSecret(cs, epochSecret, "authentication"),
    initSecret: deriveSecret(cs, epochSecret, "init"),
  };
}

/**
 * §8: the full schedule for an epoch entered by a Commit: init_secret of the
 * previous epoch, commit_secret (zeros of Nh without a path), psk_secret
 * (zeros of Nh without PSKs), and the serialized GroupContext of the new epoch.
 */
export function keySchedule(
  cs: CipherSuite,
  initSecret: Uint8Array,
  commitSecret: Uint8Array,
  pskSecret: Uint8Array,
  groupContext: Uint8Array,
): KeyScheduleResult {
  const joinerSecret = deriveJoinerSecret(cs, initSecret, commitSecret, groupContext);
  return { joinerSecret, ...keyScheduleFromJoiner(cs, joinerSecret, pskSecret, groupContext) };
}

/** §12.4.3.1: a joiner's schedule from the joiner_secret of GroupSecrets. */
export function keyScheduleFromJoiner(
  cs: CipherSuite,
  joinerSecret: Uint8Array,
  pskSecret: Uint8Array,
  groupContext: Uint8Array,
): { readonly welcomeSecret: Uint8Array; readonly epochSecrets: EpochSecrets } {
  const member = memberSecret(cs, joinerSecret, pskSecret);
  const welcomeSecret = deriveSecret(cs, member, "welcome");
  const epochSecret = expandWithLabel(cs, member, "epoch", groupContext, cs.kdf.nh);
  return { welcomeSecret, epochSecrets: deriveEpochSecrets(cs, epochSecret) };
}

/** The all-zero vector of KDF.Nh bytes (commit_secret without a path, psk_secret without PSKs). */
export function zeroSecret(cs: CipherSuite): Uint8Array {
  return new Uint8Array(cs.kdf.nh);
}

/** §12.4.3.1: welcome_key and welcome_nonce, the AEAD key of the encrypted GroupInfo. */
export function welcomeKeyNonce(cs: CipherSuite, welcomeSecret: Uint8Array): { readonly key: Uint8Array; readonly nonce: Uint8Array } {
  return {
    key: expandWithLabel(cs, welcomeSecret, "key", EMPTY, cs.aead.nk),
    nonce: expandWithLabel(cs, welcomeSecret, "nonce", EMPTY, cs.aead.nn),
  };
}

/** §8: external_priv, external_pub = KEM.DeriveKeyPair(external_secret). */
export function externalKeyPair(cs: CipherSuite, externalSecret: Uint8Array): KeyPair {
  return cs.kem.deriveKeyPair(externalSecret);
}

/** §8.5: MLS-Exporter(Label, Context, Length) = ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length). */
export function mlsExporter(
  cs: CipherSuite,
  exporterSecret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  return expandWithLabel(cs, deriveSecret(cs, exporterSecret, label), "exported", cs.hash.digest(context), length);
}

/** §6.1: confirmation_tag = MAC(confirmation_key, GroupContext.confirmed_transcript_hash). */
export function confirmationTag(cs: CipherSuite, confirmationKey: Uint8Array, confirmedTranscriptHash: Uint8Array): Uint8Array {
  return cs.hash.mac(confirmationKey, confirmedTranscriptHash);
}

/** Throws MlsError("InvalidConfirmationTag") unless `tag` is the confirmation tag (constant-time compare). */
export function verifyConfirmationTag(
  cs: CipherSuite,
  confirmationKey: Uint8Array,
  confirmedTranscriptHash: Uint8Array,
  tag: Uint8Array,
): void {
  if (!constantTimeEqual(confirmationTag(cs, confirmationKey, confirmedTranscriptHash), tag)) {
    fail("InvalidConfirmationTag", "confirmation tag does not match");
  }
}

const EXTERNAL_INIT_CONTEXT = utf8Bytes("MLS 1.0 external init secret");

/** §8.3, joiner side: SetupBaseS(external_pub, "") then export("MLS 1.0 external init secret", Nh). */
export function externalInitSend(
  cs: CipherSuite,
  externalPub: Uint8Array,
): { readonly kemOutput: Uint8Array; readonly initSecret: Uint8Array } {
  const { enc, secret } = cs.hpke.sendExport(externalPub, EMPTY, EXTERNAL_INIT_CONTEXT, cs.kdf.nh);
  return { kemOutput: enc, initSecret: secret };
}

/** §8.3, member side: SetupBaseR(kem_output, external_priv, "") then the same export. Throws MlsError on a bad kem_output. */
export function externalInitReceive(cs: CipherSuite, externalPriv: Uint8Array, kemOutput: Uint8Array): Uint8Array {
  try {
    return cs.hpke.receiveExport(externalPriv, kemOutput, EMPTY, EXTERNAL_INIT_CONTEXT, cs.kdf.nh);
  } catch (e) {
    if (isMlsError(e)) throw e;
    return fail("InvalidExternalCommit", "ExternalInit kem_output is not a valid KEM output");
  }
}

/** Persistence of EpochSecrets: the nine secrets as opaque<V>, in declaration order. */
export function encodeEpochSecrets(w: Writer, s: EpochSecrets): void {
  w.opaque(s.senderDataSecret);
  w.opaque(s.encryptionSecret);
  w.opaque(s.exporterSecret);
  w.opaque(s.externalSecret);
  w.opaque(s.confirmationKey);
  w.opaque(s.membershipKey);
  w.opaque(s.resumptionPsk);
  w.opaque(s.epochAuthenticator);
  w.opaque(s.initSecret);
}

export function decodeEpochSecrets(r: Reader): EpochSecrets {
  // Copies: persisted state must not alias the caller's buffer.
  const o = () => r.opaque().slice();
  return {
    senderDataSecret: o(),
    encryptionSecret: o(),
    exporterSecret: o(),
    externalSecret: o(),
    confirmationKey: o(),
    membershipKey: o(),
    resumptionPsk: o(),
    epochAuthenticator: o(),
    initSecret: o(),
  };
}
