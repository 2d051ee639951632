/**
 * MLS (RFC 9420) as a library: no XMPP, no storage, no Node-only import.
 * Under Node, import "./node.js" instead for the fast native crypto provider.
 */
export * from "./errors.js";
export * from "./codec/index.js";
export * from "./crypto/index.js";
export { nobleProvider } from "./crypto/noble/index.js";

export * from "./credentials/credential.js";
export * from "./extensions/extension.js";
export * from "./key-packages/key-package.js";
export * from "./key-packages/key-package-ops.js";
export * from "./messages/commit.js";
export * from "./messages/group-context.js";
export * from "./messages/group-info.js";
export * from "./messages/proposal.js";
export * from "./messages/psk-id.js";
export * from "./messages/update-path.js";
export * from "./messages/welcome.js";
export { verifyGroupInfoSignature, signGroupInfo } from "./schedule/welcome.js";
export * from "./framing/content.js";
export * from "./framing/messages.js";
export { defaultPadding, noPadding, padToMultipleOf, type PaddingPolicy } from "./framing/private.js";
export * from "./tree/leaf-node.js";
export * from "./tree/node.js";
export * from "./tree/parent-node.js";
export { validateLeafNode, signLeafNode, verifyLeafNodeSignature, type CredentialValidator } from "./tree/leaf-validation.js";

export { Group, proposalRef, type CommitOptions, type ProposeOptions, type StoredProposal } from "./group/group.js";
export * from "./group/join.js";
export * from "./group/options.js";
export * from "./group/public-group.js";
export * from "./group/persist.js";
export type * from "./group/types.js";
