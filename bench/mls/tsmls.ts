/**
 * The benchmark's adapter of ts-mls 2.0 (public API only, default crypto
 * provider), for suite 1. Its state is immutable: every operation returns a
 * new ClientState, so "fork" is the identity.
 */
import {
  createApplicationMessage,
  createCommit,
  decode,
  defaultCryptoProvider,
  defaultProposalTypes,
  encode,
  getCiphersuiteImpl,
  joinGroup,
  mlsMessageDecoder,
  mlsMessageEncoder,
  processMessage,
  unsafeTestingAuthenticationService,
  wireformats,
  type ClientState,
  type KeyPackage,
  type MlsContext,
  type MlsMessage,
  type Proposal,
} from "ts-mls";
import type { Impl, MemberInput } from "./scenario.js";

export async function tsContext(): Promise<MlsContext> {
  const cipherSuite = await getCiphersuiteImpl("MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", defaultCryptoProvider);
  return { cipherSuite, authService: unsafeTestingAuthenticationService };
}

function msg(b: Uint8Array): MlsMessage {
  const m = decode(mlsMessageDecoder, b);
  if (m === undefined) throw new Error("ts-mls could not decode an MLSMessage");
  return m;
}

function keyPackageOf(b: Uint8Array): KeyPackage {
  const m = msg(b);
  if (m.wireformat !== wireformats.mls_key_package) throw new Error("not a KeyPackage");
  return m.keyPackage;
}

export function tsImpl(context: MlsContext): Impl<ClientState> {
  return {
    name: "ts-mls",
    async join(welcome: Uint8Array, m: MemberInput) {
      const w = msg(welcome);
      if (w.wireformat !== wireformats.mls_welcome) throw new Error("not a Welcome");
      return joinGroup({
        context,
        welcome: w.welcome,
        keyPackage: keyPackageOf(m.kpBytes),
        privateKeys: {
          initPrivateKey: m.initPrivateKey,
          hpkePrivateKey: m.encryptionPrivateKey,
          signaturePrivateKey: m.signaturePrivateKey,
        },
      });
    },
    async commit(state, o) {
      const extraProposals: Proposal[] = [];
      if (o.add) extraProposals.push({ proposalType: defaultProposalTypes.add, add: { keyPackage: keyPackageOf(o.add) } });
      if (o.remove !== undefined) extraProposals.push({ proposalType: defaultProposalTypes.remove, remove: { removed: o.remove } });
      // No proposal: ts-mls commits with a path (an "empty" commit).
      const r = await createCommit({ context, state, extraProposals, wireAsPublicMessage: true, ratchetTreeExtension: true });
      return {
        commit: encode(mlsMessageEncoder, r.commit),
        welcome: r.welcome && encode(mlsMessageEncoder, r.welcome),
        next: async () => r.newState,
      };
    },
    discard() {},
    async process(state, m) {
      const message = msg(m);
      if (message.wireformat !== wireformats.mls_public_message && message.wireformat !== wireformats.mls_private_message) {
        throw new Error("not a framed message");
      }
      return (await processMessage({ context, state, message })).newState;
    },
    async fork(state) {
      return state;
    },
    async protect(state, data) {
      const r = await createApplicationMessage({ context, state, message: data });
      return { message: encode(mlsMessageEncoder, r.message), next: r.newState };
    },
    epochAuthenticator(state) {
      return state.keySchedule.epochAuthenticator;
    },
  };
}
