/**
 * A thin, bytes-in/bytes-out wrapper around ts-mls 2.0 (an independent MLS
 * implementation; tests and benchmarks only, never the product) so interop
 * tests read like a protocol script. Every message crossing between the two
 * libraries is a serialized MLSMessage (or ratchet tree); nothing is shared.
 *
 * ts-mls 2.0 in short (all async; `context = { cipherSuite, authService }`):
 *   cs        = await getCiphersuiteImpl(name, provider?)        (tsSuite)
 *   kp        = await generateKeyPackageWithKey({ credential, signatureKeyPair, cipherSuite })
 *               -> { publicPackage, privatePackage }             (adds GREASE values)
 *   state     = await createGroup({ context, groupId, keyPackage, privateKeyPackage, extensions })
 *   state     = await joinGroup({ context, welcome, keyPackage, privateKeys, ratchetTree? })
 *   r         = await createCommit({ context, state, extraProposals, wireAsPublicMessage, ratchetTreeExtension })
 *               -> { newState, commit, welcome?, consumed }: already merged, no pending step;
 *               all received proposals are included by reference, always.
 *   r         = await createProposal({ context, state, proposal, wireAsPublicMessage })
 *   r         = await createApplicationMessage({ context, state, message })
 *   r         = await processMessage({ context, state, message })
 *               -> { kind: "newState" | "applicationMessage", newState, message? }
 *   msg       = await proposeAddExternal(groupInfo, keyPackage, privateKeyPackage, cs)  (new_member_proposal)
 *   msg       = await proposeExternal(groupInfo, proposal, sigPub, sigPriv, cs)        (external sender; see D4)
 *   { publicMessage, newState } = await joinGroupExternal({ context, groupInfo, keyPackage, privateKeys, resync, tree? })
 *   gi        = await createGroupInfoWithExternalPub[AndRatchetTree](state, extensions, cs)
 *   state.keySchedule.epochAuthenticator; mlsExporter(state.keySchedule.exporterSecret, label, ctx, len, cs)
 *   encode(mlsMessageEncoder, m) / decode(mlsMessageDecoder, bytes)  (wireformat/version fields lower-case)
 * Every result also returns `consumed` secrets for the caller to zero; ignored here.
 *
 * ts-mls's state is immutable: each operation returns a new ClientState,
 * which this wrapper installs. `TsMember.state` can be saved and restored to
 * discard an operation (e.g. a commit the other side rejected).
 *
 * Known divergences of ts-mls 2.0.0-rc.10 (details and pins in ts-mls.test.ts):
 * no UpdatePath for a single Update/Remove (D1); path secrets encrypted to
 * pre-Update keys (D2); no Update proposals (D3); external_senders not a vector
 * (D4); external_pub without length prefix (D5); compressed P-256 keys from its
 * keygen (D6, avoided here by default); a removed member cannot process its
 * removal commit when it has a path (D7).
 */
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPub,
  createGroupInfoWithExternalPubAndRatchetTree,
  createProposal,
  decode,
  defaultCryptoProvider,
  defaultCredentialTypes,
  defaultProposalTypes,
  encode,
  generateKeyPackageWithKey,
  getCiphersuiteImpl,
  joinGroup,
  joinGroupExternal,
  keyPackageDecoder,
  mlsExporter,
  mlsMessageDecoder,
  mlsMessageEncoder,
  processMessage,
  proposeAddExternal,
  protocolVersions,
  unsafeTestingAuthenticationService,
  wireformats,
  type CiphersuiteImpl,
  type CiphersuiteName,
  type CryptoProvider,
  type ClientState,
  type Credential,
  type GroupContextExtension,
  type KeyPackage,
  type MlsContext,
  type MlsMessage,
  type PrivateKeyPackage,
  type Proposal,
} from "ts-mls";
// The ratchet tree codec is not re-exported by the package index (its
// "exports" map only has "."), yet joinGroup/joinGroupExternal take a decoded
// RatchetTree: import the module by file path to carry trees as bytes.
import { ratchetTreeDecoder, ratchetTreeEncoder } from "../../node_modules/ts-mls/dist/src/ratchetTree.js";
// For suite 3 without the optional peer dependency @hpke/chacha20poly1305 (see tsCryptoProvider).
import { makeGenericHpke } from "../../node_modules/ts-mls/dist/src/crypto/implementation/hpke.js";
import { AeadId, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, type AeadEncryptionContext, type AeadInterface } from "@hpke/core";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";

/** Cipher suites this adapter instantiates (suite 3 through tsCryptoProvider). */
export const TS_SUITE_NAMES: Readonly<Record<number, CiphersuiteName>> = {
  1: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
  2: "MLS_128_DHKEMP256_AES128GCM_SHA256_P256",
  3: "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519",
};

function bytesOf(b: ArrayBufferLike | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
}

function arrayBufferOf(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer as ArrayBuffer;
}

/**
 * ChaCha20-Poly1305 for @hpke/core, on @noble/ciphers: the role of ts-mls's
 * optional peer dependency @hpke/chacha20poly1305 (not installed here; it is a
 * thin wrapper of the same noble primitive). Only the AEAD primitive is
 * supplied: HPKE, the key schedule and everything MLS stay ts-mls's.
 */
class NobleChaCha20Poly1305 implements AeadInterface {
  readonly id = AeadId.Chacha20Poly1305;
  readonly keySize = 32;
  readonly nonceSize = 12;
  readonly tagSize = 16;
  createEncryptionContext(key: ArrayBufferLike | ArrayBufferView): AeadEncryptionContext {
    const k = bytesOf(key).slice();
    return {
      seal: async (iv, data, aad) => arrayBufferOf(chacha20poly1305(k, bytesOf(iv), bytesOf(aad)).encrypt(bytesOf(data))),
      open: async (iv, data, aad) => arrayBufferOf(chacha20poly1305(k, bytesOf(iv), bytesOf(aad)).decrypt(bytesOf(data))),
    };
  }
}

/** ts-mls's default provider, plus suite 3 assembled from suite 1 (same KEM, KDF, hash, signature) and ChaCha20-Poly1305. */
export const tsCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(id: number): Promise<CiphersuiteImpl> {
    if (id !== 3) return defaultCryptoProvider.getCiphersuiteImpl(id);
    const base = await defaultCryptoProvider.getCiphersuiteImpl(1);
    const hpkeSuite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new NobleChaCha20Poly1305() });
    const aead = {
      encrypt: async (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array) => chacha20poly1305(key, nonce, aad).encrypt(pt),
      decrypt: async (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ct: Uint8Array) => chacha20poly1305(key, nonce, aad).decrypt(ct),
    };
    const hpke = await makeGenericHpke({ kem: "DHKEM-X25519-HKDF-SHA256", kdf: "HKDF-SHA256", aead: "CHACHA20POLY1305" }, aead, hpkeSuite);
    return { ...base, hpke, id: 3 };
  },
};

/** ts-mls's implementation of suite `id` (default provider: WebCrypto + @hpke/core; or e.g. nobleCryptoProvider). */
export async function tsSuite(id: number, provider: CryptoProvider = tsCryptoProvider): Promise<CiphersuiteImpl> {
  const name = TS_SUITE_NAMES[id];
  if (name === undefined) throw new Error(`suite ${id} not mapped`);
  return getCiphersuiteImpl(name, provider);
}

/**
 * Signature keys as RFC 9420 §5.1.1 encodes them: raw 32-byte private keys,
 * and for ECDSA an UNCOMPRESSED point as public key. ts-mls's own keygen gives
 * a 33-byte compressed P-256 public key (nonconformant: other implementations
 * cannot verify its signatures) and, for Ed25519 under WebCrypto, a PKCS#8
 * private key. ts-mls signs and verifies fine with these keys.
 */
export function rfcSignatureKeyPair(suiteId: number): { signKey: Uint8Array; publicKey: Uint8Array } {
  if (suiteId === 1 || suiteId === 3) {
    const signKey = ed25519.utils.randomSecretKey();
    return { signKey, publicKey: ed25519.getPublicKey(signKey) };
  }
  if (suiteId === 2) {
    const signKey = p256.utils.randomSecretKey();
    return { signKey, publicKey: p256.getPublicKey(signKey, false) };
  }
  throw new Error(`no key generation for suite ${suiteId}`);
}

export function tsContext(cs: CiphersuiteImpl): MlsContext {
  return { cipherSuite: cs, authService: unsafeTestingAuthenticationService };
}

export function basicTsCredential(name: string): Credential {
  return { credentialType: defaultCredentialTypes.basic, identity: new TextEncoder().encode(name) };
}

export function encodeTsMessage(m: MlsMessage): Uint8Array {
  return encode(mlsMessageEncoder, m);
}

export function decodeTsMessage(bytes: Uint8Array): MlsMessage {
  const m = decode(mlsMessageDecoder, bytes);
  if (m === undefined) throw new Error("ts-mls could not decode the MLSMessage");
  return m;
}

/** What a processed message turned out to be, in ts-mls terms. */
export type TsProcessed = { kind: "application"; data: Uint8Array } | { kind: "handshake"; epoch: bigint };

/** A ts-mls client identity: a signature key pair and a basic credential. */
export class TsClient {
  private constructor(
    readonly cs: CiphersuiteImpl,
    readonly ctx: MlsContext,
    readonly credential: Credential,
    readonly signatureKeyPair: { signKey: Uint8Array; publicKey: Uint8Array },
  ) {}

  /**
   * A client of suite `suiteId`. Signature keys: `"rfc"` (default) per
   * rfcSignatureKeyPair; `"ts-mls"` from ts-mls's own `cs.signature.keygen()`.
   */
  static async create(suiteId: number, name: string, o: { keys?: "rfc" | "ts-mls"; provider?: CryptoProvider } = {}): Promise<TsClient> {
    const cs = await tsSuite(suiteId, o.provider);
    const keys = (o.keys ?? "rfc") === "rfc" ? rfcSignatureKeyPair(suiteId) : await cs.signature.keygen();
    return new TsClient(cs, tsContext(cs), basicTsCredential(name), keys);
  }

  /** A fresh KeyPackage (object and private part) with this client's signature key. */
  async newKeyPackage(): Promise<{ publicPackage: KeyPackage; privatePackage: PrivateKeyPackage }> {
    return generateKeyPackageWithKey({ credential: this.credential, signatureKeyPair: this.signatureKeyPair, cipherSuite: this.cs });
  }

  /** A fresh KeyPackage as MLSMessage bytes (mls_key_package), and the private part to join with. */
  async keyPackage(): Promise<{ bytes: Uint8Array; publicPackage: KeyPackage; privatePackage: PrivateKeyPackage }> {
    const kp = await this.newKeyPackage();
    const bytes = encodeTsMessage({ wireformat: wireformats.mls_key_package, version: protocolVersions.mls10, keyPackage: kp.publicPackage });
    return { bytes, ...kp };
  }

  /** Creates a one-member group (epoch 0). */
  async createGroup(groupId: Uint8Array, extensions: GroupContextExtension[] = []): Promise<TsMember> {
    const kp = await this.newKeyPackage();
    const state = await createGroup({
      context: this.ctx,
      groupId,
      keyPackage: kp.publicPackage,
      privateKeyPackage: kp.privatePackage,
      extensions,
    });
    return new TsMember(this, state);
  }

  /** Joins from Welcome bytes; `ratchetTree` (encoded tree) is needed when the Welcome's GroupInfo lacks the extension. */
  async joinFromWelcome(
    welcomeBytes: Uint8Array,
    kp: { publicPackage: KeyPackage; privatePackage: PrivateKeyPackage },
    ratchetTreeBytes?: Uint8Array,
  ): Promise<TsMember> {
    const ratchetTree = ratchetTreeBytes && decodeTsRatchetTree(ratchetTreeBytes);
    const m = decodeTsMessage(welcomeBytes);
    if (m.wireformat !== wireformats.mls_welcome) throw new Error(`expected a Welcome, got wireformat ${m.wireformat}`);
    const state = await joinGroup({
      context: this.ctx,
      welcome: m.welcome,
      keyPackage: kp.publicPackage,
      privateKeys: kp.privatePackage,
      ...(ratchetTree ? { ratchetTree } : {}),
    });
    return new TsMember(this, state);
  }

  /**
   * An external Add proposal of this client itself (sender new_member_proposal,
   * §12.1.8), for the group described by GroupInfo bytes. Join with the same
   * `kp` once a member committed it.
   */
  async proposeAddExternal(groupInfoBytes: Uint8Array, kp: { publicPackage: KeyPackage; privatePackage: PrivateKeyPackage }): Promise<Uint8Array> {
    const m = decodeTsMessage(groupInfoBytes);
    if (m.wireformat !== wireformats.mls_group_info) throw new Error(`expected a GroupInfo, got wireformat ${m.wireformat}`);
    return encodeTsMessage(await proposeAddExternal(m.groupInfo, kp.publicPackage, kp.privatePackage, this.cs));
  }

  /**
   * Joins by external commit (§12.4.3.2) from GroupInfo bytes (which must carry
   * external_pub — in ts-mls's bare-key form, D5 — and the ratchet_tree
   * extension unless `ratchetTreeBytes` is given).
   * Returns the member and the commit bytes to send to the group.
   */
  async joinExternal(groupInfoBytes: Uint8Array, ratchetTreeBytes?: Uint8Array): Promise<{ member: TsMember; commit: Uint8Array }> {
    const tree = ratchetTreeBytes && decodeTsRatchetTree(ratchetTreeBytes);
    const m = decodeTsMessage(groupInfoBytes);
    if (m.wireformat !== wireformats.mls_group_info) throw new Error(`expected a GroupInfo, got wireformat ${m.wireformat}`);
    const kp = await this.newKeyPackage();
    const { publicMessage, newState } = await joinGroupExternal({
      context: this.ctx,
      groupInfo: m.groupInfo,
      keyPackage: kp.publicPackage,
      privateKeys: kp.privatePackage,
      resync: false,
      ...(tree ? { tree } : {}),
    });
    const commit = encodeTsMessage({ wireformat: wireformats.mls_public_message, version: protocolVersions.mls10, publicMessage });
    return { member: new TsMember(this, newState), commit };
  }
}

export interface TsCommitOptions {
  /** KeyPackages to add (MLSMessage mls_key_package bytes). */
  readonly add?: readonly Uint8Array[];
  /** Leaf indices to remove. */
  readonly remove?: readonly number[];
  /** Send as PublicMessage (ts-mls default is PrivateMessage). */
  readonly publicMessage?: boolean;
  /** Put the ratchet_tree extension in the Welcome's GroupInfo (ts-mls default: no). */
  readonly ratchetTreeExtension?: boolean;
}

/** A ts-mls group member. */
export class TsMember {
  constructor(
    readonly client: TsClient,
    public state: ClientState,
  ) {}

  private get ctx(): MlsContext {
    return this.client.ctx;
  }
  get epoch(): bigint {
    return this.state.groupContext.epoch;
  }
  get leafIndex(): number {
    return this.state.privatePath.leafIndex;
  }
  /** §8.7 epoch_authenticator. */
  get epochAuthenticator(): Uint8Array {
    return this.state.keySchedule.epochAuthenticator;
  }
  /** Number of non-blank leaves. */
  get memberCount(): number {
    return this.state.ratchetTree.filter((n, i) => i % 2 === 0 && n !== undefined).length;
  }
  /** The public ratchet tree, encoded as in the ratchet_tree extension (§12.4.3.3). */
  ratchetTreeBytes(): Uint8Array {
    return encode(ratchetTreeEncoder, this.state.ratchetTree);
  }

  /** §8.5 MLS-Exporter. */
  exportSecret(label: string, context: Uint8Array, length: number): Promise<Uint8Array> {
    return mlsExporter(this.state.keySchedule.exporterSecret, label, context, length, this.client.cs);
  }

  /** A signed GroupInfo with external_pub (bare key, D5) and by default the ratchet tree, as MLSMessage bytes. */
  async groupInfo(o: { ratchetTree?: boolean } = {}): Promise<Uint8Array> {
    const gi =
      (o.ratchetTree ?? true)
        ? await createGroupInfoWithExternalPubAndRatchetTree(this.state, [], this.client.cs)
        : await createGroupInfoWithExternalPub(this.state, [], this.client.cs);
    return encodeTsMessage({ wireformat: wireformats.mls_group_info, version: protocolVersions.mls10, groupInfo: gi });
  }

  /**
   * Creates and merges a commit; pending (received) proposals are always
   * included by reference. ts-mls adds an UpdatePath only when it thinks one
   * is required (D1): an empty commit is the way to get a full-path update.
   */
  async commit(o: TsCommitOptions = {}): Promise<{ commit: Uint8Array; welcome?: Uint8Array }> {
    const extraProposals: Proposal[] = [];
    for (const bytes of o.add ?? []) {
      extraProposals.push({ proposalType: defaultProposalTypes.add, add: { keyPackage: keyPackageOf(bytes) } });
    }
    for (const removed of o.remove ?? []) {
      extraProposals.push({ proposalType: defaultProposalTypes.remove, remove: { removed } });
    }
    const r = await createCommit({
      context: this.ctx,
      state: this.state,
      extraProposals,
      wireAsPublicMessage: o.publicMessage ?? false,
      ratchetTreeExtension: o.ratchetTreeExtension ?? false,
    });
    this.state = r.newState;
    return { commit: encodeTsMessage(r.commit), ...(r.welcome ? { welcome: encodeTsMessage(r.welcome) } : {}) };
  }

  /** A Remove proposal (ts-mls has no API to build an Update proposal's LeafNode). */
  async proposeRemove(leafIndex: number, o: { publicMessage?: boolean } = {}): Promise<Uint8Array> {
    return this.propose({ proposalType: defaultProposalTypes.remove, remove: { removed: leafIndex } }, o);
  }

  async proposeAdd(keyPackageBytes: Uint8Array, o: { publicMessage?: boolean } = {}): Promise<Uint8Array> {
    return this.propose({ proposalType: defaultProposalTypes.add, add: { keyPackage: keyPackageOf(keyPackageBytes) } }, o);
  }

  private async propose(proposal: Proposal, o: { publicMessage?: boolean }): Promise<Uint8Array> {
    const r = await createProposal({ context: this.ctx, state: this.state, proposal, wireAsPublicMessage: o.publicMessage ?? false });
    this.state = r.newState;
    return encodeTsMessage(r.message);
  }

  /** Encrypts application data (PrivateMessage bytes). */
  async encrypt(data: Uint8Array): Promise<Uint8Array> {
    const r = await createApplicationMessage({ context: this.ctx, state: this.state, message: data });
    this.state = r.newState;
    return encodeTsMessage(r.message);
  }

  /** Processes a PublicMessage/PrivateMessage (proposal, commit or application data). */
  async process(bytes: Uint8Array): Promise<TsProcessed> {
    const m = decodeTsMessage(bytes);
    if (m.wireformat !== wireformats.mls_public_message && m.wireformat !== wireformats.mls_private_message) {
      throw new Error(`not a framed message: wireformat ${m.wireformat}`);
    }
    const r = await processMessage({ context: this.ctx, state: this.state, message: m });
    this.state = r.newState;
    if (r.kind === "applicationMessage") return { kind: "application", data: r.message };
    return { kind: "handshake", epoch: r.newState.groupContext.epoch };
  }
}

/** A ts-mls KeyPackage from MLSMessage bytes. */
export function keyPackageOf(bytes: Uint8Array): KeyPackage {
  const m = decodeTsMessage(bytes);
  if (m.wireformat !== wireformats.mls_key_package) throw new Error(`expected a KeyPackage, got wireformat ${m.wireformat}`);
  return m.keyPackage;
}

export function decodeTsRatchetTree(bytes: Uint8Array): ClientState["ratchetTree"] {
  const t = decode(ratchetTreeDecoder, bytes);
  if (t === undefined) throw new Error("ts-mls could not decode the ratchet tree");
  return t;
}

/** Decodes a bare KeyPackage encoding (not wrapped in MLSMessage). */
export function decodeTsKeyPackage(bytes: Uint8Array): KeyPackage {
  const kp = decode(keyPackageDecoder, bytes);
  if (kp === undefined) throw new Error("ts-mls could not decode the KeyPackage");
  return kp;
}
