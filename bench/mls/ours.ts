/** The benchmark's adapter of this project's library (native provider). */
import { cloneGroup, decode, decodeMLSMessage, encode, encodeMLSMessage, nativeProvider, type CipherSuite, type Group } from "../../mls/node.js";
import { forgetPrivateKeysByContent } from "../../mls/crypto/native/keys.js";
import { joinFromWelcome } from "../../mls/group/join.js";
import type { Impl, MemberInput } from "./scenario.js";

export function oursImpl(cs: CipherSuite = nativeProvider.suite(1)): Impl<Group> {
  const msg = (b: Uint8Array) => decode(decodeMLSMessage, b);
  return {
    name: "ours",
    async join(welcome: Uint8Array, m: MemberInput) {
      const kp = msg(m.kpBytes);
      if (kp.wireFormat !== "mls_key_package") throw new Error("not a KeyPackage");
      return joinFromWelcome({
        cs,
        welcome: msg(welcome),
        keyPackage: kp.keyPackage,
        keyPackagePrivate: {
          initPrivateKey: m.initPrivateKey,
          encryptionPrivateKey: m.encryptionPrivateKey,
          signaturePrivateKey: m.signaturePrivateKey,
        },
      });
    },
    async commit(g, o) {
      let add;
      if (o.add) {
        const kp = msg(o.add);
        if (kp.wireFormat !== "mls_key_package") throw new Error("not a KeyPackage");
        add = [kp.keyPackage];
      }
      const r = g.commit({
        ...(add ? { add } : {}),
        ...(o.remove !== undefined ? { remove: [o.remove] } : {}),
        ...(add === undefined && o.remove === undefined ? { forcePath: true } : {}),
      });
      return {
        commit: encode(encodeMLSMessage, r.commit),
        welcome: r.welcome && encode(encodeMLSMessage, r.welcome),
        async next() {
          g.mergePendingCommit();
          return g;
        },
      };
    },
    discard(g) {
      g.clearPendingCommit();
    },
    async process(g, m) {
      g.process(msg(m));
      return g;
    },
    async fork(g) {
      const c = cloneGroup(nativeProvider, g);
      // A running member has its tree hashes cached (a restored state recomputes them once, lazily),
      // and its private keys imported into the provider (as when they were derived): the floor's
      // HPKE open is with "the recipient key in use already" too.
      const tree = c.state.epoch.tree;
      tree.rootHash();
      tree.firstBlankLeaf();
      tree.lastMemberLeaf();
      for (const kp of c.state.epoch.keys.values()) cs.kem.publicKey(kp.privateKey);
      cs.signature.publicKey(c.state.signaturePrivateKey);
      return c;
    },
    async protect(g, data) {
      return { message: encode(encodeMLSMessage, g.encrypt(data)), next: g };
    },
    epochAuthenticator(g) {
      return g.epochAuthenticator;
    },
    // The same commit processed again, or the same Welcome joined again, would find its keys.
    beforeRun: forgetPrivateKeysByContent,
  };
}
