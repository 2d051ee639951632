// Worker thread of bench/room/memory.ts: builds the MLS part of idle rooms
// (a real group of M leaves at epoch 1, and what the DS stores of it). The
// main thread writes them into the store while the workers build more.

import { parentPort, workerData } from "node:worker_threads";

import {
  basicCredential,
  createGroup,
  createKeyPackage,
  defaultCapabilities,
  encode,
  encodeMLSMessage,
  encodeRatchetTree,
  externalSendersExtension,
  nativeProvider,
  PublicGroup,
  serializePublicGroup,
  utf8Bytes,
  type KeyPackage,
  type MLSMessage,
} from "../../mls/node.js";
import { applicationIdExtension, credentialValidator } from "../../client/mls-helpers.js";

export interface WorkerUser {
  jid: string;
  deviceId: string;
  signaturePrivateKey: Uint8Array;
  signaturePublicKey: Uint8Array;
}

export interface WorkerInput {
  domain: string;
  dsPublicKey: Uint8Array;
  owners: WorkerUser[];
  pool: WorkerUser[];
  membersPerRoom: number;
  /** Rooms this worker builds: r = first, first + step, ... < rooms. */
  first: number;
  step: number;
  rooms: number;
  batch: number;
}

/** What the DS keeps of one room (see memory.ts). */
export interface BuiltRoom {
  r: number;
  owner: number;
  members: number[];
  groupId: Uint8Array;
  state: Uint8Array;
  groupInfo: Uint8Array;
  genesisId: Uint8Array;
  epochId: Uint8Array;
  commitBytes: Uint8Array;
  welcome: Uint8Array;
  tree: Uint8Array;
}

export function ownerOfRoom(r: number, owners: number): number {
  return r % owners;
}

export function membersOfRoom(r: number, membersPerRoom: number, poolSize: number): number[] {
  const out: number[] = [];
  for (let j = 1; j < membersPerRoom; j++) out.push((r * (membersPerRoom - 1) + j - 1) % poolSize);
  return out;
}

function build(input: WorkerInput): void {
  const cs = nativeProvider.suite(1);
  const nowS = BigInt(Math.floor(Date.now() / 1000));
  const lifetime = { notBefore: nowS - 60n, notAfter: nowS + 90n * 86400n };
  const extSenders = externalSendersExtension([{ signatureKey: input.dsPublicKey, credential: basicCredential(utf8Bytes(input.domain)) }]);
  const kps = new Map<number, KeyPackage>();
  const kpOf = (i: number): KeyPackage => {
    let kp = kps.get(i);
    if (!kp) {
      const u = input.pool[i]!;
      kp = createKeyPackage({
        cs,
        credential: basicCredential(utf8Bytes(u.jid)),
        signaturePrivateKey: u.signaturePrivateKey,
        signaturePublicKey: u.signaturePublicKey,
        capabilities: defaultCapabilities([cs.id]),
        lifetime,
        leafExtensions: [applicationIdExtension(u.deviceId)],
      }).keyPackage;
      kps.set(i, kp);
    }
    return kp;
  };
  const encodeMsg = (m: MLSMessage) => encode(encodeMLSMessage, m, 1024);
  let batch: BuiltRoom[] = [];
  for (let r = input.first; r < input.rooms; r += input.step) {
    const ownerIndex = ownerOfRoom(r, input.owners.length);
    const owner = input.owners[ownerIndex]!;
    const members = membersOfRoom(r, input.membersPerRoom, input.pool.length);
    const group = createGroup({
      cs,
      credential: basicCredential(utf8Bytes(owner.jid)),
      signaturePrivateKey: owner.signaturePrivateKey,
      signaturePublicKey: owner.signaturePublicKey,
      leafExtensions: [applicationIdExtension(owner.deviceId)],
      extensions: [extSenders],
      options: { handshakeWireFormat: "public", ratchetTreeInWelcome: false, credentialValidator },
    });
    const genesisInfo = encodeMsg(group.groupInfo({ ratchetTree: true, externalPub: true }));
    const commit = group.commit({ add: members.map(kpOf), groupInfoRatchetTree: true });
    group.mergePendingCommit();
    const info = commit.groupInfo;
    if (info.wireFormat !== "mls_group_info") throw new Error("no GroupInfo");
    // What the DS keeps: the public group, validated as the DS validates a GroupInfo (signatures, tree).
    const pub = PublicGroup.fromGroupInfo(cs, info.groupInfo);
    const commitBytes = encodeMsg(commit.commit);
    batch.push({
      r,
      owner: ownerIndex,
      members,
      groupId: group.groupId,
      state: serializePublicGroup(pub),
      groupInfo: encodeMsg(group.groupInfo({ ratchetTree: false, externalPub: true })),
      genesisId: cs.hash.digest(genesisInfo),
      epochId: cs.hash.digest(commitBytes),
      commitBytes,
      welcome: encodeMsg(commit.welcome!),
      tree: encode(encodeRatchetTree, group.ratchetTree()),
    });
    if (batch.length >= input.batch) {
      parentPort!.postMessage(batch);
      batch = [];
    }
  }
  if (batch.length > 0) parentPort!.postMessage(batch);
  parentPort!.postMessage("done");
}

if (parentPort && workerData) build(workerData as WorkerInput);
