/** Leaf node validation (RFC 9420 §7.3) and leaf node signing. */
import { bytesEqual } from "../codec/bytes.js";
import { encode } from "../codec/writer.js";
import type { Credential } from "../credentials/credential.js";
import { signWithLabel, verifyWithLabel } from "../crypto/labels.js";
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import { readRequiredCapabilities, type Extension } from "../extensions/extension.js";
import { encodeLeafNodeTBS, type LeafNode, type LeafNodeContent, type LeafNodeSourceName } from "./leaf-node.js";
import type { TreeView } from "./ratchet-tree.js";

/** Extension types of RFC 9420 that are "default" and never listed in capabilities (§7.2). */
const DEFAULT_EXTENSION_TYPES = new Set([1, 2, 3, 4, 5]);
/** Proposal types 1-7 are default (§7.2). */
export function isDefaultProposalType(t: number): boolean {
  return t >= 1 && t <= 7;
}

export function credentialTypeCode(c: Credential): number {
  return c.type === "basic" ? 1 : 2;
}

/** Application hook deciding whether a credential is acceptable for a signature key (§5.3.1). */
export type CredentialValidator = (credential: Credential, signatureKey: Uint8Array) => boolean;

export interface LeafValidationOptions {
  readonly source: LeafNodeSourceName;
  /** For update and commit leaves: the group id and leaf index the signature binds. */
  readonly groupId?: Uint8Array | undefined;
  readonly leafIndex?: number | undefined;
  /** GroupContext extensions in force (required_capabilities). */
  readonly groupExtensions: readonly Extension[];
  /** Tree to check key uniqueness and credential-type support against (§7.3). */
  readonly tree?: TreeView | undefined;
  /** The leaf this node replaces (Update, commit path): its own keys are not duplicates. */
  readonly replacing?: number | undefined;
  /** Seconds since the epoch; when set, the lifetime of key_package leaves is checked. */
  readonly now?: bigint | undefined;
  readonly credentialValidator?: CredentialValidator | undefined;
}

export function leafNodeTBS(leaf: LeafNodeContent, groupId?: Uint8Array, leafIndex?: number): Uint8Array {
  return encode((w, l: LeafNodeContent) => encodeLeafNodeTBS(w, l, groupId, leafIndex), leaf, 512);
}

export function signLeafNode(
  cs: CipherSuite,
  signaturePrivateKey: Uint8Array,
  content: LeafNodeContent,
  groupId?: Uint8Array,
  leafIndex?: number,
): LeafNode {
  const signature = signWithLabel(cs, signaturePrivateKey, "LeafNodeTBS", leafNodeTBS(content, groupId, leafIndex));
  return { ...content, signature };
}

export function verifyLeafNodeSignature(cs: CipherSuite, leaf: LeafNode, groupId?: Uint8Array, leafIndex?: number): boolean {
  return verifyWithLabel(cs, leaf.signatureKey, "LeafNodeTBS", leafNodeTBS(leaf, groupId, leafIndex), leaf.signature);
}

/** All of §7.3 that a receiver can check. Throws MlsError on the first failure. */
export function validateLeafNode(cs: CipherSuite, leaf: LeafNode, o: LeafValidationOptions): void {
  const bad = (why: string): never => fail("InvalidLeafNode", why);
  if (leaf.leafNodeSource !== o.source) bad(`leaf_node_source is ${leaf.leafNodeSource}, expected ${o.source}`);
  if (o.credentialValidator && !o.credentialValidator(leaf.credential, leaf.signatureKey)) {
    bad("credential rejected by the application");
  }
  const bindGroup = o.source !== "key_package";
  if (!verifyLeafNodeSignature(cs, leaf, bindGroup ? o.groupId : undefined, bindGroup ? o.leafIndex : undefined)) {
    fail("InvalidSignature", "leaf node signature");
  }
  const caps = leaf.capabilities;
  const credType = credentialTypeCode(leaf.credential);
  if (!caps.credentials.includes(credType)) bad("capabilities do not list the leaf's own credential type");
  for (const e of leaf.extensions) {
    if (!DEFAULT_EXTENSION_TYPES.has(e.extensionType) && !caps.extensions.includes(e.extensionType)) {
      bad(`extension ${e.extensionType} not listed in capabilities`);
    }
  }
  const required = readRequiredCapabilities(o.groupExtensions);
  if (required) {
    for (const t of required.extensionTypes) {
      if (!DEFAULT_EXTENSION_TYPES.has(t) && !caps.extensions.includes(t)) {
        fail("UnsupportedCapability", `required extension ${t} not supported`);
      }
    }
    for (const t of required.proposalTypes) {
      if (!isDefaultProposalType(t) && !caps.proposals.includes(t)) {
        fail("UnsupportedCapability", `required proposal ${t} not supported`);
      }
    }
    for (const t of required.credentialTypes) {
      if (!caps.credentials.includes(t)) fail("UnsupportedCapability", `required credential ${t} not supported`);
    }
  }
  if (leaf.leafNodeSource === "key_package" && o.now !== undefined) {
    if (o.now < leaf.lifetime.notBefore || o.now > leaf.lifetime.notAfter) {
      fail("ExpiredLifetime", "leaf node lifetime does not cover the current time");
    }
  }
  if (o.tree) checkAgainstTree(leaf, credType, o.tree, o.replacing);
}

function checkAgainstTree(leaf: LeafNode, credType: number, tree: TreeView, replacing: number | undefined): void {
  // §7.3: the credential type must be supported by every member, and this leaf must
  // support every credential type in use (the replaced leaf does not count).
  const stats = tree.credentialStats();
  const old = replacing !== undefined ? tree.node(replacing * 2) : undefined;
  const oldLeaf = old?.type === "leaf" ? old.leaf : undefined;
  const members = stats.members - (oldLeaf ? 1 : 0);
  const supporting = (stats.supports.get(credType) ?? 0) - (oldLeaf?.capabilities.credentials.includes(credType) ? 1 : 0);
  if (supporting < members) fail("UnsupportedCapability", `credential type ${credType} not supported by every member`);
  for (const [t, count] of stats.inUse) {
    const others = count - (oldLeaf && credentialTypeCode(oldLeaf.credential) === t ? 1 : 0);
    if (others > 0 && !leaf.capabilities.credentials.includes(t)) {
      fail("UnsupportedCapability", `leaf does not support credential type ${t} in use`);
    }
  }
  // Uniqueness of keys (§7.3, §16.8).
  const sig = tree.findSignatureKey(leaf.signatureKey);
  if (sig >= 0 && sig !== replacing) fail("DuplicateKey", "signature key already used by another member");
  const enc = tree.findEncryptionKey(leaf.encryptionKey);
  if (enc >= 0) {
    if (replacing !== undefined && enc === replacing * 2) fail("InvalidLeafNode", "encryption key unchanged");
    fail("DuplicateKey", "encryption key already in the tree");
  }
  if (oldLeaf && bytesEqual(oldLeaf.encryptionKey, leaf.encryptionKey)) fail("InvalidLeafNode", "encryption key unchanged");
}
