import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { encode } from "../../../mls/codec/writer.js";
import { signContent, verifyContentSignature, withConfirmationTag } from "../../../mls/framing/auth.js";
import { encodeFramedContent, type ContentBody, type Sender } from "../../../mls/framing/content.js";
import { decodePublicMessage, encodePublicMessage } from "../../../mls/framing/messages.js";
import { protectPublicMessage, unprotectPublicMessage } from "../../../mls/framing/public.js";
import { commitBody, context, cs, framed, membershipKey, outcome, proposalBody, signer } from "./fixtures.js";

const TAG = new Uint8Array(32).fill(4);

function signedPublic(body: ContentBody, sender: Sender = { type: "member", leafIndex: 1 }) {
  const ctx = sender.type === "member" || sender.type === "new_member_commit" ? context : undefined;
  const ac = signContent(cs, signer.privateKey, "mls_public_message", framed(body, sender), ctx);
  return body.contentType === "commit" ? withConfirmationTag(ac, TAG) : ac;
}

/** Decodes, unprotects and verifies the signature, as the group layer will. */
function receive(wire: Uint8Array, key = membershipKey) {
  const msg = decode(decodePublicMessage, wire);
  const ac = unprotectPublicMessage(cs, msg, context, key);
  const ctx = ac.content.sender.type === "member" || ac.content.sender.type === "new_member_commit" ? context : undefined;
  verifyContentSignature(cs, signer.publicKey, ac, ctx);
  return ac;
}

describe("PublicMessage", () => {
  it("round-trips proposals and commits from members", () => {
    fc.assert(
      fc.property(fc.oneof(proposalBody, commitBody), (body) => {
        const ac = signedPublic(body);
        const wire = encode(encodePublicMessage, protectPublicMessage(cs, ac, context, membershipKey));
        const out = receive(wire);
        expect(out.wireFormat).toBe("mls_public_message");
        expect(bytesEqual(encode(encodeFramedContent, out.content), encode(encodeFramedContent, ac.content))).toBe(true);
        if (body.contentType === "commit") expect(out.auth.confirmationTag).toEqual(TAG);
      }),
      { numRuns: 40 },
    );
  });

  it("carries no membership tag for non-member senders", () => {
    const ac = signedPublic({ contentType: "proposal", proposal: { type: "remove", removed: 2 } }, { type: "external", senderIndex: 0 });
    const msg = protectPublicMessage(cs, ac, undefined, undefined);
    expect(msg.membershipTag).toBeUndefined();
    receive(encode(encodePublicMessage, msg));
    const commit = signedPublic({ contentType: "commit", commit: { proposals: [] } }, { type: "new_member_commit" });
    receive(encode(encodePublicMessage, protectPublicMessage(cs, commit, context, undefined)));
  });

  it("refuses application data", () => {
    const ac = signContent(cs, signer.privateKey, "mls_public_message", framed({ contentType: "application", applicationData: new Uint8Array(1) }), context);
    expect(outcome(() => protectPublicMessage(cs, ac, context, membershipKey))).toBe("WrongWireFormat");
    const forged = { content: ac.content, auth: ac.auth, membershipTag: new Uint8Array(32) };
    expect(outcome(() => unprotectPublicMessage(cs, forged, context, membershipKey))).toBe("WrongWireFormat");
  });

  it("refuses content the sender type may not send", () => {
    const ac = signContent(
      cs,
      signer.privateKey,
      "mls_public_message",
      framed({ contentType: "commit", commit: { proposals: [] } }, { type: "external", senderIndex: 0 }),
      undefined,
      TAG,
    );
    expect(outcome(() => protectPublicMessage(cs, ac, undefined, undefined))).toBe("InvalidSender");
    const np = signedPublic({ contentType: "proposal", proposal: { type: "remove", removed: 1 } }, { type: "new_member_proposal" });
    expect(outcome(() => protectPublicMessage(cs, np, undefined, undefined))).toBe("InvalidSender");
  });

  it("rejects a wrong membership key", () => {
    const ac = signedPublic({ contentType: "proposal", proposal: { type: "remove", removed: 2 } });
    const wire = encode(encodePublicMessage, protectPublicMessage(cs, ac, context, membershipKey));
    expect(outcome(() => receive(wire, new Uint8Array(32)))).toBe("InvalidMembershipTag");
  });

  it("turns any tampered byte into a typed MlsError", () => {
    fc.assert(
      fc.property(fc.oneof(proposalBody, commitBody), fc.nat(), fc.integer({ min: 1, max: 255 }), (body, pos, delta) => {
        const wire = encode(encodePublicMessage, protectPublicMessage(cs, signedPublic(body), context, membershipKey));
        const bad = wire.slice();
        const i = pos % bad.length;
        bad[i] = (bad[i]! + delta) & 0xff;
        expect(outcome(() => receive(bad))).not.toBe("ok");
      }),
      { numRuns: 300 },
    );
  });
});
