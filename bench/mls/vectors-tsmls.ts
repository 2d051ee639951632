/**
 * Verifying the official MLS test vectors with ts-mls 2.0.0-rc.10, for the
 * benchmark's "vector suite" row. ts-mls ships no vector runner (its test
 * vectors code lives in its repository's tests, not in the package), so each
 * file's verification is written here against ts-mls functions, following the
 * "Verification" steps of README-test-vectors.md and, where that leaves a
 * choice, what this project's verifier of the same file checks
 * (test/vectors/checks/*.ts), so that both sides do comparable work.
 *
 * ts-mls's public API covers the passive-client files (joinGroup,
 * processMessage) and the MLSMessage codec; everything else uses ts-mls's
 * internal modules, imported by file path (the package "exports" only ".").
 *
 * Not covered (ts-mls-side verifier not written): message-protection.json,
 * tree-operations.json. Cipher suites 4 and 6 (X448/Ed448) need the optional
 * peer dependency @hpke/dhkem-x448, which is not installed: skipped. Suite 3
 * needs @hpke/chacha20poly1305 (not installed): its AEAD is supplied here on
 * @noble/ciphers (see chachaSuite), everything else is ts-mls's.
 */
import { AeadId, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, type AeadEncryptionContext, type AeadInterface } from "@hpke/core";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import {
  bytesToBase64,
  contentTypes,
  decode,
  defaultCryptoProvider,
  encode,
  joinGroup,
  keyPackageDecoder,
  keyPackageEncoder,
  makeKeyPackageRef,
  mlsExporter,
  mlsMessageDecoder,
  mlsMessageEncoder,
  processMessage,
  protocolVersions,
  pskTypes,
  unsafeTestingAuthenticationService,
  wireformats,
  type CiphersuiteImpl,
  type ClientState,
  type MlsContext,
  type MlsMessage,
} from "ts-mls";
import type { Decoder } from "../../node_modules/ts-mls/dist/src/codec/tlsDecoder.js";
import type { Encoder } from "../../node_modules/ts-mls/dist/src/codec/tlsEncoder.js";
import { determineLength, lengthEncoder } from "../../node_modules/ts-mls/dist/src/codec/variableLength.js";
import { authenticatedContentDecoder } from "../../node_modules/ts-mls/dist/src/authenticatedContent.js";
import { commitDecoder, commitEncoder } from "../../node_modules/ts-mls/dist/src/commit.js";
import { createConfirmationTag } from "../../node_modules/ts-mls/dist/src/framedContent.js";
import { deriveSecret, deriveTreeSecret, expandWithLabel } from "../../node_modules/ts-mls/dist/src/crypto/kdf.js";
import { refhash } from "../../node_modules/ts-mls/dist/src/crypto/hash.js";
import { decryptWithLabel, encryptWithLabel } from "../../node_modules/ts-mls/dist/src/crypto/hpke.js";
import { signWithLabel, verifyWithLabel } from "../../node_modules/ts-mls/dist/src/crypto/signature.js";
import { makeGenericHpke } from "../../node_modules/ts-mls/dist/src/crypto/implementation/hpke.js";
import { extensionEncoder, groupContextExtensionDecoder } from "../../node_modules/ts-mls/dist/src/extension.js";
import { groupContextEncoder, type GroupContext } from "../../node_modules/ts-mls/dist/src/groupContext.js";
import { verifyGroupInfoConfirmationTag, verifyGroupInfoSignature } from "../../node_modules/ts-mls/dist/src/groupInfo.js";
import { groupSecretsDecoder, groupSecretsEncoder } from "../../node_modules/ts-mls/dist/src/groupSecrets.js";
import { initializeEpoch } from "../../node_modules/ts-mls/dist/src/keySchedule.js";
import { leafNodeDecoder, leafNodeEncoder, verifyLeafNodeSignature, verifyLeafNodeSignatureKeyPackage } from "../../node_modules/ts-mls/dist/src/leafNode.js";
import { verifyParentHashes } from "../../node_modules/ts-mls/dist/src/parentHash.js";
import { getCommitSecret } from "../../node_modules/ts-mls/dist/src/pathSecrets.js";
import { computePskSecret, pskIdDecoder, pskIdEncoder, type PskId } from "../../node_modules/ts-mls/dist/src/presharedkey.js";
import {
  externalInitDecoder,
  externalInitEncoder,
  reinitDecoder,
  reinitEncoder,
  removeDecoder,
  removeEncoder,
} from "../../node_modules/ts-mls/dist/src/proposal.js";
import { ratchetTreeDecoder, ratchetTreeEncoder, resolution, type RatchetTree } from "../../node_modules/ts-mls/dist/src/ratchetTree.js";
import { createSecretTree, ratchetToGeneration } from "../../node_modules/ts-mls/dist/src/secretTree.js";
import { expandSenderDataKey, expandSenderDataNonce } from "../../node_modules/ts-mls/dist/src/sender.js";
import { createConfirmedHash, createInterimHash } from "../../node_modules/ts-mls/dist/src/transcriptHash.js";
import { treeHash, treeHashRoot } from "../../node_modules/ts-mls/dist/src/treeHash.js";
import * as tm from "../../node_modules/ts-mls/dist/src/treemath.js";
import { applyUpdatePathSecret } from "../../node_modules/ts-mls/dist/src/createCommit.js";
import { applyUpdatePath, createUpdatePath, updatePathDecoder } from "../../node_modules/ts-mls/dist/src/updatePath.js";
import { decryptGroupInfo, decryptGroupSecrets } from "../../node_modules/ts-mls/dist/src/welcome.js";

/** Suites ts-mls can run here. */
export const TS_SUITES: ReadonlySet<number> = new Set([1, 2, 3, 5, 7]);

/** Files with a ts-mls verifier below. */
export const TS_FILES = [
  "crypto-basics.json",
  "deserialization.json",
  "key-schedule.json",
  "messages.json",
  "passive-client-handling-commit.json",
  "passive-client-random.json",
  "passive-client-welcome.json",
  "psk_secret.json",
  "secret-tree.json",
  "transcript-hashes.json",
  "tree-math.json",
  "tree-validation.json",
  "treekem.json",
  "welcome.json",
] as const;
export type TsFile = (typeof TS_FILES)[number];

/** ChaCha20-Poly1305 as an @hpke/core AEAD (the role of @hpke/chacha20poly1305). */
class ChaChaAead implements AeadInterface {
  readonly id = AeadId.Chacha20Poly1305;
  readonly keySize = 32;
  readonly nonceSize = 12;
  readonly tagSize = 16;
  createEncryptionContext(key: ArrayBufferLike | ArrayBufferView): AeadEncryptionContext {
    const k = bytes(key).slice();
    const ab = (u: Uint8Array) => u.slice().buffer as ArrayBuffer;
    return {
      seal: async (iv, data, aad) => ab(chacha20poly1305(k, bytes(iv), bytes(aad)).encrypt(bytes(data))),
      open: async (iv, data, aad) => ab(chacha20poly1305(k, bytes(iv), bytes(aad)).decrypt(bytes(data))),
    };
  }
}
function bytes(b: ArrayBufferLike | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
}

const suites = new Map<number, Promise<CiphersuiteImpl>>();
export function tsSuite(id: number): Promise<CiphersuiteImpl> {
  let s = suites.get(id);
  if (s === undefined) {
    s = id === 3 ? chachaSuite() : defaultCryptoProvider.getCiphersuiteImpl(id);
    suites.set(id, s);
  }
  return s;
}

async function chachaSuite(): Promise<CiphersuiteImpl> {
  const base = await defaultCryptoProvider.getCiphersuiteImpl(1);
  const hpkeSuite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new ChaChaAead() });
  const aead = {
    encrypt: async (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array) => chacha20poly1305(key, nonce, aad).encrypt(pt),
    decrypt: async (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ct: Uint8Array) => chacha20poly1305(key, nonce, aad).decrypt(ct),
  };
  const hpke = await makeGenericHpke({ kem: "DHKEM-X25519-HKDF-SHA256", kdf: "HKDF-SHA256", aead: "CHACHA20POLY1305" }, aead, hpkeSuite);
  return { ...base, hpke, id: 3 };
}

// ------------------------------------------------------------------ helpers

type J = Record<string, unknown>;
function hex(s: unknown): Uint8Array {
  if (typeof s !== "string") throw new Error("not hex");
  return Uint8Array.from(Buffer.from(s, "hex"));
}
function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
function eq(what: string, got: Uint8Array, want: Uint8Array | unknown): void {
  const w = want instanceof Uint8Array ? want : hex(want);
  if (got.length !== w.length || !got.every((v, i) => v === w[i])) throw new Error(`${what}: ${toHex(got)} != ${toHex(w)}`);
}
function dec<T>(d: Decoder<T>, b: Uint8Array): T {
  const v = decode(d, b);
  if (v === undefined) throw new Error("decode failed");
  return v;
}
function msg(b: Uint8Array): MlsMessage {
  return dec(mlsMessageDecoder, b);
}
const ZERO4 = new Uint8Array(4);

/** The node list extended with blanks to the full width of its power-of-two leaf count. */
function padded(tree: RatchetTree): RatchetTree {
  let leaves = 1;
  while (tm.nodeWidth(leaves) < tree.length) leaves *= 2;
  while (tree.length < tm.nodeWidth(leaves)) tree.push(undefined);
  return tree;
}

function context(cs: CiphersuiteImpl): MlsContext {
  return { cipherSuite: cs, authService: unsafeTestingAuthenticationService };
}

// ------------------------------------------------------------------ checks

type Check = (e: J, cs: CiphersuiteImpl) => Promise<void>;

const treeMath: Check = async (e) => {
  const n = e.n_leaves as number;
  if (tm.nodeWidth(n) !== e.n_nodes) throw new Error("n_nodes");
  if (tm.root(n) !== e.root) throw new Error("root");
  const opt = (f: () => number) => {
    try {
      const v = f();
      return Number.isInteger(v) && v >= 0 && v < tm.nodeWidth(n) ? v : null;
    } catch {
      return null;
    }
  };
  const rels: [string, (x: number) => number][] = [
    ["left", (x) => (tm.isLeaf(tm.toNodeIndex(x)) ? NaN : tm.left(tm.toNodeIndex(x)))],
    ["right", (x) => (tm.isLeaf(tm.toNodeIndex(x)) ? NaN : tm.right(tm.toNodeIndex(x)))],
    ["parent", (x) => (x === tm.root(n) ? NaN : tm.parent(tm.toNodeIndex(x), n))],
    ["sibling", (x) => (x === tm.root(n) ? NaN : tm.sibling(tm.toNodeIndex(x), n))],
  ];
  for (const [name, f] of rels) {
    const want = e[name] as (number | null)[];
    want.forEach((w, x) => {
      if (opt(() => f(x)) !== w) throw new Error(`${name}[${x}]`);
    });
  }
};

const cryptoBasics: Check = async (e, cs) => {
  const rh = e.ref_hash as J;
  eq("ref_hash", await refhash(rh.label as string, hex(rh.value), cs.hash), rh.out);
  const ewl = e.expand_with_label as J;
  eq("expand_with_label", await expandWithLabel(hex(ewl.secret), ewl.label as string, hex(ewl.context), ewl.length as number, cs.kdf), ewl.out);
  const ds = e.derive_secret as J;
  eq("derive_secret", await deriveSecret(hex(ds.secret), ds.label as string, cs.kdf), ds.out);
  const dts = e.derive_tree_secret as J;
  eq(
    "derive_tree_secret",
    await deriveTreeSecret(hex(dts.secret), dts.label as string, dts.generation as number, dts.length as number, cs.kdf),
    dts.out,
  );
  const s = e.sign_with_label as J;
  const [pub, label, content] = [hex(s.pub), s.label as string, hex(s.content)];
  if (!(await verifyWithLabel(pub, label, content, hex(s.signature), cs.signature))) throw new Error("sign_with_label: vector");
  const fresh = await signWithLabel(hex(s.priv), label, content, cs.signature);
  if (!(await verifyWithLabel(pub, label, content, fresh, cs.signature))) throw new Error("sign_with_label: fresh");
  const x = e.encrypt_with_label as J;
  const priv = await cs.hpke.importPrivateKey(hex(x.priv));
  const [xl, xc, pt] = [x.label as string, hex(x.context), hex(x.plaintext)];
  eq("encrypt_with_label", await decryptWithLabel(priv, xl, xc, hex(x.kem_output), hex(x.ciphertext), cs.hpke), pt);
  const sealed = await encryptWithLabel(await cs.hpke.importPublicKey(hex(x.pub)), xl, xc, pt, cs.hpke);
  eq("encrypt_with_label fresh", await decryptWithLabel(priv, xl, xc, sealed.enc, sealed.ct, cs.hpke), pt);
};

const deserialization: Check = async (e) => {
  const header = hex(e.vlbytes_header);
  const { length, lengthFieldSize } = determineLength(header);
  if (length !== e.length || lengthFieldSize !== header.length) throw new Error("length");
  const [size, write] = lengthEncoder(length);
  const buf = new ArrayBuffer(size);
  write(0, buf);
  eq("header", new Uint8Array(buf), header);
};

const keySchedule: Check = async (e, cs) => {
  const groupId = hex(e.group_id);
  let initSecret = hex(e.initial_init_secret);
  let epoch = 0n;
  for (const ep of e.epochs as J[]) {
    const gc: GroupContext = {
      version: protocolVersions.mls10,
      cipherSuite: e.cipher_suite as number,
      groupId,
      epoch,
      treeHash: hex(ep.tree_hash),
      confirmedTranscriptHash: hex(ep.confirmed_transcript_hash),
      extensions: [],
    };
    eq("group_context", encode(groupContextEncoder, gc), ep.group_context);
    const s = await initializeEpoch(initSecret, hex(ep.commit_secret), gc, hex(ep.psk_secret), cs.kdf);
    const k = s.keySchedule;
    eq("joiner_secret", s.joinerSecret, ep.joiner_secret);
    eq("welcome_secret", s.welcomeSecret, ep.welcome_secret);
    eq("init_secret", k.initSecret, ep.init_secret);
    eq("sender_data_secret", k.senderDataSecret, ep.sender_data_secret);
    eq("encryption_secret", s.encryptionSecret, ep.encryption_secret);
    eq("exporter_secret", k.exporterSecret, ep.exporter_secret);
    eq("epoch_authenticator", k.epochAuthenticator, ep.epoch_authenticator);
    eq("external_secret", k.externalSecret, ep.external_secret);
    eq("confirmation_key", k.confirmationKey, ep.confirmation_key);
    eq("membership_key", k.membershipKey, ep.membership_key);
    eq("resumption_psk", k.resumptionPsk, ep.resumption_psk);
    const ext = await cs.hpke.deriveKeyPair(k.externalSecret);
    eq("external_pub", await cs.hpke.exportPublicKey(ext.publicKey), ep.external_pub);
    const x = ep.exporter as J;
    eq("exporter", await mlsExporter(k.exporterSecret, x.label as string, hex(x.context), x.length as number, cs), x.secret);
    initSecret = k.initSecret;
    epoch++;
  }
};

const pskSecret: Check = async (e, cs) => {
  const psks: [PskId, Uint8Array][] = (e.psks as J[]).map((p) => [
    { psktype: pskTypes.external, pskId: hex(p.psk_id), pskNonce: hex(p.psk_nonce) },
    hex(p.psk),
  ]);
  eq("psk_secret", await computePskSecret(psks, cs), e.psk_secret);
};

const secretTree: Check = async (e, cs) => {
  const sd = e.sender_data as J;
  eq("sender data key", await expandSenderDataKey(cs, hex(sd.sender_data_secret), hex(sd.ciphertext)), sd.key);
  eq("sender data nonce", await expandSenderDataNonce(cs, hex(sd.sender_data_secret), hex(sd.ciphertext)), sd.nonce);
  const leaves = e.leaves as J[][];
  let tree = createSecretTree(leaves.length, hex(e.encryption_secret));
  const config = { retainKeysForGenerations: 10, retainKeysForEpochs: 4, maximumForwardRatchetSteps: 1 << 20 };
  for (let i = 0; i < leaves.length; i++) {
    for (const g of leaves[i]!) {
      const senderData = { leafIndex: i, generation: g.generation as number, reuseGuard: ZERO4 } as never;
      const hs = await ratchetToGeneration(tree, senderData, contentTypes.commit, config, cs);
      eq("handshake_key", hs.key, g.handshake_key);
      eq("handshake_nonce", hs.nonce, g.handshake_nonce);
      const app = await ratchetToGeneration(hs.newTree, senderData, contentTypes.application, config, cs);
      eq("application_key", app.key, g.application_key);
      eq("application_nonce", app.nonce, g.application_nonce);
      tree = app.newTree;
    }
  }
};

const transcriptHashes: Check = async (e, cs) => {
  const ac = dec(authenticatedContentDecoder, hex(e.authenticated_content));
  const tag = (ac.auth as { confirmationTag?: Uint8Array }).confirmationTag;
  if (tag === undefined) throw new Error("no confirmation tag");
  const after = hex(e.confirmed_transcript_hash_after);
  eq("confirmation_tag", await createConfirmationTag(hex(e.confirmation_key), after, cs.hash), tag);
  const confirmed = await createConfirmedHash(
    hex(e.interim_transcript_hash_before),
    { wireformat: ac.wireformat, content: ac.content as never, signature: ac.auth.signature },
    cs.hash,
  );
  eq("confirmed", confirmed, after);
  eq("interim", await createInterimHash(confirmed, tag, cs.hash), e.interim_transcript_hash_after);
};

const welcome: Check = async (e, cs) => {
  const kpm = msg(hex(e.key_package));
  const wm = msg(hex(e.welcome));
  if (kpm.wireformat !== wireformats.mls_key_package || wm.wireformat !== wireformats.mls_welcome) throw new Error("wire formats");
  const ref = await makeKeyPackageRef(kpm.keyPackage, cs.hash);
  const secrets = await decryptGroupSecrets(await cs.hpke.importPrivateKey(hex(e.init_priv)), ref, wm.welcome, cs.hpke);
  if (secrets === undefined) throw new Error("group secrets");
  const psk = await computePskSecret([], cs);
  const gi = await decryptGroupInfo(wm.welcome, secrets.joinerSecret, psk, cs);
  if (gi === undefined) throw new Error("group info");
  if (!(await verifyGroupInfoSignature(gi, hex(e.signer_pub), cs.signature))) throw new Error("GroupInfo signature");
  if (!(await verifyGroupInfoConfirmationTag(gi, secrets.joinerSecret, psk, cs))) throw new Error("confirmation tag");
};

/** The messages.json fields, each with the ts-mls codec of its structure. */
function mlsMessageOf(wf: number, contentType?: number): [Decoder<unknown>, Encoder<never>] {
  const d: Decoder<unknown> = (b, off) => {
    const r = mlsMessageDecoder(b, off);
    if (r === undefined || r[0].wireformat !== wf) return undefined;
    if (contentType !== undefined && r[0].wireformat === wireformats.mls_public_message) {
      if (r[0].publicMessage.content.contentType !== contentType) return undefined;
    }
    return r;
  };
  return [d, mlsMessageEncoder as Encoder<never>];
}
const MESSAGE_FIELDS: Record<string, [Decoder<unknown>, Encoder<never>]> = {
  mls_welcome: mlsMessageOf(wireformats.mls_welcome),
  mls_group_info: mlsMessageOf(wireformats.mls_group_info),
  mls_key_package: mlsMessageOf(wireformats.mls_key_package),
  ratchet_tree: [ratchetTreeDecoder, ratchetTreeEncoder as Encoder<never>],
  group_secrets: [groupSecretsDecoder, groupSecretsEncoder as Encoder<never>],
  add_proposal: [keyPackageDecoder, keyPackageEncoder as Encoder<never>],
  update_proposal: [leafNodeDecoder, leafNodeEncoder as Encoder<never>],
  remove_proposal: [removeDecoder, removeEncoder as Encoder<never>],
  pre_shared_key_proposal: [pskIdDecoder, pskIdEncoder as Encoder<never>],
  re_init_proposal: [reinitDecoder, reinitEncoder as Encoder<never>],
  external_init_proposal: [externalInitDecoder, externalInitEncoder as Encoder<never>],
  group_context_extensions_proposal: [
    (b, off) => {
      // extensions<V>: a varint-prefixed list of Extension.
      const { length, lengthFieldSize } = determineLength(b, off);
      const out: unknown[] = [];
      let p = off + lengthFieldSize;
      while (p < off + lengthFieldSize + length) {
        const r = groupContextExtensionDecoder(b, p);
        if (r === undefined) return undefined;
        out.push(r[0]);
        p += r[1];
      }
      return [out, p - off];
    },
    ((list: unknown[]) => {
      const parts = list.map((x) => encode(extensionEncoder, x as never));
      const total = parts.reduce((n, p) => n + p.length, 0);
      const [size, write] = lengthEncoder(total);
      return [
        size + total,
        (offset: number, buffer: ArrayBuffer) => {
          write(offset, buffer);
          let p = offset + size;
          for (const part of parts) {
            new Uint8Array(buffer).set(part, p);
            p += part.length;
          }
        },
      ];
    }) as unknown as Encoder<never>,
  ],
  commit: [commitDecoder, commitEncoder as Encoder<never>],
  public_message_application: mlsMessageOf(wireformats.mls_public_message, contentTypes.application),
  public_message_proposal: mlsMessageOf(wireformats.mls_public_message, contentTypes.proposal),
  public_message_commit: mlsMessageOf(wireformats.mls_public_message, contentTypes.commit),
  private_message: mlsMessageOf(wireformats.mls_private_message),
};

const messages: Check = async (e) => {
  for (const [field, [d, enc]] of Object.entries(MESSAGE_FIELDS)) {
    const b = hex(e[field]);
    const r = d(b, 0);
    if (r === undefined || r[1] !== b.length) throw new Error(`${field}: decode`);
    eq(`${field} re-encoding`, encode(enc, r[0] as never), b);
  }
};

const treeValidation: Check = async (e, cs) => {
  const tree = dec(ratchetTreeDecoder, hex(e.tree));
  const groupId = hex(e.group_id);
  const resolutions = e.resolutions as number[][];
  const hashes = e.tree_hashes as string[];
  // The vector's node lists cover the full width; ts-mls keeps the list as sent.
  const width = resolutions.length;
  while (tree.length < width) tree.push(undefined);
  for (let i = 0; i < width; i++) {
    if (JSON.stringify(resolution(tree, tm.toNodeIndex(i))) !== JSON.stringify(resolutions[i])) throw new Error(`resolution ${i}`);
    eq(`tree hash ${i}`, await treeHash(tree, tm.toNodeIndex(i), cs.hash), hashes[i]);
  }
  if (!(await verifyParentHashes(tree, cs.hash))) throw new Error("parent hashes");
  for (let i = 0; i < tree.length; i += 2) {
    const n = tree[i];
    if (n?.nodeType !== 1) continue;
    const leaf = n.leaf;
    const ok =
      leaf.leafNodeSource === 1
        ? await verifyLeafNodeSignatureKeyPackage(leaf as never, cs.signature)
        : await verifyLeafNodeSignature(leaf, groupId, i / 2, cs.signature);
    if (!ok) throw new Error(`leaf ${i / 2} signature`);
  }
};

const treekem: Check = async (e, cs) => {
  const treeBytes = hex(e.ratchet_tree);
  // ts-mls keeps a decoded tree as sent (trailing blanks stripped) and derives its width from the length.
  const fresh = () => padded(dec(ratchetTreeDecoder, treeBytes));
  const gcFor = (treeHashValue: Uint8Array): GroupContext => ({
    version: protocolVersions.mls10,
    cipherSuite: e.cipher_suite as number,
    groupId: hex(e.group_id),
    epoch: BigInt(e.epoch as number),
    treeHash: treeHashValue,
    confirmedTranscriptHash: hex(e.confirmed_transcript_hash),
    extensions: [],
  });
  // Private key paths of the members the vector gives secrets for.
  const privs = new Map<number, { privateKeys: Record<number, Uint8Array>; sig: Uint8Array }>();
  for (const lp of e.leaves_private as J[]) {
    const leaf = lp.index as number;
    const privateKeys: Record<number, Uint8Array> = { [leaf * 2]: hex(lp.encryption_priv) };
    for (const ps of lp.path_secrets as J[]) {
      const kp = await cs.hpke.deriveKeyPair(await deriveSecret(hex(ps.path_secret), "node", cs.kdf));
      privateKeys[ps.node as number] = await cs.hpke.exportPrivateKey(kp.privateKey);
    }
    privs.set(leaf, { privateKeys, sig: hex(lp.signature_priv) });
  }
  const receive = async (tree: RatchetTree, sender: number, path: Parameters<typeof applyUpdatePath>[2]) => {
    await applyUpdatePath(tree, tm.toLeafIndex(sender), path, cs.hash);
    const after = await treeHashRoot(tree, cs.hash);
    const out = new Map<number, { pathSecret: Uint8Array; commitSecret: Uint8Array }>();
    for (const [j, p] of privs) {
      if (j === sender) continue;
      const r = await applyUpdatePathSecret(tree, { leafIndex: j, privateKeys: p.privateKeys }, tm.toLeafIndex(sender), gcFor(after), path, [], cs);
      out.set(j, { pathSecret: r.pathSecret, commitSecret: await getCommitSecret(tree, tm.toNodeIndex(r.nodeIndex), r.pathSecret, cs.kdf) });
    }
    return { after, out };
  };
  for (const up of e.update_paths as J[]) {
    const sender = up.sender as number;
    const path = dec(updatePathDecoder, hex(up.update_path));
    const { after, out } = await receive(fresh(), sender, path).catch((x: Error) => {
      throw new Error(`vector path from ${sender}: ${x.message}`);
    });
    eq("tree_hash_after", after, up.tree_hash_after);
    const want = up.path_secrets as (string | null)[];
    for (const [j, r] of out) {
      eq(`path secret ${j}`, r.pathSecret, want[j]);
      eq(`commit secret ${j}`, r.commitSecret, up.commit_secret);
    }
    // A fresh UpdatePath from the same sender, processed by every other member.
    const signer = privs.get(sender);
    if (signer === undefined) throw new Error("no private state for the sender");
    const original = fresh();
    // ts-mls's createUpdatePath encrypts under its argument's epoch + 1 (it expects the current epoch's context).
    const before = { ...gcFor(new Uint8Array()), epoch: BigInt(e.epoch as number) - 1n };
    const [, created, pathSecrets] = await createUpdatePath(original, fresh(), tm.toLeafIndex(sender), before, signer.sig, cs);
    const last = pathSecrets.at(-1);
    if (last === undefined) throw new Error("empty path");
    const commitSecret = await deriveSecret(last.secret, "path", cs.kdf);
    const again = await receive(fresh(), sender, created);
    for (const [j, r] of again.out) eq(`fresh commit secret ${j}`, r.commitSecret, commitSecret);
  }
};

function passiveClient(): Check {
  return async (e, cs) => {
    const kpm = msg(hex(e.key_package));
    const wm = msg(hex(e.welcome));
    if (kpm.wireformat !== wireformats.mls_key_package || wm.wireformat !== wireformats.mls_welcome) throw new Error("wire formats");
    const externalPsks: Record<string, Uint8Array> = {};
    for (const p of e.external_psks as J[]) externalPsks[bytesToBase64(hex(p.psk_id))] = hex(p.psk);
    const ctx: MlsContext = { ...context(cs), externalPsks };
    const treeHex = e.ratchet_tree;
    let state: ClientState = await joinGroup({
      context: ctx,
      welcome: wm.welcome,
      keyPackage: kpm.keyPackage,
      privateKeys: {
        initPrivateKey: hex(e.init_priv),
        hpkePrivateKey: hex(e.encryption_priv),
        signaturePrivateKey: hex(e.signature_priv),
      },
      ...(typeof treeHex === "string" && treeHex.length > 0 ? { ratchetTree: dec(ratchetTreeDecoder, hex(treeHex)) } : {}),
    });
    eq("initial epoch authenticator", state.keySchedule.epochAuthenticator, e.initial_epoch_authenticator);
    for (const [i, ep] of (e.epochs as J[]).entries()) {
      for (const p of [...(ep.proposals as string[]), ep.commit as string]) {
        const m = msg(hex(p));
        if (m.wireformat !== wireformats.mls_public_message && m.wireformat !== wireformats.mls_private_message) throw new Error("not framed");
        state = (await processMessage({ context: ctx, state, message: m })).newState;
      }
      eq(`epoch ${i} authenticator`, state.keySchedule.epochAuthenticator, ep.epoch_authenticator);
    }
  };
}

export const TS_CHECKS: Record<TsFile, Check> = {
  "crypto-basics.json": cryptoBasics,
  "deserialization.json": deserialization,
  "key-schedule.json": keySchedule,
  "messages.json": messages,
  "passive-client-handling-commit.json": passiveClient(),
  "passive-client-random.json": passiveClient(),
  "passive-client-welcome.json": passiveClient(),
  "psk_secret.json": pskSecret,
  "secret-tree.json": secretTree,
  "transcript-hashes.json": transcriptHashes,
  "tree-math.json": treeMath,
  "tree-validation.json": treeValidation,
  "treekem.json": treekem,
  "welcome.json": welcome,
};

/** The suite-less files (deserialization, messages, tree-math) run under suite 1's object, unused. */
export async function tsCheck(file: TsFile, entry: unknown): Promise<void> {
  const e = entry as J;
  const cs = await tsSuite(typeof e.cipher_suite === "number" ? e.cipher_suite : 1);
  await TS_CHECKS[file](e, cs);
}
