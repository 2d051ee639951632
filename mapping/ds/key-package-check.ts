/** KeyPackage validation at publish (docs/protocol.md §7.2.1; RFC 9420 §10.1). */
import {
  bytesEqual,
  decode,
  decodeMLSMessage,
  isMlsError,
  keyPackageRef,
  validateKeyPackage,
  type CipherSuite,
  type KeyPackage,
} from "../../mls/index.js";
import { deviceOfLeaf } from "./identity.js";

export type KeyPackageReason =
  | "decode"
  | "version"
  | "cipher-suite"
  | "signature"
  | "leaf-node"
  | "credential"
  | "capabilities"
  | "init-key"
  | "identity"
  | "device"
  | "lifetime"
  | "duplicate"
  | "last-resort"
  | "too-large";

export interface KeyPackageLimits {
  readonly maxBytes: number;
  /** Maximum not_after - not_before, seconds. */
  readonly maxLifetimeSeconds: number;
  /** not_before may be at most this far in the future, seconds (clock skew). */
  readonly notBeforeSkewSeconds: number;
  /** not_after must be at least this far in the future, seconds. */
  readonly minRemainingSeconds: number;
}

export const DEFAULT_KEY_PACKAGE_LIMITS: KeyPackageLimits = {
  maxBytes: 4096,
  maxLifetimeSeconds: 90 * 86400,
  notBeforeSkewSeconds: 300,
  minRemainingSeconds: 2 * 86400,
};

export interface CheckedKeyPackage {
  readonly keyPackage: KeyPackage;
  readonly bytes: Uint8Array;
  readonly ref: Uint8Array;
  readonly notAfter: bigint;
}

export class KeyPackageRejected extends Error {
  constructor(
    readonly reason: KeyPackageReason,
    message: string,
  ) {
    super(message);
  }
}

function reject(reason: KeyPackageReason, message: string): never {
  throw new KeyPackageRejected(reason, message);
}

/** Checks one published KeyPackage (an encoded MLSMessage) for a device. */
export function checkKeyPackage(
  cs: CipherSuite,
  bytes: Uint8Array,
  owner: { bareJid: string; deviceId: string },
  nowSeconds: bigint,
  limits: KeyPackageLimits = DEFAULT_KEY_PACKAGE_LIMITS,
): CheckedKeyPackage {
  if (bytes.length > limits.maxBytes) reject("too-large", `KeyPackage of ${bytes.length} bytes exceeds ${limits.maxBytes}`);
  let kp: KeyPackage;
  try {
    const m = decode(decodeMLSMessage, bytes);
    if (m.wireFormat !== "mls_key_package") reject("decode", `wire format ${m.wireFormat}, expected mls_key_package`);
    if (m.version !== 1) reject("version", `MLSMessage version ${m.version}`);
    kp = m.keyPackage;
  } catch (e) {
    if (e instanceof KeyPackageRejected) throw e;
    return reject("decode", `not an MLSMessage(KeyPackage): ${(e as Error).message}`);
  }
  if (kp.version !== 1) reject("version", `KeyPackage version ${kp.version}`);
  if (kp.cipherSuite !== cs.id) reject("cipher-suite", `cipher suite ${kp.cipherSuite}, the service uses ${cs.id}`);
  const leaf = kp.leafNode;
  if (leaf.credential.type !== "basic") reject("credential", "only BasicCredential is accepted");
  if (!leaf.capabilities.cipherSuites.includes(cs.id) || !leaf.capabilities.credentials.includes(1)) {
    reject("capabilities", "capabilities must list the service's cipher suite and the basic credential");
  }
  if (bytesEqual(kp.initKey, leaf.encryptionKey)) reject("init-key", "init_key equals encryption_key");
  try {
    validateKeyPackage(cs, kp);
  } catch (e) {
    if (!isMlsError(e)) throw e;
    if (e.code === "InvalidSignature") reject("signature", e.message);
    return reject("leaf-node", e.message);
  }
  const device = deviceOfLeaf(leaf);
  const claimed = new TextDecoder().decode(leaf.credential.identity);
  if (claimed !== owner.bareJid) reject("identity", `credential identity is '${claimed}', expected '${owner.bareJid}'`);
  if (device === undefined || device.deviceId !== owner.deviceId) {
    reject("device", `application_id must be the device id '${owner.deviceId}'`);
  }
  if (leaf.leafNodeSource !== "key_package") reject("leaf-node", "leaf_node_source must be key_package");
  const { notBefore, notAfter } = leaf.lifetime;
  if (
    notBefore > nowSeconds + BigInt(limits.notBeforeSkewSeconds) ||
    notAfter < nowSeconds + BigInt(limits.minRemainingSeconds) ||
    notAfter - notBefore > BigInt(limits.maxLifetimeSeconds)
  ) {
    reject("lifetime", "lifetime outside the service's bounds");
  }
  return { keyPackage: kp, bytes, ref: keyPackageRef(cs, kp), notAfter };
}
