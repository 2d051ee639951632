/** Welcome encryption and decryption (RFC 9420 §12.4.3.1) and GroupInfo signatures (§12.4.3). */
import { bytesEqual } from "../codec/bytes.js";
import { decode } from "../codec/reader.js";
import { encode, withWriter } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { decryptWithLabel, encryptWithSharedContext, refHash, signWithLabelIn, verifyEncodedWithLabel } from "../crypto/labels.js";
import { fail, isMlsError, type MlsErrorCode } from "../errors.js";
import { encodeGroupContext } from "../messages/group-context.js";
import { decodeGroupInfo, encodeGroupInfoTBS, groupInfoBytes, keepGroupInfoEncoding, type GroupInfo, type GroupInfoTBS } from "../messages/group-info.js";
import type { PreSharedKeyID } from "../messages/psk-id.js";
import type { HPKECiphertext } from "../messages/update-path.js";
import {
  decodeGroupSecrets,
  encodeGroupSecrets,
  type EncryptedGroupSecrets,
  type GroupSecrets,
  type Welcome,
} from "../messages/welcome.js";
import {
  deriveEpochSecret,
  deriveEpochSecrets,
  deriveWelcomeSecret,
  verifyConfirmationTag,
  welcomeKeyNonce,
  type EpochSecrets,
} from "./key-schedule.js";

const EMPTY = new Uint8Array(0);

/** §5.2: KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", encoded KeyPackage). */
export function makeKeyPackageRef(cs: CipherSuite, keyPackage: Uint8Array): Uint8Array {
  return refHash(cs, "MLS 1.0 KeyPackage Reference", keyPackage);
}

/** The entry of `welcome.secrets` for `keyPackageRef`; MlsError("NoMatchingKeyPackage") when absent. */
export function findGroupSecrets(welcome: Welcome, keyPackageRef: Uint8Array): EncryptedGroupSecrets {
  for (const s of welcome.secrets) if (bytesEqual(s.newMember, keyPackageRef)) return s;
  return fail("NoMatchingKeyPackage", "the Welcome has no secrets for this KeyPackage");
}

/** Re-labels a decoding failure of decrypted data with a descriptive code. */
function parse<T>(code: MlsErrorCode, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isMlsError(e)) fail(code, `${what}: ${e.message}`);
    throw e;
  }
}

/** EncryptWithLabel(init_key, "Welcome", encrypted_group_info, GroupSecrets). */
export function encryptGroupSecrets(
  cs: CipherSuite,
  initKey: Uint8Array,
  encryptedGroupInfo: Uint8Array,
  groupSecrets: GroupSecrets,
): HPKECiphertext {
  return encryptWithSharedContext(cs, initKey, "Welcome", encryptedGroupInfo, encode(encodeGroupSecrets, groupSecrets));
}

/**
 * DecryptWithLabel(init_key_priv, "Welcome", encrypted_group_info, kem_output, ciphertext), then parses
 * GroupSecrets. Throws MlsError "DecryptionFailed" (or "InvalidKey") or "InvalidWelcome" (malformed GroupSecrets).
 */
export function decryptGroupSecrets(
  cs: CipherSuite,
  initPrivateKey: Uint8Array,
  encryptedGroupInfo: Uint8Array,
  encrypted: HPKECiphertext,
): GroupSecrets {
  const plain = decryptWithLabel(cs, initPrivateKey, "Welcome", encryptedGroupInfo, encrypted.kemOutput, encrypted.ciphertext);
  return parse("InvalidWelcome", "GroupSecrets", () => decode(decodeGroupSecrets, plain));
}

/** encrypted_group_info = AEAD.Seal(welcome_key, welcome_nonce, "", GroupInfo). */
export function encryptGroupInfo(cs: CipherSuite, welcomeSecret: Uint8Array, groupInfo: GroupInfo): Uint8Array {
  const { key, nonce } = welcomeKeyNonce(cs, welcomeSecret);
  return cs.aead.seal(key, nonce, EMPTY, groupInfoBytes(groupInfo));
}

/** Opens encrypted_group_info. Throws MlsError "DecryptionFailed" or "InvalidGroupInfo" (malformed GroupInfo). */
export function decryptGroupInfo(cs: CipherSuite, welcomeSecret: Uint8Array, encryptedGroupInfo: Uint8Array): GroupInfo {
  const { key, nonce } = welcomeKeyNonce(cs, welcomeSecret);
  let plain: Uint8Array;
  try {
    plain = cs.aead.open(key, nonce, EMPTY, encryptedGroupInfo);
  } catch (e) {
    if (isMlsError(e)) throw e;
    return fail("DecryptionFailed", "encrypted_group_info does not decrypt");
  }
  return parse("InvalidGroupInfo", "GroupInfo", () => decode(decodeGroupInfo, plain));
}

/** §12.4.3: signature = SignWithLabel(signer_priv, "GroupInfoTBS", GroupInfoTBS). */
export function signGroupInfo(cs: CipherSuite, signaturePrivateKey: Uint8Array, tbs: GroupInfoTBS): GroupInfo {
  // The GroupInfo's encoding is its TBS then the signature: written once, after the signed TBS, and kept.
  return withWriter(1024, (w) => {
    const { signature, contentLength } = signWithLabelIn(cs, signaturePrivateKey, "GroupInfoTBS", w, () => encodeGroupInfoTBS(w, tbs));
    const tbsStart = w.length - contentLength;
    w.opaque(signature);
    const groupInfo: GroupInfo = {
      groupContext: tbs.groupContext,
      extensions: tbs.extensions,
      confirmationTag: tbs.confirmationTag,
      signer: tbs.signer,
      signature,
    };
    keepGroupInfoEncoding(groupInfo, w.copySince(tbsStart));
    return groupInfo;
  });
}

/** Throws MlsError("InvalidSignature") unless the GroupInfo is signed by `signerPublicKey`. */
export function verifyGroupInfoSignature(cs: CipherSuite, signerPublicKey: Uint8Array, groupInfo: GroupInfo): void {
  if (!verifyEncodedWithLabel(cs, signerPublicKey, "GroupInfoTBS", encodeGroupInfoTBS, groupInfo, groupInfo.signature)) {
    fail("InvalidSignature", "GroupInfo signature does not verify");
  }
}

/** One new member of a Welcome: its KeyPackageRef, the KeyPackage's init_key, and its GroupSecrets. */
export interface WelcomeRecipient {
  readonly keyPackageRef: Uint8Array;
  readonly initKey: Uint8Array;
  readonly groupSecrets: GroupSecrets;
}

/**
 * Builds a Welcome (§12.4.3.1): the signed GroupInfo under the welcome key of
 * `welcomeSecret`, and each recipient's GroupSecrets under its init key.
 */
export function createWelcome(
  cs: CipherSuite,
  welcomeSecret: Uint8Array,
  groupInfo: GroupInfo,
  recipients: readonly WelcomeRecipient[],
): Welcome {
  const encryptedGroupInfo = encryptGroupInfo(cs, welcomeSecret, groupInfo);
  return {
    cipherSuite: cs.id,
    secrets: recipients.map((r) => ({
      newMember: r.keyPackageRef,
      encryptedGroupSecrets: encryptGroupSecrets(cs, r.initKey, encryptedGroupInfo, r.groupSecrets),
    })),
    encryptedGroupInfo,
  };
}

export interface OpenedWelcome {
  readonly groupSecrets: GroupSecrets;
  /** Decrypted; its confirmation tag is verified, its signature is not (the signer's key is in the tree). */
  readonly groupInfo: GroupInfo;
  readonly pskSecret: Uint8Array;
  readonly epochSecrets: EpochSecrets;
}

/**
 * The cryptographic half of joining by Welcome (§12.4.3.1): finds this
 * client's entry, decrypts GroupSecrets with the KeyPackage's init private key,
 * derives psk_secret (`pskSecretOf` resolves the listed PSKs, e.g. with
 * pskSecret()), decrypts the GroupInfo with the welcome key, runs the key
 * schedule from the joiner_secret and the GroupInfo's GroupContext, and checks
 * the confirmation tag. The caller still verifies the GroupInfo signature and
 * the ratchet tree.
 */
export function openWelcome(
  cs: CipherSuite,
  welcome: Welcome,
  keyPackageRef: Uint8Array,
  initPrivateKey: Uint8Array,
  pskSecretOf: (psks: readonly PreSharedKeyID[]) => Uint8Array,
): OpenedWelcome {
  if (welcome.cipherSuite !== cs.id) fail("InvalidWelcome", `Welcome for cipher suite ${welcome.cipherSuite}, not ${cs.id}`);
  const entry = findGroupSecrets(welcome, keyPackageRef);
  const groupSecrets = decryptGroupSecrets(cs, initPrivateKey, welcome.encryptedGroupInfo, entry.encryptedGroupSecrets);
  const pskSecret = pskSecretOf(groupSecrets.psks);
  const welcomeSecret = deriveWelcomeSecret(cs, groupSecrets.joinerSecret, pskSecret);
  const groupInfo = decryptGroupInfo(cs, welcomeSecret, welcome.encryptedGroupInfo);
  if (groupInfo.groupContext.cipherSuite !== cs.id) fail("InvalidGroupInfo", "GroupInfo cipher suite differs from the Welcome's");
  const context = encode(encodeGroupContext, groupInfo.groupContext, 512);
  const epochSecrets = deriveEpochSecrets(cs, deriveEpochSecret(cs, groupSecrets.joinerSecret, pskSecret, context));
  verifyConfirmationTag(cs, epochSecrets.confirmationKey, groupInfo.groupContext.confirmedTranscriptHash, groupInfo.confirmationTag);
  return { groupSecrets, groupInfo, pskSecret, epochSecrets };
}
