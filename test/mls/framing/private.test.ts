import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { encode, Writer } from "../../../mls/codec/writer.js";
import { signContent, verifyContentSignature } from "../../../mls/framing/auth.js";
import {
  encodeContentBody,
  encodeFramedContentAuthData,
  encodeFramedContent,
  type AuthenticatedContent,
  type ContentBody,
} from "../../../mls/framing/content.js";
import { decodePrivateMessage, encodePrivateMessage, type PrivateMessage } from "../../../mls/framing/messages.js";
import {
  defaultPadding,
  noPadding,
  padToMultipleOf,
  protectPrivateMessage,
  unprotectPrivateMessage,
  type PaddingPolicy,
} from "../../../mls/framing/private.js";
import { SecretTree } from "../../../mls/schedule/secret-tree.js";
import { senderDataKeyNonce } from "../../../mls/schedule/sender-data.js";
import {
  anyBody,
  applicationBody,
  context,
  cs,
  encryptionSecret,
  framed,
  outcome,
  proposalBody,
  senderDataSecret,
  signer,
} from "./fixtures.js";

const LEAVES = 4;
const tree = () => SecretTree.create(cs, encryptionSecret, LEAVES);
const receiverKeys = (t: SecretTree) => ({ secretTree: t, senderDataSecret, isMember: (l: number) => l < LEAVES });

function signed(body: ContentBody, leafIndex = 1, aad = new Uint8Array(0)): AuthenticatedContent {
  const tag = body.contentType === "commit" ? new Uint8Array(32).fill(3) : undefined;
  return signContent(cs, signer.privateKey, "mls_private_message", framed(body, { type: "member", leafIndex }, aad), context, tag);
}

function protect(ac: AuthenticatedContent, sender: SecretTree, padding?: PaddingPolicy): PrivateMessage {
  return protectPrivateMessage(cs, ac, { secretTree: sender, senderDataSecret }, padding ? { padding } : {});
}

const contentBytes = (ac: AuthenticatedContent) => encode(encodeFramedContent, ac.content);

describe("PrivateMessage", () => {
  it("round-trips random content, authenticated data, sender and padding", () => {
    fc.assert(
      fc.property(anyBody, fc.uint8Array({ maxLength: 64 }), fc.nat({ max: LEAVES - 1 }), fc.nat({ max: 300 }), (body, aad, leaf, pad) => {
        const ac = signed(body, leaf, aad);
        const msg = protect(ac, tree(), () => pad);
        const wire = encode(encodePrivateMessage, msg);
        const out = unprotectPrivateMessage(cs, decode(decodePrivateMessage, wire), receiverKeys(tree()));
        expect(out.leafIndex).toBe(leaf);
        expect(out.generation).toBe(0);
        expect(out.authenticatedContent.wireFormat).toBe("mls_private_message");
        expect(bytesEqual(contentBytes(out.authenticatedContent), contentBytes(ac))).toBe(true);
        expect(bytesEqual(out.authenticatedContent.auth.signature, ac.auth.signature)).toBe(true);
        verifyContentSignature(cs, signer.publicKey, out.authenticatedContent, context);
      }),
      { numRuns: 60 },
    );
  });

  it("pads to the policy: default to a multiple of 32 bytes", () => {
    expect([0, 1, 31, 32, 33].map(defaultPadding)).toEqual([0, 31, 1, 0, 31]);
    expect(padToMultipleOf(1)(17)).toBe(0);
    expect(outcome(() => padToMultipleOf(0))).toBe("InvalidValue");
    const ac = signed({ contentType: "application", applicationData: new Uint8Array(100) });
    const sizes = [noPadding, defaultPadding, padToMultipleOf(256)].map((p) => protect(ac, tree(), p).ciphertext.length);
    const tagLen = 16;
    expect((sizes[1]! - tagLen) % 32).toBe(0);
    expect((sizes[2]! - tagLen) % 256).toBe(0);
    expect(sizes[0]).toBeLessThan(sizes[1]!);
    expect(outcome(() => protect(ac, tree(), () => -1))).toBe("InvalidValue");
  });

  it("uses the handshake ratchet for proposals and commits, the application ratchet for application data", () => {
    const sender = tree();
    const receiver = tree();
    const gens: number[] = [];
    for (const body of [
      { contentType: "application", applicationData: new Uint8Array([1]) },
      { contentType: "proposal", proposal: { type: "remove", removed: 0 } },
      { contentType: "application", applicationData: new Uint8Array([2]) },
      { contentType: "commit", commit: { proposals: [] } },
    ] as ContentBody[]) {
      gens.push(unprotectPrivateMessage(cs, protect(signed(body), sender), receiverKeys(receiver)).generation);
    }
    expect(gens).toEqual([0, 0, 1, 1]);
  });

  it("decrypts out of order within the window and rejects replays", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...Array(20).keys()], { minLength: 20 }), (order) => {
        const sender = tree();
        const msgs = Array.from({ length: 20 }, (_, i) => protect(signed({ contentType: "application", applicationData: new Uint8Array([i]) }), sender));
        const receiver = tree();
        for (const i of order) {
          const out = unprotectPrivateMessage(cs, msgs[i]!, receiverKeys(receiver));
          expect(out.generation).toBe(i);
          const c = out.authenticatedContent.content;
          expect(c.contentType === "application" && c.applicationData[0]).toBe(i);
        }
        for (const i of order.slice(0, 3)) expect(outcome(() => unprotectPrivateMessage(cs, msgs[i]!, receiverKeys(receiver)))).toBe("KeyReused");
      }),
      { numRuns: 20 },
    );
  });

  it("rejects a generation beyond the window", () => {
    const sender = SecretTree.create(cs, encryptionSecret, LEAVES);
    const ac = signed({ contentType: "application", applicationData: new Uint8Array(1) });
    for (let i = 0; i < 11; i++) sender.nextKey(1, "application");
    const far = protect(ac, sender);
    const receiver = SecretTree.create(cs, encryptionSecret, LEAVES, { maxForwardDistance: 10 });
    expect(outcome(() => unprotectPrivateMessage(cs, far, receiverKeys(receiver)))).toBe("GenerationTooFar");
  });

  it("rejects a sender that is not a member", () => {
    const msg = protect(signed({ contentType: "application", applicationData: new Uint8Array(1) }, 2), tree());
    const keys = { secretTree: tree(), senderDataSecret, isMember: (l: number) => l !== 2 };
    expect(outcome(() => unprotectPrivateMessage(cs, msg, keys))).toBe("UnknownSender");
  });

  it("refuses content signed for another wire format, or a non-member sender", () => {
    const pub = signContent(cs, signer.privateKey, "mls_public_message", framed({ contentType: "application", applicationData: new Uint8Array(1) }), context);
    expect(outcome(() => protect(pub, tree()))).toBe("WrongWireFormat");
    const ext = signContent(
      cs,
      signer.privateKey,
      "mls_private_message",
      framed({ contentType: "proposal", proposal: { type: "remove", removed: 1 } }, { type: "external", senderIndex: 0 }),
      undefined,
    );
    expect(outcome(() => protect(ext, tree()))).toBe("InvalidSender");
  });

  it("detects a signature by another key", () => {
    const msg = protect(signed({ contentType: "application", applicationData: new Uint8Array(3) }), tree());
    const out = unprotectPrivateMessage(cs, msg, receiverKeys(tree()));
    const other = cs.signature.generateKeyPair();
    expect(outcome(() => verifyContentSignature(cs, other.publicKey, out.authenticatedContent, context))).toBe("InvalidSignature");
    const otherContext = { ...context, epoch: 8n };
    expect(outcome(() => verifyContentSignature(cs, signer.publicKey, out.authenticatedContent, otherContext))).toBe("InvalidSignature");
  });

  it("rejects non-zero padding", () => {
    // Build the message by hand (protectPrivateMessage only ever pads with zeros).
    const ac = signed({ contentType: "application", applicationData: new Uint8Array([7, 7]) });
    const w = new Writer();
    encodeContentBody(w, ac.content);
    encodeFramedContentAuthData(w, ac.auth, "application");
    w.raw(new Uint8Array([0, 0, 1, 0]));
    const { key, nonce, generation } = tree().nextKey(1, "application");
    const aad = new Writer().opaque(context.groupId).u64(context.epoch).u8(1).opaque(new Uint8Array(0)).finish();
    const ciphertext = cs.aead.seal(key, nonce, aad, w.finish());
    const sd = senderDataKeyNonce(cs, senderDataSecret, ciphertext);
    const sdAad = new Writer().opaque(context.groupId).u64(context.epoch).u8(1).finish();
    const senderData = new Writer().u32(1).u32(generation).raw(new Uint8Array(4)).finish();
    const msg: PrivateMessage = {
      groupId: context.groupId,
      epoch: context.epoch,
      contentType: "application",
      authenticatedData: new Uint8Array(0),
      encryptedSenderData: cs.aead.seal(sd.key, sd.nonce, sdAad, senderData),
      ciphertext,
    };
    const receiver = tree();
    expect(outcome(() => unprotectPrivateMessage(cs, msg, receiverKeys(receiver)))).toBe("InvalidPadding");
    // The failure consumed nothing: generation 0 is still available.
    expect(receiver.keyForGeneration(1, "application", 0).generation).toBe(0);
  });

  it("turns any tampered byte into a typed MlsError and consumes no key", () => {
    fc.assert(
      fc.property(fc.oneof(proposalBody, applicationBody), fc.nat(), fc.integer({ min: 1, max: 255 }), (body, pos, delta) => {
        const msg = protect(signed(body), tree());
        const wire = encode(encodePrivateMessage, msg);
        const bad = wire.slice();
        const i = pos % bad.length;
        bad[i] = (bad[i]! + delta) & 0xff;
        const receiver = tree();
        const code = outcome(() => unprotectPrivateMessage(cs, decode(decodePrivateMessage, bad), receiverKeys(receiver)));
        expect(code).not.toBe("ok");
        // The genuine message still decrypts with the same tree.
        expect(unprotectPrivateMessage(cs, msg, receiverKeys(receiver)).generation).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("turns truncated input into a typed MlsError", () => {
    const wire = encode(encodePrivateMessage, protect(signed({ contentType: "application", applicationData: new Uint8Array(40) }), tree()));
    for (let n = 0; n < wire.length; n++) {
      expect(outcome(() => unprotectPrivateMessage(cs, decode(decodePrivateMessage, wire.subarray(0, n)), receiverKeys(tree())))).not.toBe("ok");
    }
  });
});
