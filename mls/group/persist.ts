/**
 * Versioned serialization of group state: a member's Group (with its pending
 * commit, past epochs and retained keys) and the Delivery Service's
 * PublicGroup. The format is this library's own (TLS presentation language,
 * RFC 9420 §2.1), prefixed by a magic, a format version and the kind.
 */
import { bytesKey } from "../codec/bytes.js";
import { decode, Reader } from "../codec/reader.js";
import { Writer } from "../codec/writer.js";
import type { CryptoProvider, KeyPair } from "../crypto/provider.js";
import { fail, isMlsError } from "../errors.js";
import { decodeExtensions, encodeExtensions } from "../extensions/extension.js";
import { decodeAuthenticatedContent, decodeSender, encodeAuthenticatedContent, encodeSender } from "../framing/content.js";
import { decodeGroupContext, encodeGroupContext } from "../messages/group-context.js";
import type { ReInit } from "../messages/proposal.js";
import { decodeEpochSecrets, encodeEpochSecrets } from "../schedule/key-schedule.js";
import { SecretTree } from "../schedule/secret-tree.js";
import { decodeNode, decodeRatchetTree, encodeNode, encodeRatchetTree } from "../tree/node.js";
import { RatchetTree, TreeDiff } from "../tree/ratchet-tree.js";
import type { PrivateKeys } from "../tree/treekem.js";
import { Group, proposalRef, type EpochState, type PastEpoch, type PendingCommit, type StoredProposal } from "./group.js";
import { resolveOptions, type GroupOptions } from "./options.js";
import { PublicGroup, type PublicGroupOptions } from "./public-group.js";
import type { CommitSummary } from "./types.js";

const MAGIC = 0x4d4c5353; // "MLSS"
export const STATE_FORMAT_VERSION = 1;
const KIND_MEMBER = 1;
const KIND_PUBLIC = 2;

function header(w: Writer, kind: number, suite: number): void {
  w.u32(MAGIC).u16(STATE_FORMAT_VERSION).u8(kind).u16(suite);
}

function readHeader(r: Reader, kind: number): number {
  if (r.u32() !== MAGIC) fail("InvalidState", "not a serialized group state");
  const version = r.u16();
  if (version !== STATE_FORMAT_VERSION) fail("UnsupportedStateVersion", `state format ${version}, this library reads ${STATE_FORMAT_VERSION}`);
  const k = r.u8();
  if (k !== kind) fail("InvalidState", `state of kind ${k}, expected ${kind}`);
  return r.u16();
}

/** Runs a decoder, turning every codec failure into InvalidState. */
function guarded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isMlsError(e) && (e.code === "UnsupportedStateVersion" || e.code === "UnsupportedCipherSuite")) throw e;
    if (isMlsError(e)) fail("InvalidState", `corrupt group state: ${e.message}`);
    throw e;
  }
}

function encodeKeys(w: Writer, keys: PrivateKeys): void {
  w.vector([...keys], (w, [i, kp]) => {
    w.u32(i);
    w.opaque(kp.privateKey);
    w.opaque(kp.publicKey);
  });
}

function decodeKeys(r: Reader): PrivateKeys {
  return new Map(r.vector((r): [number, KeyPair] => [r.u32(), { privateKey: r.opaque().slice(), publicKey: r.opaque().slice() }]));
}

function encodeReInit(w: Writer, x: ReInit): void {
  w.opaque(x.groupId).u16(x.version).u16(x.cipherSuite);
  encodeExtensions(w, x.extensions);
}

function decodeReInit(r: Reader): ReInit {
  return { groupId: r.opaque(), version: r.u16(), cipherSuite: r.u16(), extensions: decodeExtensions(r) };
}

const u32s = (w: Writer, xs: readonly number[]) => w.vector(xs, (w, x) => w.u32(x));
const readU32s = (r: Reader) => r.vector((r) => r.u32());

function encodeSummary(w: Writer, s: CommitSummary): void {
  w.u64(s.epoch);
  encodeSender(w, s.sender);
  w.u32(s.committer).u8(s.external ? 1 : 0);
  u32s(w, s.added);
  u32s(w, s.removed);
  u32s(w, s.updated);
  w.u8(s.pathIncluded ? 1 : 0);
  w.optional(s.reinit, encodeReInit);
  w.u8(s.selfRemoved ? 1 : 0);
}

function decodeSummary(r: Reader): CommitSummary {
  return {
    epoch: r.u64(),
    sender: decodeSender(r),
    committer: r.u32(),
    external: r.u8() === 1,
    added: readU32s(r),
    removed: readU32s(r),
    updated: readU32s(r),
    pathIncluded: r.u8() === 1,
    reinit: r.optional(decodeReInit),
    selfRemoved: r.u8() === 1,
  };
}

/** The epoch fields other than the tree. */
function encodeEpochFields(w: Writer, e: Omit<EpochState, "tree">): void {
  encodeGroupContext(w, e.context);
  w.opaque(e.interimTranscriptHash).opaque(e.confirmationTag);
  encodeEpochSecrets(w, e.secrets);
  SecretTree.encodeTo(w, e.secretTree);
  w.u32(e.ownLeaf);
  encodeKeys(w, e.keys);
}

function decodeEpochFields(r: Reader, provider: CryptoProvider, suite: number): Omit<EpochState, "tree"> {
  const cs = provider.suite(suite);
  return {
    context: decodeGroupContext(r),
    interimTranscriptHash: r.opaque().slice(),
    confirmationTag: r.opaque().slice(),
    secrets: decodeEpochSecrets(r),
    secretTree: SecretTree.decodeFrom(r, cs),
    ownLeaf: r.u32(),
    keys: decodeKeys(r),
  };
}

/** Serializes a member's full state, secrets included: store it encrypted at rest. */
export function serializeGroup(g: Group): Uint8Array {
  const s = g.state;
  const w = new Writer(4096);
  header(w, KIND_MEMBER, g.cs.id);
  w.opaque(s.signaturePrivateKey);
  encodeRatchetTree(w, s.epoch.tree.toNodes());
  encodeEpochFields(w, s.epoch);
  w.vector([...s.proposals.values()], (w, p) => encodeAuthenticatedContent(w, p.content));
  w.vector(s.past, (w, p) => {
    encodeGroupContext(w, p.context);
    SecretTree.encodeTo(w, p.secretTree);
    w.opaque(p.senderDataSecret);
    w.vector([...p.undo], (w, [leaf, key]) => {
      w.u32(leaf);
      w.optional(key, (w, k) => w.opaque(k));
    });
  });
  w.vector([...s.resumptionPsks], (w, [epoch, psk]) => w.u64(epoch).opaque(psk));
  w.vector([...s.ownUpdates], (w, [ref, kp]) => {
    w.opaque(latin1Bytes(ref));
    w.opaque(kp.privateKey).opaque(kp.publicKey);
  });
  w.optional(s.pending, (w, p: PendingCommit) => {
    w.opaque(p.signature);
    w.u32(p.diff.leafCount);
    w.vector([...p.diff.changes], (w, [i, n]) => {
      w.u32(i);
      w.optional(n, encodeNode);
    });
    encodeEpochFields(w, p.next);
    encodeSummary(w, p.summary);
  });
  w.optional(s.reinit, encodeReInit);
  w.u8(s.active ? 1 : 0);
  return w.finish();
}

export function deserializeGroup(provider: CryptoProvider, input: Uint8Array, options?: GroupOptions): Group {
  // Decoded values alias their input: own a copy so the caller may reuse its buffer.
  const bytes = input.slice();
  return guarded(() =>
    decode((r) => {
      const suite = readHeader(r, KIND_MEMBER);
      const cs = provider.suite(suite);
      const signaturePrivateKey = r.opaque().slice();
      const tree = RatchetTree.fromNodes(cs, decodeRatchetTree(r));
      const fields = decodeEpochFields(r, provider, suite);
      const epoch: EpochState = { ...fields, tree };
      const proposals = new Map<string, StoredProposal>();
      for (const ac of r.vector(decodeAuthenticatedContent)) {
        if (ac.content.contentType !== "proposal") fail("InvalidState", "stored proposal is not a proposal");
        const ref = proposalRef(cs, ac);
        proposals.set(bytesKey(ref), { ref, proposal: ac.content.proposal, sender: ac.content.sender, content: ac });
      }
      const past: PastEpoch[] = r.vector((r) => ({
        context: decodeGroupContext(r),
        secretTree: SecretTree.decodeFrom(r, cs),
        senderDataSecret: r.opaque().slice(),
        undo: new Map(r.vector((r): [number, Uint8Array | undefined] => [r.u32(), r.optional((r) => r.opaque().slice())])),
      }));
      const resumption = new Map(r.vector((r): [bigint, Uint8Array] => [r.u64(), r.opaque().slice()]));
      const ownUpdates = new Map(
        r.vector((r): [string, KeyPair] => [bytesKey(r.opaque()), { privateKey: r.opaque().slice(), publicKey: r.opaque().slice() }]),
      );
      const pending = r.optional((r): PendingCommit => {
        const signature = r.opaque().slice();
        const leafCount = r.u32();
        const changes = r.vector((r): [number, ReturnType<typeof decodeNode> | undefined] => [r.u32(), r.optional(decodeNode)]);
        const diff = TreeDiff.restore(tree, leafCount, changes);
        return { signature, diff, next: decodeEpochFields(r, provider, suite), summary: decodeSummary(r) };
      });
      const reinit = r.optional(decodeReInit);
      const active = r.u8() === 1;
      return new Group(
        cs,
        signaturePrivateKey,
        epoch,
        resolveOptions(options),
        proposals,
        past,
        resumption,
        ownUpdates,
        pending,
        reinit,
        active,
      );
    }, bytes),
  );
}

/** Serializes the Delivery Service's view (no secrets in it). */
export function serializePublicGroup(g: PublicGroup): Uint8Array {
  const w = new Writer(4096);
  header(w, KIND_PUBLIC, g.cs.id);
  encodeGroupContext(w, g.groupContext);
  encodeRatchetTree(w, g.ratchetTree());
  w.opaque(g.interimTranscriptHash).opaque(g.confirmationTag);
  w.vector(g.pendingProposals(), (w, p) => encodeAuthenticatedContent(w, p.content));
  return w.finish();
}

export function deserializePublicGroup(provider: CryptoProvider, input: Uint8Array, policy?: PublicGroupOptions): PublicGroup {
  const bytes = input.slice();
  return guarded(() =>
    decode((r) => {
      const cs = provider.suite(readHeader(r, KIND_PUBLIC));
      const context = decodeGroupContext(r);
      const tree = RatchetTree.fromNodes(cs, decodeRatchetTree(r));
      const interim = r.opaque().slice();
      const tag = r.opaque().slice();
      const proposals = r.vector(decodeAuthenticatedContent);
      return PublicGroup.restore(cs, context, tree, interim, tag, proposals, policy);
    }, bytes),
  );
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Convenience: a serialized state round trip (deep copy) of a member's group. */
export function cloneGroup(provider: CryptoProvider, g: Group, options?: GroupOptions): Group {
  return deserializeGroup(provider, serializeGroup(g), options ?? g.options);
}


