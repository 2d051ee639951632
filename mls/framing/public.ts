/** PublicMessage protection (RFC 9420 §6.2). */
import type { CipherSuite } from "../crypto/provider.js";
import { fail } from "../errors.js";
import type { GroupContext } from "../messages/group-context.js";
import { checkSenderContent, membershipTag, verifyMembershipTag } from "./auth.js";
import type { AuthenticatedContent } from "./content.js";
import type { PublicMessage } from "./messages.js";

function checkPublicContent(ac: AuthenticatedContent): void {
  if (ac.wireFormat !== "mls_public_message") fail("WrongWireFormat", `content signed for ${ac.wireFormat}`);
  // §6.2: application messages MUST use PrivateMessage.
  if (ac.content.contentType === "application") fail("WrongWireFormat", "application data cannot be sent as a PublicMessage");
  checkSenderContent(ac.content);
}

/**
 * Wraps signed content (see signContent, with wire format mls_public_message)
 * into a PublicMessage. For a member sender, `membershipKey` and the current
 * `context` give the membership tag; a commit's AuthenticatedContent must
 * already carry its confirmation tag. Throws MlsError("WrongWireFormat") for
 * application content.
 */
export function protectPublicMessage(
  cs: CipherSuite,
  ac: AuthenticatedContent,
  context: GroupContext | undefined,
  membershipKey: Uint8Array | undefined,
): PublicMessage {
  checkPublicContent(ac);
  if (ac.content.sender.type !== "member") return { content: ac.content, auth: ac.auth };
  if (membershipKey === undefined) fail("InvalidValue", "a member PublicMessage needs the membership key");
  return { content: ac.content, auth: ac.auth, membershipTag: membershipTag(cs, membershipKey, ac, context) };
}

/**
 * §6.2: checks the membership tag of a member sender's message against the
 * current epoch's `membershipKey` and `context`, and returns the
 * AuthenticatedContent. The signature is verified separately
 * (verifyContentSignature) with the key the group resolves for the sender.
 * Throws MlsError "InvalidMembershipTag", "WrongWireFormat" (application
 * content), "InvalidSender" (content the sender type may not send).
 */
export function unprotectPublicMessage(
  cs: CipherSuite,
  msg: PublicMessage,
  context: GroupContext | undefined,
  membershipKey: Uint8Array | undefined,
): AuthenticatedContent {
  const ac: AuthenticatedContent = { wireFormat: "mls_public_message", content: msg.content, auth: msg.auth };
  checkPublicContent(ac);
  if (msg.content.sender.type === "member") {
    if (msg.membershipTag === undefined) fail("InvalidMembershipTag", "member PublicMessage without membership tag");
    if (membershipKey === undefined) fail("InvalidValue", "a member PublicMessage needs the membership key");
    verifyMembershipTag(cs, membershipKey, ac, context, msg.membershipTag);
  }
  return ac;
}
