/** Shared fixtures for the framing tests: a suite, a group context, keys, and content arbitraries. */
import fc from "fast-check";
import { nativeProvider } from "../../../mls/crypto/native/index.js";
import type { CipherSuite } from "../../../mls/crypto/provider.js";
import type { ContentBody, FramedContent, Sender } from "../../../mls/framing/content.js";
import type { GroupContext } from "../../../mls/messages/group-context.js";
export { outcome } from "../outcome.js";

export const cs: CipherSuite = nativeProvider.suite(1);

export const context: GroupContext = {
  version: 1,
  cipherSuite: cs.id,
  groupId: new Uint8Array([1, 2, 3, 4]),
  epoch: 7n,
  treeHash: new Uint8Array(32).fill(5),
  confirmedTranscriptHash: new Uint8Array(32).fill(6),
  extensions: [],
};

export const signer = cs.signature.generateKeyPair();
export const membershipKey = new Uint8Array(32).fill(9);
export const encryptionSecret = new Uint8Array(32).fill(10);
export const senderDataSecret = new Uint8Array(32).fill(11);

export function framed(body: ContentBody, sender: Sender = { type: "member", leafIndex: 1 }, authenticatedData = new Uint8Array(0)): FramedContent {
  return { groupId: context.groupId, epoch: context.epoch, sender, authenticatedData, ...body };
}

export const proposalBody: fc.Arbitrary<ContentBody> = fc.oneof(
  fc.nat({ max: 0xffffffff }).map((removed) => ({ contentType: "proposal" as const, proposal: { type: "remove" as const, removed } })),
  fc.record({ pskId: fc.uint8Array({ maxLength: 40 }), pskNonce: fc.uint8Array({ maxLength: 40 }) }).map(({ pskId, pskNonce }) => ({
    contentType: "proposal" as const,
    proposal: { type: "psk" as const, psk: { pskType: "external" as const, pskId, pskNonce } },
  })),
);

export const commitBody: fc.Arbitrary<ContentBody> = fc
  .array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 5 })
  .map((refs) => ({ contentType: "commit" as const, commit: { proposals: refs.map((reference) => ({ type: "reference" as const, reference })) } }));

export const applicationBody: fc.Arbitrary<ContentBody> = fc
  .uint8Array({ maxLength: 2048 })
  .map((applicationData) => ({ contentType: "application" as const, applicationData }));

export const anyBody = fc.oneof(proposalBody, commitBody, applicationBody);

