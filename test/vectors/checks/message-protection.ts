import { bytesEqual, toHex } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { encode } from "../../../mls/codec/writer.js";
import type { CipherSuite } from "../../../mls/crypto/provider.js";
import { isMlsError } from "../../../mls/errors.js";
import { signContent, verifyContentSignature } from "../../../mls/framing/auth.js";
import type { AuthenticatedContent, ContentBody, FramedContent } from "../../../mls/framing/content.js";
import { decodeMLSMessage, encodeMLSMessage, type MLSMessage } from "../../../mls/framing/messages.js";
import { protectPrivateMessage, unprotectPrivateMessage } from "../../../mls/framing/private.js";
import { protectPublicMessage, unprotectPublicMessage } from "../../../mls/framing/public.js";
import { decodeCommit, encodeCommit } from "../../../mls/messages/commit.js";
import type { GroupContext } from "../../../mls/messages/group-context.js";
import { decodeProposal, encodeProposal } from "../../../mls/messages/proposal.js";
import { SecretTree } from "../../../mls/schedule/secret-tree.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

const SENDER = 1;

interface Keys {
  cs: CipherSuite;
  context: GroupContext;
  signaturePriv: Uint8Array;
  signaturePub: Uint8Array;
  encryptionSecret: Uint8Array;
  senderDataSecret: Uint8Array;
  membershipKey: Uint8Array;
}

/** The raw bytes of a content body, as the vector gives them. */
function rawOf(body: ContentBody): Uint8Array {
  if (body.contentType === "application") return body.applicationData;
  if (body.contentType === "proposal") return encode(encodeProposal, body.proposal);
  return encode(encodeCommit, body.commit);
}

function expectContent(what: string, ac: AuthenticatedContent, k: Keys, body: ContentBody): void {
  verifyContentSignature(k.cs, k.signaturePub, ac, k.context);
  const c = ac.content;
  if (c.contentType !== body.contentType) throw new Error(`${what}: content type ${c.contentType}`);
  if (c.sender.type !== "member" || c.sender.leafIndex !== SENDER) throw new Error(`${what}: unexpected sender`);
  if (!bytesEqual(c.groupId, k.context.groupId) || c.epoch !== k.context.epoch) throw new Error(`${what}: wrong group or epoch`);
  if (!bytesEqual(rawOf(c), rawOf(body))) throw new Error(`${what}: content differs: ${toHex(rawOf(c))}`);
}

function parse<W extends MLSMessage["wireFormat"]>(bytes: Uint8Array, wf: W): Extract<MLSMessage, { wireFormat: W }> {
  const m = decode(decodeMLSMessage, bytes);
  if (m.wireFormat !== wf) throw new Error(`expected ${wf}, got ${m.wireFormat}`);
  return m as Extract<MLSMessage, { wireFormat: W }>;
}

function unprotectPublic(k: Keys, bytes: Uint8Array): AuthenticatedContent {
  const m = parse(bytes, "mls_public_message");
  return unprotectPublicMessage(k.cs, m.publicMessage, k.context, k.membershipKey);
}

function unprotectPrivate(k: Keys, bytes: Uint8Array, tree: SecretTree): AuthenticatedContent {
  const m = parse(bytes, "mls_private_message");
  const out = unprotectPrivateMessage(k.cs, m.privateMessage, {
    secretTree: tree,
    senderDataSecret: k.senderDataSecret,
    isMember: (leaf) => leaf < 2,
  });
  if (out.leafIndex !== SENDER) throw new Error(`private message from leaf ${out.leafIndex}`);
  return out.authenticatedContent;
}

function framed(k: Keys, body: ContentBody): FramedContent {
  return {
    groupId: k.context.groupId,
    epoch: k.context.epoch,
    sender: { type: "member", leafIndex: SENDER },
    authenticatedData: new Uint8Array(0),
    ...body,
  };
}

function newTree(k: Keys): SecretTree {
  return SecretTree.create(k.cs, k.encryptionSecret, 2);
}

/** One of proposal / commit / application, all four directions (public only for handshake content). */
function checkOne(k: Keys, name: string, body: ContentBody, pub: Uint8Array | undefined, priv: Uint8Array): void {
  // The vector's PublicMessage verifies and yields the raw content.
  if (pub !== undefined) expectContent(`${name}_pub`, unprotectPublic(k, pub), k, body);

  // Protecting as a PublicMessage verifies in turn; application data must be refused.
  const content = framed(k, body);
  const tag = body.contentType === "commit" ? k.cs.randomBytes(k.cs.hash.size) : undefined;
  const acPub = signContent(k.cs, k.signaturePriv, "mls_public_message", content, k.context, tag);
  if (body.contentType === "application") {
    let refused = false;
    try {
      protectPublicMessage(k.cs, acPub, k.context, k.membershipKey);
    } catch (e) {
      if (!isMlsError(e, "WrongWireFormat")) throw e;
      refused = true;
    }
    if (!refused) throw new Error("application data was protected as a PublicMessage");
  } else {
    const pm = protectPublicMessage(k.cs, acPub, k.context, k.membershipKey);
    const bytes = encode(encodeMLSMessage, { version: 1, wireFormat: "mls_public_message", publicMessage: pm });
    expectContent(`${name} protected as PublicMessage`, unprotectPublic(k, bytes), k, body);
  }

  // The vector's PrivateMessage unprotects with a fresh secret tree.
  expectContent(`${name}_priv`, unprotectPrivate(k, priv, newTree(k)), k, body);

  // Protecting as a PrivateMessage unprotects with the (receiver's own) secret tree.
  const acPriv = signContent(k.cs, k.signaturePriv, "mls_private_message", content, k.context, tag);
  const msg = protectPrivateMessage(k.cs, acPriv, { secretTree: newTree(k), senderDataSecret: k.senderDataSecret });
  const bytes = encode(encodeMLSMessage, { version: 1, wireFormat: "mls_private_message", privateMessage: msg });
  expectContent(`${name} protected as PrivateMessage`, unprotectPrivate(k, bytes, newTree(k)), k, body);
}

/** message-protection.json: PublicMessage and PrivateMessage protect/unprotect for proposal, commit and application. */
const check: VectorCheck = {
  file: "message-protection.json",
  check(raw, provider) {
    const e = Entry.of(raw);
    const cipherSuite = e.num("cipher_suite");
    const k: Keys = {
      cs: provider.suite(cipherSuite),
      context: {
        version: 1,
        cipherSuite,
        groupId: e.hex("group_id"),
        epoch: BigInt(e.num("epoch")),
        treeHash: e.hex("tree_hash"),
        confirmedTranscriptHash: e.hex("confirmed_transcript_hash"),
        extensions: [],
      },
      signaturePriv: e.hex("signature_priv"),
      signaturePub: e.hex("signature_pub"),
      encryptionSecret: e.hex("encryption_secret"),
      senderDataSecret: e.hex("sender_data_secret"),
      membershipKey: e.hex("membership_key"),
    };
    const proposal = decode(decodeProposal, e.hex("proposal"));
    checkOne(k, "proposal", { contentType: "proposal", proposal }, e.hex("proposal_pub"), e.hex("proposal_priv"));
    const commit = decode(decodeCommit, e.hex("commit"));
    checkOne(k, "commit", { contentType: "commit", commit }, e.hex("commit_pub"), e.hex("commit_priv"));
    const applicationData = e.hex("application");
    checkOne(k, "application", { contentType: "application", applicationData }, undefined, e.hex("application_priv"));
  },
};
export default check;
