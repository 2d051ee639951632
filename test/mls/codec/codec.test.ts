/**
 * The TLS presentation language codec (RFC 9420 §2.1): variable-size length
 * headers, optional<T>, vectors, exact consumption, and encode/decode round
 * trips of random structures through the library's own codecs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkRatchetTreeShape,
  decode,
  decodeCapabilities,
  decodeCommit,
  decodeCredential,
  decodeExtensions,
  decodeExternalSender,
  decodeFramedContent,
  decodeGroupContext,
  decodeGroupSecrets,
  decodeKeyPackage,
  decodeLeafNode,
  decodePreSharedKeyID,
  decodePrivateMessage,
  decodeProposal,
  decodeRatchetTree,
  decodeRequiredCapabilities,
  decodeSender,
  decodeUpdatePath,
  decodeWelcome,
  encode,
  encodeCapabilities,
  encodeCommit,
  encodeCredential,
  encodeExtensions,
  encodeExternalSender,
  encodeFramedContent,
  encodeGroupContext,
  encodeGroupSecrets,
  encodeKeyPackage,
  encodeLeafNode,
  encodePreSharedKeyID,
  encodePrivateMessage,
  encodeProposal,
  encodeRatchetTree,
  encodeRequiredCapabilities,
  encodeSender,
  encodeUpdatePath,
  encodeWelcome,
  isMlsError,
  MAX_VARINT,
  readVarint,
  Reader,
  varintSize,
  Writer,
  writeVarint,
  type Capabilities,
  type Commit,
  type Credential,
  type Decoder,
  type Encoder,
  type Extension,
  type FramedContent,
  type GroupContext,
  type GroupSecrets,
  type KeyPackage,
  type LeafNode,
  type Node,
  type PreSharedKeyID,
  type PrivateMessage,
  type Proposal,
  type Sender,
  type UpdatePath,
  type Welcome,
} from "../../../mls/node.js";
import { withWriter } from "../../../mls/codec/writer.js";
import { outcome as code } from "../outcome.js";


const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const varintBytes = (n: number) => encode((w, v: number) => w.varint(v), n);
const readV = (bytes: number[]) => decode((r) => r.varint(), Uint8Array.from(bytes));

describe("varint (§2.1.2)", () => {
  it("encodes the edge values minimally", () => {
    const cases: [number, string][] = [
      [0, "00"],
      [1, "01"],
      [37, "25"],
      [63, "3f"],
      [64, "4040"],
      [15293, "7bbd"],
      [16383, "7fff"],
      [16384, "80004000"],
      [494878333, "9d7f3e7d"],
      [MAX_VARINT, "bfffffff"],
    ];
    for (const [n, h] of cases) {
      expect(hex(varintBytes(n))).toBe(h);
      expect(varintSize(n)).toBe(h.length / 2);
      expect(readV([...Buffer.from(h, "hex")])).toBe(n);
      const out = new Uint8Array(6);
      expect(writeVarint(out, 1, n)).toBe(1 + h.length / 2);
      expect(readVarint(out, 1, out.length)).toEqual([n, 1 + h.length / 2]);
    }
    expect(MAX_VARINT).toBe(2 ** 30 - 1);
  });

  it("rejects non-minimal encodings", () => {
    expect(code(() => readV([0x40, 0x00]))).toBe("NonMinimalVarint");
    expect(code(() => readV([0x40, 0x3f]))).toBe("NonMinimalVarint");
    expect(code(() => readV([0x80, 0x00, 0x00, 0x00]))).toBe("NonMinimalVarint");
    expect(code(() => readV([0x80, 0x00, 0x00, 0x3f]))).toBe("NonMinimalVarint");
    expect(code(() => readV([0x80, 0x00, 0x3f, 0xff]))).toBe("NonMinimalVarint");
    // The smallest value of each size is fine.
    expect(readV([0x40, 0x40])).toBe(64);
    expect(readV([0x80, 0x00, 0x40, 0x00])).toBe(16384);
  });

  it("rejects the reserved 0b11 prefix, whatever follows", () => {
    for (const first of [0xc0, 0xc1, 0xff]) {
      expect(code(() => readV([first]))).toBe("InvalidVarint");
      expect(code(() => readV([first, 0, 0, 0, 0, 0, 0, 0]))).toBe("InvalidVarint");
    }
  });

  it("refuses to encode 2^30 or more, or a vector that long", () => {
    expect(code(() => varintBytes(2 ** 30))).toBe("LengthOverflow");
    expect(code(() => varintSize(2 ** 30))).toBe("LengthOverflow");
    expect(code(() => varintBytes(2 ** 32 + 5))).toBe("LengthOverflow");
    expect(code(() => writeVarint(new Uint8Array(8), 0, 2 ** 30))).toBe("LengthOverflow");
  });

  it("truncated varints", () => {
    expect(code(() => readV([]))).toBe("Truncated");
    expect(code(() => readV([0x40]))).toBe("Truncated");
    expect(code(() => readV([0x80, 0x00, 0x40]))).toBe("Truncated");
    // readVarint never looks past `end`.
    expect(code(() => readVarint(Uint8Array.of(0x80, 0, 0x40, 0), 0, 3))).toBe("Truncated");
  });

  it("property: every value round-trips in its minimal size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_VARINT }), (n) => {
        const b = varintBytes(n);
        expect(b.length).toBe(n < 64 ? 1 : n < 16384 ? 2 : 4);
        expect(decode((r) => r.varint(), b)).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: any 1-4 bytes decode to a value that re-encodes to those bytes, or fail with a varint code", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 4 }), (bytes) => {
        let v: number;
        try {
          const r = new Reader(bytes);
          v = r.varint();
          const used = bytes.subarray(0, r.offset);
          expect(hex(varintBytes(v))).toBe(hex(used));
        } catch (e) {
          if (!isMlsError(e)) throw e;
          expect(["NonMinimalVarint", "InvalidVarint", "Truncated"]).toContain(e.code);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("optional, vectors, exact consumption", () => {
  it("optional<T>: presence octet 0 or 1 only", () => {
    const dec = (b: number[]) => decode((r) => r.optional((r) => r.u8()), Uint8Array.from(b));
    expect(dec([0])).toBeUndefined();
    expect(dec([1, 7])).toBe(7);
    for (const p of [2, 3, 0x80, 0xff]) expect(code(() => dec([p, 7]))).toBe("InvalidOptional");
    // In a real structure: Commit's optional path.
    expect(code(() => decode(decodeCommit, Uint8Array.of(0x00, 0x02)))).toBe("InvalidOptional");
    expect(decode(decodeCommit, Uint8Array.of(0x00, 0x00))).toEqual({ proposals: [] });
    // GroupSecrets' optional path_secret.
    expect(code(() => decode(decodeGroupSecrets, Uint8Array.of(0x00, 0x02, 0x00)))).toBe("InvalidOptional");
    // The ratchet tree is a vector of optional nodes.
    expect(code(() => decode(decodeRatchetTree, Uint8Array.of(0x01, 0x02)))).toBe("InvalidOptional");
  });

  it("trailing bytes are rejected at the top level", () => {
    const ctx: GroupContext = {
      version: 1,
      cipherSuite: 1,
      groupId: Uint8Array.of(1, 2),
      epoch: 9n,
      treeHash: new Uint8Array(32),
      confirmedTranscriptHash: new Uint8Array(32),
      extensions: [],
    };
    const b = encode(encodeGroupContext, ctx);
    expect(decode(decodeGroupContext, b)).toEqual(ctx);
    for (const extra of [[0], [0, 0, 0], [0xff]]) {
      expect(code(() => decode(decodeGroupContext, Uint8Array.from([...b, ...extra])))).toBe("TrailingBytes");
    }
    expect(code(() => decode(decodeCommit, Uint8Array.of(0, 0, 0)))).toBe("TrailingBytes");
  });

  it("a vector's items cannot read past the vector's end", () => {
    // extensions<V> of 1 byte holding half an extension type, then bytes that would complete it.
    expect(code(() => decode(decodeExtensions, Uint8Array.of(0x01, 0x00, 0x01, 0x00)))).toBe("Truncated");
    // A vector claiming more bytes than there are.
    expect(code(() => decode(decodeExtensions, Uint8Array.of(0x05, 0x00, 0x01, 0x00)))).toBe("Truncated");
    expect(code(() => decode((r) => r.opaque(), Uint8Array.of(0x40, 0x50, 1, 2, 3)))).toBe("Truncated");
  });

  it("unknown enum values are rejected", () => {
    expect(code(() => decode(decodeCredential, Uint8Array.of(0x00, 0x03, 0x00)))).toBe("UnknownEnumValue");
    expect(code(() => decode(decodeSender, Uint8Array.of(0x05)))).toBe("UnknownEnumValue");
    expect(code(() => decode(decodeSender, Uint8Array.of(0x00)))).toBe("UnknownEnumValue");
    expect(code(() => decode(decodeProposal, Uint8Array.of(0x00, 0x08)))).toBe("UnknownEnumValue");
    expect(code(() => decode(decodePreSharedKeyID, Uint8Array.of(0x03)))).toBe("UnknownEnumValue");
    expect(code(() => decode(decodePreSharedKeyID, Uint8Array.of(0x02, 0x04)))).toBe("UnknownEnumValue");
  });

  it("uint64 bounds when encoding", () => {
    expect(code(() => new Writer().u64(-1n))).toBe("InvalidValue");
    expect(code(() => new Writer().u64(2n ** 64n))).toBe("InvalidValue");
    expect(decode((r) => r.u64(), new Writer().u64(2n ** 64n - 1n).finish())).toBe(2n ** 64n - 1n);
  });

  it("lengthPrefixed moves the body when the header is short, for every header size", () => {
    for (const n of [0, 63, 64, 16383, 16384, 70000]) {
      const body = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
      const b = encode((w, x: Uint8Array) => w.opaque(x), body, 8);
      expect(b.length).toBe(varintSize(n) + n);
      expect(hex(decode((r) => r.opaque(), b))).toBe(hex(body));
    }
  });
});

describe("encode() on the shared buffer", () => {
  const opaque = (w: Writer, x: Uint8Array) => void w.opaque(x);

  it("property: results never alias the buffer, nested encodes included", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 6 }), (items) => {
        // Each item encoded on its own inside an encoder that is itself running on the buffer.
        const inner: Uint8Array[] = [];
        const outer = encode(
          (w, xs: Uint8Array[]) => {
            for (const x of xs) {
              inner.push(encode(opaque, x, 4));
              w.opaque(x);
            }
          },
          items,
          4,
        );
        const later = items.map((x) => encode(opaque, x.map((b) => b ^ 0xff), 4));
        let at = 0;
        items.forEach((x, i) => {
          expect(hex(inner[i]!)).toBe(hex(encode(opaque, x)));
          expect(hex(outer.subarray(at, at + inner[i]!.length))).toBe(hex(inner[i]!));
          expect(later[i]!.length).toBe(inner[i]!.length);
          at += inner[i]!.length;
        });
        expect(at).toBe(outer.length);
      }),
      { numRuns: 40 },
    );
  });

  it("wipes what was written once the encoding is returned (encodings carry secrets)", () => {
    const secret = new Uint8Array(5000).fill(0x5a);
    let seen: Uint8Array | undefined;
    const out = withWriter(16, (w) => {
      w.opaque(secret);
      seen = w.viewSince(0);
      return w.finish();
    });
    expect(out.length).toBe(2 + 5000);
    expect(seen!.length).toBe(out.length);
    expect(seen!.every((b) => b === 0)).toBe(true);
    expect(out.subarray(2).every((b) => b === 0x5a)).toBe(true);
  });

  it("a Writer given a buffer grows past it, and wipes the buffer it outgrew", () => {
    const first = new Uint8Array(2);
    const w = new Writer(first);
    w.u16(0xabcd).u32(0x01020304).opaque(new Uint8Array([9]));
    expect(hex(w.finish())).toBe("abcd010203040109");
    expect(hex(first)).toBe("0000");
  });
});

// ------------------------------------------------------------------ arbitraries

const bytes = (max = 40) => fc.uint8Array({ maxLength: max });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

const credential: fc.Arbitrary<Credential> = fc.oneof(
  bytes().map((identity) => ({ type: "basic" as const, identity })),
  fc.array(bytes(60), { maxLength: 3 }).map((certificates) => ({ type: "x509" as const, certificates })),
);
const capabilities: fc.Arbitrary<Capabilities> = fc.record({
  versions: fc.array(u16, { maxLength: 4 }),
  cipherSuites: fc.array(u16, { maxLength: 6 }),
  extensions: fc.array(u16, { maxLength: 6 }),
  proposals: fc.array(u16, { maxLength: 6 }),
  credentials: fc.array(u16, { maxLength: 4 }),
});
const extension: fc.Arbitrary<Extension> = fc.record({ extensionType: u16, extensionData: bytes(80) });
const extensions = fc.array(extension, { maxLength: 4 });
const leafNode: fc.Arbitrary<LeafNode> = fc
  .tuple(
    fc.record({ encryptionKey: bytes(), signatureKey: bytes(), credential, capabilities, extensions, signature: bytes(70) }),
    fc.oneof(
      fc.record({ notBefore: u64, notAfter: u64 }).map((lifetime) => ({ leafNodeSource: "key_package" as const, lifetime })),
      fc.constant({ leafNodeSource: "update" as const }),
      bytes().map((parentHash) => ({ leafNodeSource: "commit" as const, parentHash })),
    ),
  )
  .map(([base, src]) => ({ ...base, ...src }) as LeafNode);
const keyPackage: fc.Arbitrary<KeyPackage> = fc.record({ version: u16, cipherSuite: u16, initKey: bytes(), leafNode, extensions, signature: bytes(70) });
const pskId: fc.Arbitrary<PreSharedKeyID> = fc.oneof(
  fc.record({ pskType: fc.constant("external" as const), pskId: bytes(), pskNonce: bytes() }),
  fc.record({
    pskType: fc.constant("resumption" as const),
    usage: fc.constantFrom("application" as const, "reinit" as const, "branch" as const),
    pskGroupId: bytes(),
    pskEpoch: u64,
    pskNonce: bytes(),
  }),
);
const proposal: fc.Arbitrary<Proposal> = fc.oneof(
  keyPackage.map((kp) => ({ type: "add" as const, keyPackage: kp })),
  leafNode.map((l) => ({ type: "update" as const, leafNode: l })),
  u32.map((removed) => ({ type: "remove" as const, removed })),
  pskId.map((psk) => ({ type: "psk" as const, psk })),
  fc.record({ groupId: bytes(), version: u16, cipherSuite: u16, extensions }).map((r) => ({ type: "reinit" as const, ...r })),
  bytes().map((kemOutput) => ({ type: "external_init" as const, kemOutput })),
  extensions.map((e) => ({ type: "group_context_extensions" as const, extensions: e })),
);
const hpkeCiphertext = fc.record({ kemOutput: bytes(), ciphertext: bytes(60) });
const updatePath: fc.Arbitrary<UpdatePath> = fc.record({
  leafNode,
  nodes: fc.array(fc.record({ encryptionKey: bytes(), encryptedPathSecret: fc.array(hpkeCiphertext, { maxLength: 3 }) }), { maxLength: 4 }),
});
const commit: fc.Arbitrary<Commit> = fc
  .tuple(
    fc.array(
      fc.oneof(
        proposal.map((p) => ({ type: "proposal" as const, proposal: p })),
        bytes(32).map((reference) => ({ type: "reference" as const, reference })),
      ),
      { maxLength: 4 },
    ),
    fc.option(updatePath, { nil: undefined }),
  )
  .map(([proposals, path]) => (path === undefined ? { proposals } : { proposals, path }));
const sender: fc.Arbitrary<Sender> = fc.oneof(
  u32.map((leafIndex) => ({ type: "member" as const, leafIndex })),
  u32.map((senderIndex) => ({ type: "external" as const, senderIndex })),
  fc.constant({ type: "new_member_proposal" as const }),
  fc.constant({ type: "new_member_commit" as const }),
);
const framedContent: fc.Arbitrary<FramedContent> = fc
  .tuple(
    fc.record({ groupId: bytes(), epoch: u64, sender, authenticatedData: bytes() }),
    fc.oneof(
      bytes(100).map((applicationData) => ({ contentType: "application" as const, applicationData })),
      proposal.map((p) => ({ contentType: "proposal" as const, proposal: p })),
      commit.map((c) => ({ contentType: "commit" as const, commit: c })),
    ),
  )
  .map(([h, b]) => ({ ...h, ...b }) as FramedContent);
const groupContext: fc.Arbitrary<GroupContext> = fc.record({
  version: u16,
  cipherSuite: u16,
  groupId: bytes(),
  epoch: u64,
  treeHash: bytes(),
  confirmedTranscriptHash: bytes(),
  extensions,
});
const groupSecrets: fc.Arbitrary<GroupSecrets> = fc
  .tuple(bytes(), fc.option(bytes(), { nil: undefined }), fc.array(pskId, { maxLength: 3 }))
  .map(([joinerSecret, pathSecret, psks]) => (pathSecret === undefined ? { joinerSecret, psks } : { joinerSecret, pathSecret, psks }));
const welcome: fc.Arbitrary<Welcome> = fc.record({
  cipherSuite: u16,
  secrets: fc.array(fc.record({ newMember: bytes(), encryptedGroupSecrets: hpkeCiphertext }), { maxLength: 3 }),
  encryptedGroupInfo: bytes(100),
});
const privateMessage: fc.Arbitrary<PrivateMessage> = fc.record({
  groupId: bytes(),
  epoch: u64,
  contentType: fc.constantFrom("application" as const, "proposal" as const, "commit" as const),
  authenticatedData: bytes(),
  encryptedSenderData: bytes(),
  ciphertext: bytes(100),
});
const node: fc.Arbitrary<Node> = fc.oneof(
  leafNode.map((leaf) => ({ type: "leaf" as const, leaf })),
  fc
    .record({ encryptionKey: bytes(), parentHash: bytes(), unmergedLeaves: fc.array(u32, { maxLength: 4 }) })
    .map((parent) => ({ type: "parent" as const, parent })),
);
/** Ratchet trees as encoded: the last node present (the encoder strips trailing blanks). */
const ratchetTree = fc
  .tuple(fc.array(fc.option(node, { nil: undefined }), { maxLength: 6 }), node)
  .map(([nodes, last]) => [...nodes, last]);

const round: [string, fc.Arbitrary<unknown>, Encoder<never>, Decoder<unknown>][] = [
  ["Capabilities", capabilities, encodeCapabilities as Encoder<never>, decodeCapabilities],
  ["Extensions", extensions, encodeExtensions as Encoder<never>, decodeExtensions],
  ["Credential", credential, encodeCredential as Encoder<never>, decodeCredential],
  ["ExternalSender", fc.record({ signatureKey: bytes(), credential }), encodeExternalSender as Encoder<never>, decodeExternalSender],
  [
    "RequiredCapabilities",
    fc.record({ extensionTypes: fc.array(u16), proposalTypes: fc.array(u16), credentialTypes: fc.array(u16) }),
    encodeRequiredCapabilities as Encoder<never>,
    decodeRequiredCapabilities,
  ],
  ["LeafNode", leafNode, encodeLeafNode as Encoder<never>, decodeLeafNode],
  ["KeyPackage", keyPackage, encodeKeyPackage as Encoder<never>, decodeKeyPackage],
  ["PreSharedKeyID", pskId, encodePreSharedKeyID as Encoder<never>, decodePreSharedKeyID],
  ["Proposal", proposal, encodeProposal as Encoder<never>, decodeProposal],
  ["UpdatePath", updatePath, encodeUpdatePath as Encoder<never>, decodeUpdatePath],
  ["Commit", commit, encodeCommit as Encoder<never>, decodeCommit],
  ["Sender", sender, encodeSender as Encoder<never>, decodeSender],
  ["FramedContent", framedContent, encodeFramedContent as Encoder<never>, decodeFramedContent],
  ["GroupContext", groupContext, encodeGroupContext as Encoder<never>, decodeGroupContext],
  ["GroupSecrets", groupSecrets, encodeGroupSecrets as Encoder<never>, decodeGroupSecrets],
  ["Welcome", welcome, encodeWelcome as Encoder<never>, decodeWelcome],
  ["PrivateMessage", privateMessage, encodePrivateMessage as Encoder<never>, decodePrivateMessage],
  ["RatchetTree", ratchetTree, encodeRatchetTree as Encoder<never>, decodeRatchetTree],
];

describe("encode/decode round trips of random structures", () => {
  for (const [name, arb, enc, dec] of round) {
    it(`${name}: decode(encode(x)) = x, and every proper prefix is Truncated`, () => {
      fc.assert(
        fc.property(arb, (x) => {
          const b = encode(enc, x as never);
          const y = decode(dec, b);
          expect(y).toEqual(x);
          expect(hex(encode(enc, y as never))).toBe(hex(b));
          // Prefixes: at most ~12 of them, spread over the encoding.
          const step = Math.max(1, Math.floor(b.length / 12));
          for (let n = 0; n < b.length; n += step) expect(code(() => decode(dec, b.subarray(0, n)))).toBe("Truncated");
          expect(code(() => decode(dec, b.subarray(0, b.length - 1)))).toBe(b.length === 0 ? "ok" : "Truncated");
          expect(code(() => decode(dec, Uint8Array.from([...b, 0])))).toBe("TrailingBytes");
        }),
        { numRuns: 150 },
      );
    });
  }

  it("a ratchet tree with trailing blanks encodes without them", () => {
    fc.assert(
      fc.property(ratchetTree, fc.integer({ min: 1, max: 4 }), (nodes, blanks) => {
        const padded = [...nodes, ...Array<undefined>(blanks).fill(undefined)];
        expect(hex(encode(encodeRatchetTree, padded))).toBe(hex(encode(encodeRatchetTree, nodes)));
      }),
      { numRuns: 50 },
    );
  });

  it("a received tree that ends in a blank node decodes, and §12.4.3.3's check rejects it", () => {
    fc.assert(
      fc.property(ratchetTree, fc.integer({ min: 1, max: 4 }), (nodes, blanks) => {
        const b = encode(encodeRatchetTree, nodes);
        // The same vector with `blanks` more absent optionals (one 0 byte each), its length prefix grown to match.
        const prefix = 1 << (b[0]! >> 6); // §2.1.2: the top two bits give the varint's size
        const body = Uint8Array.from([...b.subarray(prefix), ...Array<number>(blanks).fill(0)]);
        const w = new Writer();
        w.varint(body.length);
        const padded = Uint8Array.from([...w.finish(), ...body]);
        const decoded = decode(decodeRatchetTree, padded);
        expect(decoded.length).toBe(nodes.length + blanks);
        expect(code(() => checkRatchetTreeShape(decoded))).toBe("InvalidTree");
        expect(decoded.slice(0, nodes.length)).toEqual(decode(decodeRatchetTree, b));
      }),
      { numRuns: 50 },
    );
  });
});
