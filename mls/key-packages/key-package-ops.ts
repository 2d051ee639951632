/** Creating, validating and referencing KeyPackages (RFC 9420 §5.2, §10, §10.1). */
import { bytesEqual } from "../codec/bytes.js";
import { encode } from "../codec/writer.js";
import type { Credential } from "../credentials/credential.js";
import { refHash, signWithLabel, verifyWithLabel } from "../crypto/labels.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import type { Extension } from "../extensions/extension.js";
import { PROTOCOL_VERSION_MLS10 } from "../messages/group-context.js";
import type { Capabilities, LeafNode, Lifetime } from "../tree/leaf-node.js";
import { signLeafNode, validateLeafNode, type CredentialValidator } from "../tree/leaf-validation.js";
import type { TreeView } from "../tree/ratchet-tree.js";
import { encodeKeyPackage, encodeKeyPackageTBS, type KeyPackage, type KeyPackageTBS } from "./key-package.js";

/** The secrets behind a KeyPackage, kept by its owner until it is used in a Welcome. */
export interface KeyPackagePrivate {
  readonly initPrivateKey: Uint8Array;
  readonly encryptionPrivateKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
}

export function keyPackageRef(cs: CipherSuite, kp: KeyPackage): Uint8Array {
  return refHash(cs, "MLS 1.0 KeyPackage Reference", encode(encodeKeyPackage, kp, 1024));
}

/** Default capabilities: this library's version, the given suites and basic credentials. */
export function defaultCapabilities(cipherSuites: readonly number[]): Capabilities {
  return { versions: [PROTOCOL_VERSION_MLS10], cipherSuites, extensions: [], proposals: [], credentials: [1] };
}

/** Default KeyPackage lifetime: from an hour ago (clock skew) to 60 days ahead. */
export function defaultLifetime(nowSeconds = BigInt(Math.floor(Date.now() / 1000))): Lifetime {
  return { notBefore: nowSeconds - 3600n, notAfter: nowSeconds + 60n * 86400n };
}

export interface CreateKeyPackageOptions {
  readonly cs: CipherSuite;
  readonly credential: Credential;
  readonly signaturePrivateKey: Uint8Array;
  readonly signaturePublicKey?: Uint8Array | undefined;
  readonly capabilities?: Capabilities | undefined;
  readonly lifetime?: Lifetime | undefined;
  readonly extensions?: readonly Extension[] | undefined;
  readonly leafExtensions?: readonly Extension[] | undefined;
}

export function createKeyPackage(o: CreateKeyPackageOptions): { keyPackage: KeyPackage; privateKeys: KeyPackagePrivate } {
  const { cs } = o;
  const init = cs.kem.generateKeyPair();
  const enc = cs.kem.generateKeyPair();
  const signatureKey = o.signaturePublicKey ?? cs.signature.publicKey(o.signaturePrivateKey);
  const leafNode: LeafNode = signLeafNode(cs, o.signaturePrivateKey, {
    encryptionKey: enc.publicKey,
    signatureKey,
    credential: o.credential,
    capabilities: o.capabilities ?? defaultCapabilities([cs.id]),
    leafNodeSource: "key_package",
    lifetime: o.lifetime ?? defaultLifetime(),
    extensions: o.leafExtensions ?? [],
  });
  const tbs: KeyPackageTBS = {
    version: PROTOCOL_VERSION_MLS10,
    cipherSuite: cs.id,
    initKey: init.publicKey,
    leafNode,
    extensions: o.extensions ?? [],
  };
  const signature = signWithLabel(cs, o.signaturePrivateKey, "KeyPackageTBS", encode(encodeKeyPackageTBS, tbs, 1024));
  return {
    keyPackage: { ...tbs, signature },
    privateKeys: {
      initPrivateKey: init.privateKey,
      encryptionPrivateKey: enc.privateKey,
      signaturePrivateKey: o.signaturePrivateKey,
    },
  };
}

export interface KeyPackageValidationOptions {
  readonly groupExtensions?: readonly Extension[] | undefined;
  /** When given, key uniqueness and credential-type support are checked against this tree. */
  readonly tree?: TreeView | undefined;
  /** Seconds since the epoch; when set, the lifetime is checked (§10.1 MUST for KeyPackages used to add). */
  readonly now?: bigint | undefined;
  /** Upper bound on not_after - not_before, in seconds (§7.2: applications define a maximum). */
  readonly maxLifetimeSeconds?: bigint | undefined;
  readonly credentialValidator?: CredentialValidator | undefined;
}

/** §10.1. Throws MlsError on the first failed check. */
export function validateKeyPackage(cs: CipherSuite, kp: KeyPackage, o: KeyPackageValidationOptions = {}): void {
  if (kp.version !== PROTOCOL_VERSION_MLS10) fail("InvalidKeyPackage", `unsupported version ${kp.version}`);
  if (kp.cipherSuite !== cs.id) fail("InvalidKeyPackage", `cipher suite ${kp.cipherSuite}, group uses ${cs.id}`);
  const tbs = encode(encodeKeyPackageTBS, kp, 1024);
  if (!verifyWithLabel(cs, kp.leafNode.signatureKey, "KeyPackageTBS", tbs, kp.signature)) {
    fail("InvalidSignature", "KeyPackage signature");
  }
  if (bytesEqual(kp.leafNode.encryptionKey, kp.initKey)) fail("InvalidKeyPackage", "init_key equals encryption_key");
  if (kp.initKey.length !== cs.kem.npk) fail("InvalidKeyPackage", "init_key has the wrong length");
  if (kp.leafNode.encryptionKey.length !== cs.kem.npk) fail("InvalidKeyPackage", "encryption_key has the wrong length");
  const lt = kp.leafNode.leafNodeSource === "key_package" ? kp.leafNode.lifetime : undefined;
  if (lt && o.maxLifetimeSeconds !== undefined && lt.notAfter - lt.notBefore > o.maxLifetimeSeconds) {
    fail("InvalidKeyPackage", "lifetime longer than allowed");
  }
  validateLeafNode(cs, kp.leafNode, {
    source: "key_package",
    groupExtensions: o.groupExtensions ?? [],
    tree: o.tree,
    now: o.now,
    credentialValidator: o.credentialValidator,
  });
}
