/**
 * Every decoder the library exports, fed random and mutated bytes: only
 * MlsError comes out, nothing is slow, and whatever decodes re-encodes to
 * exactly the input (the codec is canonical).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkRatchetTreeShape,
  decode,
  decodeAuthenticatedContent,
  decodeCapabilities,
  decodeCommit,
  decodeContentBody,
  decodeCredential,
  decodeEncryptedGroupSecrets,
  decodeExtension,
  decodeExtensions,
  decodeExternalSender,
  decodeFramedContent,
  decodeFramedContentAuthData,
  decodeGroupContext,
  decodeGroupInfo,
  decodeGroupSecrets,
  decodeHPKECiphertext,
  decodeKeyPackage,
  decodeLeafNode,
  decodeMLSMessage,
  decodeNode,
  decodeParentNode,
  decodePreSharedKeyID,
  decodePrivateMessage,
  decodeProposal,
  decodeProposalOrRef,
  decodePublicMessage,
  decodeRatchetTree,
  decodeRequiredCapabilities,
  decodeSender,
  decodeUpdatePath,
  decodeUpdatePathNode,
  decodeWelcome,
  deserializeGroup,
  deserializePublicGroup,
  encode,
  encodeCommit,
  encodeGroupContext,
  encodeGroupInfo,
  encodeGroupSecrets,
  encodeKeyPackage,
  encodeLeafNode,
  encodeMLSMessage,
  encodeProposal,
  encodeRatchetTree,
  encodeUpdatePath,
  encodeWelcome,
  isMlsError,
  MlsError,
  nativeProvider,
  readExternalPub,
  readExternalSenders,
  readRequiredCapabilities,
  readVarint,
  Reader,
  type Decoder,
  type Encoder,
} from "../../../mls/node.js";
import { buildCorpus } from "./corpus.js";
import { anyEdits as edits, LIMITS, mutate, runs } from "./mutate.js";

const extensionReader = (type: number, read: (l: { extensionType: number; extensionData: Uint8Array }[]) => unknown) => (r: Reader) => {
  const data = r.raw(r.remaining);
  return read([{ extensionType: type, extensionData: data }]);
};

/** Every decoder, as a Decoder over a Reader (stateful ones wrapped). */
const DECODERS: [string, Decoder<unknown>][] = [
  ["MLSMessage", decodeMLSMessage],
  ["KeyPackage", decodeKeyPackage],
  ["RatchetTree", decodeRatchetTree],
  ["Commit", decodeCommit],
  ["Proposal", decodeProposal],
  ["ProposalOrRef", decodeProposalOrRef],
  ["GroupInfo", decodeGroupInfo],
  ["Welcome", decodeWelcome],
  ["GroupSecrets", decodeGroupSecrets],
  ["EncryptedGroupSecrets", decodeEncryptedGroupSecrets],
  ["HPKECiphertext", decodeHPKECiphertext],
  ["LeafNode", decodeLeafNode],
  ["Node", decodeNode],
  ["ParentNode", decodeParentNode],
  ["UpdatePath", decodeUpdatePath],
  ["UpdatePathNode", decodeUpdatePathNode],
  ["GroupContext", decodeGroupContext],
  ["Capabilities", decodeCapabilities],
  ["Credential", decodeCredential],
  ["Extension", decodeExtension],
  ["Extensions", decodeExtensions],
  ["ExternalSender", decodeExternalSender],
  ["RequiredCapabilities", decodeRequiredCapabilities],
  ["PreSharedKeyID", decodePreSharedKeyID],
  ["Sender", decodeSender],
  ["FramedContent", decodeFramedContent],
  ["AuthenticatedContent", decodeAuthenticatedContent],
  ["PublicMessage", decodePublicMessage],
  ["PrivateMessage", decodePrivateMessage],
  ["ContentBody(application)", (r) => decodeContentBody(r, "application")],
  ["ContentBody(proposal)", (r) => decodeContentBody(r, "proposal")],
  ["ContentBody(commit)", (r) => decodeContentBody(r, "commit")],
  ["FramedContentAuthData(commit)", (r) => decodeFramedContentAuthData(r, "commit")],
  ["FramedContentAuthData(proposal)", (r) => decodeFramedContentAuthData(r, "proposal")],
  ["varint", (r) => r.varint()],
  ["readVarint", (r) => {
    const all = r.raw(r.remaining);
    return readVarint(all, 0, all.length);
  }],
  ["external_pub", extensionReader(4, readExternalPub)],
  ["external_senders", extensionReader(5, readExternalSenders)],
  ["required_capabilities", extensionReader(3, readRequiredCapabilities)],
  ["deserializeGroup", (r) => deserializeGroup(nativeProvider, r.raw(r.remaining))],
  ["deserializePublicGroup", (r) => deserializePublicGroup(nativeProvider, r.raw(r.remaining))],
];

const SLOW_MS = 250;

/** Runs a decoder on bytes: "ok" or the MlsError code; anything else (or slowness) fails. */
function run(dec: Decoder<unknown>, bytes: Uint8Array): string {
  const t0 = performance.now();
  try {
    decode(dec, bytes);
    return "ok";
  } catch (e) {
    if (!(e instanceof MlsError)) throw new Error(`non-MlsError from decoder: ${String(e)}`, { cause: e });
    return e.code;
  } finally {
    const dt = performance.now() - t0;
    if (dt > SLOW_MS) throw new Error(`decoder took ${dt.toFixed(0)} ms on ${bytes.length} bytes`);
  }
}

/** Bytes with many small values: optional/enum/length fields then decode deeper than with uniform bytes. */
const structuredBytes = fc
  .array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 5, 0x20, 0x40, 0x80) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }) }), {
    maxLength: 600,
  })
  .map((a) => Uint8Array.from(a));

describe("decoders on random bytes", () => {
  it("uniform random bytes: only MlsError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        for (const [, dec] of DECODERS) run(dec, bytes);
      }),
      { numRuns: runs(400), ...LIMITS },
    );
  });

  it("bytes made of small values (deep partial parses): only MlsError", () => {
    fc.assert(
      fc.property(structuredBytes, (bytes) => {
        for (const [, dec] of DECODERS) run(dec, bytes);
      }),
      { numRuns: runs(600), ...LIMITS },
    );
  });

  it("empty input and a single byte: Truncated or a specific code, never a crash", () => {
    for (const [name, dec] of DECODERS) {
      const o = run(dec, new Uint8Array(0));
      if (name.startsWith("deserialize")) expect(o).toBe("InvalidState");
      else if (!name.startsWith("external") && name !== "required_capabilities" && name !== "RatchetTree") expect([o, name]).toEqual(["Truncated", name]);
      for (let b = 0; b < 256; b++) run(dec, Uint8Array.of(b));
    }
  });

  it("huge claimed lengths fail fast with Truncated", () => {
    // A 4-byte varint claiming 2^30-1 bytes, in front of a few bytes.
    const bytes = Uint8Array.of(0xbf, 0xff, 0xff, 0xff, 1, 2, 3);
    for (const [name, dec] of [
      ["Extensions", decodeExtensions],
      ["RatchetTree", decodeRatchetTree],
      ["Commit", decodeCommit],
    ] as const) {
      expect([name, run(dec as Decoder<unknown>, bytes)]).toEqual([name, "Truncated"]);
    }
  });
});

/** A ratchet tree as a receiver takes it: decoded, then shape-checked (§12.4.3.3). */
const receivedRatchetTree: Decoder<unknown> = (r) => {
  const nodes = decodeRatchetTree(r);
  checkRatchetTreeShape(nodes);
  return nodes;
};

describe("decoders on mutated real encodings", () => {
  const corpus = buildCorpus();
  const typed: [string, Decoder<unknown>, Encoder<never>, Uint8Array[]][] = [
    ["MLSMessage", decodeMLSMessage, encodeMLSMessage as Encoder<never>, corpus.mlsMessages.map((m) => m.bytes)],
    ["Commit", decodeCommit, encodeCommit as Encoder<never>, [corpus.commit]],
    ["Proposal", decodeProposal, encodeProposal as Encoder<never>, corpus.proposals],
    ["KeyPackage", decodeKeyPackage, encodeKeyPackage as Encoder<never>, [corpus.keyPackage]],
    // The tree's decoder is syntax only; a receiver then applies §12.4.3.3 (no
    // trailing blank node, which the encoder strips), and only that tree is canonical.
    ["RatchetTree", receivedRatchetTree, encodeRatchetTree as Encoder<never>, [corpus.ratchetTree]],
    ["GroupInfo", decodeGroupInfo, encodeGroupInfo as Encoder<never>, [corpus.groupInfo]],
    ["Welcome", decodeWelcome, encodeWelcome as Encoder<never>, [corpus.welcome]],
    ["GroupSecrets", decodeGroupSecrets, encodeGroupSecrets as Encoder<never>, corpus.groupSecrets],
    ["LeafNode", decodeLeafNode, encodeLeafNode as Encoder<never>, corpus.leafNodes],
    ["UpdatePath", decodeUpdatePath, encodeUpdatePath as Encoder<never>, [corpus.updatePath]],
    ["GroupContext", decodeGroupContext, encodeGroupContext as Encoder<never>, [corpus.groupContext]],
  ];

  it("the corpus decodes and re-encodes to itself", () => {
    for (const [name, dec, enc, items] of typed) {
      for (const bytes of items) {
        const v = decode(dec, bytes);
        expect([name, Buffer.from(encode(enc, v as never, 4096)).toString("hex")]).toEqual([name, Buffer.from(bytes).toString("hex")]);
      }
    }
  });

  for (const [name, dec, enc, items] of typed) {
    it(`${name}: mutations give MlsError, or a value that re-encodes to the mutated bytes`, () => {
      let decoded = 0;
      fc.assert(
        fc.property(fc.nat(), edits, (which, es) => {
          const bytes = mutate(items[which % items.length]!, es);
          const t0 = performance.now();
          let v: unknown;
          try {
            v = decode(dec, bytes);
          } catch (e) {
            if (!isMlsError(e)) throw e;
            return;
          } finally {
            expect(performance.now() - t0).toBeLessThan(SLOW_MS);
          }
          decoded++;
          // Canonical: no two encodings of one value.
          expect(Buffer.from(encode(enc, v as never, 4096)).equals(Buffer.from(bytes))).toBe(true);
        }),
        { numRuns: runs(300), ...LIMITS },
      );
      expect(decoded, "some mutations (inside opaque fields) still decode").toBeGreaterThan(0);
    });
  }

  it("mutated real encodings through every decoder: only MlsError", () => {
    const all = [...corpus.mlsMessages.map((m) => m.bytes), corpus.commit, corpus.ratchetTree, corpus.welcome, corpus.groupInfo, corpus.keyPackage];
    fc.assert(
      fc.property(fc.nat(), edits, (which, es) => {
        const bytes = mutate(all[which % all.length]!, es);
        for (const [, dec] of DECODERS) run(dec, bytes);
      }),
      { numRuns: runs(300), ...LIMITS },
    );
  });
});
