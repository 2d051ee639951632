// The MLS side of the SDK: identities, KeyPackages, leaf <-> (JID, device),
// the checks of §7.6, and small encodings.

import { createHash, randomBytes } from "node:crypto";

import {
  basicCredential,
  createKeyPackage,
  decode,
  decodeMLSMessage,
  decodeRatchetTree,
  defaultCapabilities,
  encode,
  encodeMLSMessage,
  ExtensionType,
  findExtension,
  keyPackageRef,
  PROTOCOL_VERSION_MLS10,
  readExternalSenders,
  toHex,
  utf8Bytes,
  type CipherSuite,
  type Credential,
  type Extension,
  type GroupContext,
  type GroupOptions,
  type KeyPackage,
  type LeafNode,
  type MLSMessage,
  type Node,
} from "../mls/node.js";

import { ClientError } from "./errors.js";
import { isBareUserJid } from "./jid.js";
import type { KeyPackageRecord } from "./store.js";

export const DEVICE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** A fresh random device id: 16 characters of base64url (96 bits). */
export function newDeviceId(): string {
  return randomBytes(12).toString("base64url");
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeUtf8(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

export function applicationIdExtension(deviceId: string): Extension {
  return { extensionType: ExtensionType.application_id, extensionData: utf8Bytes(deviceId) };
}

/** A device of a member as the tree names it. */
export interface DeviceRef {
  /** Bare JID (credential identity). */
  readonly jid: string;
  readonly device: string;
}

/** The (bare JID, device id) of a leaf, or undefined if it does not follow §4.2. */
export function leafIdentity(leaf: LeafNode): DeviceRef | undefined {
  if (leaf.credential.type !== "basic") return undefined;
  const jid = decodeUtf8(leaf.credential.identity);
  const ext = findExtension(leaf.extensions, ExtensionType.application_id);
  const device = ext && decodeUtf8(ext.extensionData);
  if (jid === undefined || device === undefined || !isBareUserJid(jid) || !DEVICE_ID_RE.test(device)) return undefined;
  return { jid, device };
}

/** §7.6.2: every credential is a BasicCredential naming a bare JID. */
export function credentialValidator(credential: Credential): boolean {
  if (credential.type !== "basic") return false;
  const jid = decodeUtf8(credential.identity);
  return jid !== undefined && isBareUserJid(jid);
}

/** §10.3: lowercase hex SHA-256 of the signature key, in groups of 8. */
export function fingerprint(signatureKey: Uint8Array): string {
  const hex = createHash("sha256").update(signatureKey).digest("hex");
  return hex.match(/.{8}/g)!.join(" ");
}

/** Group options the SDK uses for every room (the same on create, join and restore). */
export function groupOptions(maxEpochLag: number): GroupOptions {
  return {
    handshakeWireFormat: "public",
    // §6.4: the DS sends the tree next to the Welcome.
    ratchetTreeInWelcome: false,
    // §7.5: keep the secrets of the K epochs before the current one.
    maxPastEpochs: Math.max(2, maxEpochLag),
    credentialValidator,
  };
}

export function encodeMessage(m: MLSMessage): Uint8Array {
  return encode(encodeMLSMessage, m, 1024);
}

export function decodeMessage(bytes: Uint8Array, what: string): MLSMessage {
  try {
    const m = decode(decodeMLSMessage, bytes);
    if (m.version !== PROTOCOL_VERSION_MLS10) throw new Error(`version ${m.version}`);
    return m;
  } catch (e) {
    throw new ClientError("protocol", `${what}: not a valid MLSMessage (${(e as Error).message})`, { cause: e });
  }
}

export function decodeTree(bytes: Uint8Array): (Node | undefined)[] {
  try {
    return decode(decodeRatchetTree, bytes);
  } catch (e) {
    throw new ClientError("protocol", `<ratchet-tree/>: not a valid ratchet tree (${(e as Error).message})`, { cause: e });
  }
}

/** The leaf index of (jid, device) in a public tree, if present. */
export function findLeaf(nodes: readonly (Node | undefined)[], me: DeviceRef): number | undefined {
  for (let i = 0; i < nodes.length; i += 2) {
    const n = nodes[i];
    if (n?.type !== "leaf") continue;
    const id = leafIdentity(n.leaf);
    if (id && id.jid === me.jid && id.device === me.device) return i / 2;
  }
  return undefined;
}

/**
 * §7.6.3: the group's external_senders is exactly one entry, the service's key
 * with a BasicCredential of the room's domain.
 */
export function checkExternalSenders(context: GroupContext, serviceDomain: string, serviceKey: Uint8Array): void {
  const senders = readExternalSenders(context.extensions);
  if (senders === undefined || senders.length !== 1) {
    throw new ClientError("verification", `the group's external_senders must hold exactly the service (${serviceDomain})`);
  }
  const s = senders[0]!;
  const id = s.credential.type === "basic" ? decodeUtf8(s.credential.identity) : undefined;
  if (id !== serviceDomain) throw new ClientError("verification", `external sender identity '${id ?? "?"}' is not '${serviceDomain}'`);
  if (Buffer.compare(Buffer.from(s.signatureKey), Buffer.from(serviceKey)) !== 0) {
    throw new ClientError("verification", "external sender key differs from the service's external-sender-key");
  }
}

/** Creates one KeyPackage for this device (§6.1.1). */
export function makeKeyPackage(o: {
  cs: CipherSuite;
  jid: string;
  deviceId: string;
  signaturePrivateKey: Uint8Array;
  signaturePublicKey: Uint8Array;
  lastResort: boolean;
  /** Total lifetime in seconds (the service's max-key-package-lifetime). */
  lifetimeSeconds: number;
}): { record: KeyPackageRecord; keyPackage: KeyPackage } {
  const nowS = Math.floor(Date.now() / 1000);
  // not_before a minute in the past (clock skew), total within the service's maximum.
  const notBefore = nowS - 60;
  const notAfter = notBefore + Math.max(3 * 86400, o.lifetimeSeconds - 60);
  const { keyPackage, privateKeys } = createKeyPackage({
    cs: o.cs,
    credential: basicCredential(utf8Bytes(o.jid)),
    signaturePrivateKey: o.signaturePrivateKey,
    signaturePublicKey: o.signaturePublicKey,
    capabilities: defaultCapabilities([o.cs.id]),
    lifetime: { notBefore: BigInt(notBefore), notAfter: BigInt(notAfter) },
    leafExtensions: [applicationIdExtension(o.deviceId)],
  });
  const msg: MLSMessage = { version: PROTOCOL_VERSION_MLS10, wireFormat: "mls_key_package", keyPackage };
  return {
    keyPackage,
    record: {
      ref: toHex(keyPackageRef(o.cs, keyPackage)),
      keyPackage: encodeMessage(msg),
      initPrivateKey: privateKeys.initPrivateKey,
      encryptionPrivateKey: privateKeys.encryptionPrivateKey,
      lastResort: o.lastResort,
      notAfter,
      createdAt: nowS,
    },
  };
}
