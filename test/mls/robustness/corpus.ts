/** Real encodings of every message type, from a small live group: the seeds of the mutation tests. */
import {
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
  utf8Bytes,
  type MLSMessage,
} from "../../../mls/node.js";
import { candidate, cs, externalPsk, Rand, World, type Member } from "../group/harness.js";

export interface Corpus {
  readonly mlsMessages: { readonly name: string; readonly bytes: Uint8Array }[];
  readonly commit: Uint8Array;
  readonly proposals: Uint8Array[];
  readonly keyPackage: Uint8Array;
  readonly ratchetTree: Uint8Array;
  readonly groupInfo: Uint8Array;
  readonly welcome: Uint8Array;
  readonly groupSecrets: Uint8Array[];
  readonly leafNodes: Uint8Array[];
  readonly updatePath: Uint8Array;
  readonly groupContext: Uint8Array;
}

const msgBytes = (m: MLSMessage) => encode(encodeMLSMessage, m, 4096);

export function buildCorpus(): Corpus {
  const w = new World(4);
  const [a, b] = w.members as [Member, Member];
  const r = new Rand(5);
  const j = candidate(w.freshName());
  const proposals: MLSMessage[] = [
    b.group.proposeUpdate(),
    b.group.proposeRemove(2),
    b.group.proposeAdd(candidate("x").keyPackage),
    b.group.proposePsk(externalPsk(w, r)),
    b.group.proposeGroupContextExtensions([w.externalSendersExt()]),
    b.group.proposeReInit({ groupId: utf8Bytes("g2"), version: 1, cipherSuite: cs.id, extensions: [] }),
    w.pub.proposeRemove(0, w.ds.privateKey, 3).message,
  ];
  const created = a.group.commit({ add: [j.keyPackage], forcePath: true, includePending: false });
  a.group.clearPendingCommit();
  const app = a.group.encrypt(utf8Bytes("hello, corpus"));
  const gi = a.group.groupInfo();
  const kpMsg: MLSMessage = { version: 1, wireFormat: "mls_key_package", keyPackage: j.keyPackage };
  const pm = created.commit.wireFormat === "mls_public_message" ? created.commit.publicMessage : undefined;
  if (pm === undefined || pm.content.contentType !== "commit") throw new Error("corpus: expected a public commit");
  const commit = pm.content.commit;
  const info = gi.wireFormat === "mls_group_info" ? gi.groupInfo : undefined;
  const welcome = created.welcome?.wireFormat === "mls_welcome" ? created.welcome.welcome : undefined;
  if (!info || !welcome || !commit.path) throw new Error("corpus incomplete");
  return {
    mlsMessages: [
      { name: "commit", bytes: msgBytes(created.commit) },
      { name: "application", bytes: msgBytes(app) },
      { name: "welcome", bytes: msgBytes(created.welcome!) },
      { name: "groupInfo", bytes: msgBytes(gi) },
      { name: "keyPackage", bytes: msgBytes(kpMsg) },
      ...proposals.map((p, i) => ({ name: `proposal${i}`, bytes: msgBytes(p) })),
    ],
    commit: encode(encodeCommit, commit, 4096),
    proposals: proposals.map((p) => {
      if (p.wireFormat !== "mls_public_message" || p.publicMessage.content.contentType !== "proposal") throw new Error("corpus");
      return encode(encodeProposal, p.publicMessage.content.proposal);
    }),
    keyPackage: encode(encodeKeyPackage, j.keyPackage),
    ratchetTree: encode(encodeRatchetTree, a.group.ratchetTree(), 4096),
    groupInfo: encode(encodeGroupInfo, info, 4096),
    welcome: encode(encodeWelcome, welcome, 4096),
    groupSecrets: [
      encode(encodeGroupSecrets, { joinerSecret: r.bytes(32), psks: [] }),
      encode(encodeGroupSecrets, {
        joinerSecret: r.bytes(32),
        pathSecret: r.bytes(32),
        psks: [
          externalPsk(w, r),
          { pskType: "resumption", usage: "branch", pskGroupId: r.bytes(16), pskEpoch: 7n, pskNonce: r.bytes(32) },
        ],
      }),
    ],
    leafNodes: [encode(encodeLeafNode, a.group.ownLeafNode()), encode(encodeLeafNode, j.keyPackage.leafNode), encode(encodeLeafNode, commit.path.leafNode)],
    updatePath: encode(encodeUpdatePath, commit.path, 2048),
    groupContext: encode(encodeGroupContext, a.group.groupContext),
  };
}
