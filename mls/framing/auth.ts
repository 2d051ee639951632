/** Content authentication (RFC 9420 §6.1) and the membership tag (§6.2). */
import { constantTimeEqual } from "../codec/bytes.js";
import { withWriter, type Writer } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { signWithLabelIn, verifyEncodedWithLabel } from "../crypto/labels.js";
import { fail } from "../errors.js";
import type { GroupContext } from "../messages/group-context.js";
import {
  encodeFramedContentAuthData,
  encodeFramedContentTBS,
  framedContentSize,
  type AuthenticatedContent,
  type FramedContent,
  type FramedContentAuthData,
  type WireFormatName,
} from "./content.js";

const TBS_LABEL = "FramedContentTBS";

// Signing, verifying and the membership tag encode their input into the
// codec's kept buffer and use it in place (withWriter): a commit's
// FramedContent can be large (an UpdatePath in a sparse tree of 1,000 leaves
// carries ~1,000 HPKE ciphertexts, ~80 KiB), and each exact-size copy of it
// is fresh memory, which costs about as much to touch as to hash.

function sizeHint(content: FramedContent): number {
  // FramedContent plus a GroupContext and the auth data.
  return framedContentSize(content) + 512;
}

/**
 * §6.1: checks the sender type against the content it may send: external
 * senders send proposals, new_member_proposal senders send Add proposals,
 * new_member_commit senders send commits. Throws MlsError("InvalidSender").
 */
export function checkSenderContent(content: FramedContent): void {
  switch (content.sender.type) {
    case "member":
      return;
    case "external":
      if (content.contentType !== "proposal") fail("InvalidSender", "an external sender may only send proposals");
      return;
    case "new_member_proposal":
      if (content.contentType !== "proposal" || content.proposal.type !== "add") {
        fail("InvalidSender", "a new_member_proposal sender may only send an Add proposal");
      }
      return;
    case "new_member_commit":
      if (content.contentType !== "commit") fail("InvalidSender", "a new_member_commit sender may only send a commit");
      return;
  }
}

/** signature = SignWithLabel(signature_priv, "FramedContentTBS", FramedContentTBS) (§6.1). */
export function signFramedContent(
  cs: CipherSuite,
  signaturePrivateKey: Uint8Array,
  wireFormat: WireFormatName,
  content: FramedContent,
  context: GroupContext | undefined,
): Uint8Array {
  return withWriter(
    sizeHint(content),
    (w) => signWithLabelIn(cs, signaturePrivateKey, TBS_LABEL, w, () => encodeFramedContentTBS(w, wireFormat, content, context)).signature,
  );
}

/**
 * Signs `content` for `wireFormat`, giving the AuthenticatedContent. A commit
 * needs its confirmation tag, which depends on the signature (§8.2): sign
 * without it, compute the tag, then attach it with `withConfirmationTag`.
 */
export function signContent(
  cs: CipherSuite,
  signaturePrivateKey: Uint8Array,
  wireFormat: WireFormatName,
  content: FramedContent,
  context: GroupContext | undefined,
  confirmationTag?: Uint8Array,
): AuthenticatedContent {
  const signature = signFramedContent(cs, signaturePrivateKey, wireFormat, content, context);
  const auth: FramedContentAuthData = confirmationTag === undefined ? { signature } : { signature, confirmationTag };
  return { wireFormat, content, auth };
}

/** The same AuthenticatedContent with its confirmation tag (commits only). */
export function withConfirmationTag(ac: AuthenticatedContent, confirmationTag: Uint8Array): AuthenticatedContent {
  if (ac.content.contentType !== "commit") fail("InvalidValue", "only a commit carries a confirmation tag");
  return { ...ac, auth: { signature: ac.auth.signature, confirmationTag } };
}

/**
 * VerifyWithLabel(signer_pub, "FramedContentTBS", FramedContentTBS, signature) (§6.1).
 * The caller resolves `signerPublicKey` from the sender type and group state.
 * Throws MlsError("InvalidSignature").
 */
export function verifyContentSignature(
  cs: CipherSuite,
  signerPublicKey: Uint8Array,
  ac: AuthenticatedContent,
  context: GroupContext | undefined,
): void {
  const tbs = (w: Writer, a: AuthenticatedContent) => encodeFramedContentTBS(w, a.wireFormat, a.content, context);
  if (!verifyEncodedWithLabel(cs, signerPublicKey, TBS_LABEL, tbs, ac, ac.auth.signature, sizeHint(ac.content))) {
    fail("InvalidSignature", "FramedContentTBS signature does not verify");
  }
}

/** membership_tag = MAC(membership_key, AuthenticatedContentTBM{ FramedContentTBS, FramedContentAuthData }) (§6.2). */
export function membershipTag(
  cs: CipherSuite,
  membershipKey: Uint8Array,
  ac: AuthenticatedContent,
  context: GroupContext | undefined,
): Uint8Array {
  return withWriter(sizeHint(ac.content) + ac.auth.signature.length, (w) => {
    encodeFramedContentTBS(w, ac.wireFormat, ac.content, context);
    encodeFramedContentAuthData(w, ac.auth, ac.content.contentType);
    return cs.hash.mac(membershipKey, w.viewSince(0));
  });
}

/** Throws MlsError("InvalidMembershipTag") unless `tag` is the membership tag of `ac` (constant-time compare). */
export function verifyMembershipTag(
  cs: CipherSuite,
  membershipKey: Uint8Array,
  ac: AuthenticatedContent,
  context: GroupContext | undefined,
  tag: Uint8Array,
): void {
  if (!constantTimeEqual(membershipTag(cs, membershipKey, ac, context), tag)) {
    fail("InvalidMembershipTag", "membership tag does not match");
  }
}
