// The memory part of the room benchmark: many idle group rooms in the
// component's store, then the component's RSS after a GC, idle (rooms load
// lazily: none is in memory) and after each room was touched once.
//
// The rooms are written straight into the SQLite store through its API, as
// the component itself would have left them after "owner creates the room,
// invites M-1 users, commits their Adds": the MUC room (members-only,
// persistent) with its affiliations, the registered devices, the bound MLS
// group at epoch 1 (a real PublicGroup of M leaves, built from a real commit
// and validated like a bind), its two epochs, the commit's log entry (with its
// Welcome) and each device's delivery span. Valid MLS, made cheaply: one
// KeyPackage per user and worker thread, reused in each room of that user (the
// DS never sees a KeyPackage here, and memory per room does not depend on it).

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

import { newDeviceId } from "../../client/mls-helpers.js";
import { openSqliteStore, type RoomConfig, type StoreTx } from "../../mapping/store/index.js";
import { nativeProvider } from "../../mls/node.js";
import type { BuiltRoom, WorkerInput, WorkerUser } from "./memory-worker.js";
import { startTagAttr, type WireClient } from "./wire.js";

const CONFIG: RoomConfig = { description: "", changeSubject: false, publicRoom: false, whois: "anyone" };
const DS_KEY = "ds-signature-key";

export interface PopulateResult {
  readonly rooms: number;
  readonly membersPerRoom: number;
  readonly users: number;
  /** Wall time of the whole population (MLS groups built in worker threads while the store is written). */
  readonly ms: number;
  /** Owner's username of room r (the owner can disco the room). */
  readonly ownerOf: (r: number) => string;
  readonly roomJid: (r: number) => string;
}

/**
 * Writes `rooms` bound group rooms of `membersPerRoom` members into the store
 * at `storePath` (created if needed). Owners are `owners` (usernames that
 * exist on the XMPP server); the other members come from a pool of synthetic
 * users (about `membersPerRoom - 1` rooms each).
 */
export async function populateRooms(o: {
  storePath: string;
  domain: string;
  userDomain: string;
  rooms: number;
  membersPerRoom: number;
  owners: readonly string[];
  log: (line: string) => void;
}): Promise<PopulateResult> {
  const t0 = performance.now();
  const cs = nativeProvider.suite(1);
  const now = Date.now();
  const poolSize = Math.max(o.membersPerRoom, o.rooms);
  const store = await openSqliteStore(o.storePath);
  const dsPriv = cs.signature.generateKeyPair().privateKey;
  await store.setMeta(`${DS_KEY}:${cs.id}`, dsPriv);

  const mkUser = (local: string): WorkerUser => {
    const k = cs.signature.generateKeyPair();
    return { jid: `${local}@${o.userDomain}`, deviceId: newDeviceId(), signaturePrivateKey: k.privateKey, signaturePublicKey: k.publicKey };
  };
  const owners = o.owners.map(mkUser);
  const pool: WorkerUser[] = [];
  for (let i = 0; i < poolSize; i++) pool.push(mkUser(`p${String(i).padStart(5, "0")}`));
  const roomJid = (r: number) => `idle${String(r).padStart(5, "0")}@${o.domain}`;

  // Devices first (one per user).
  await store.transaction(async (tx) => {
    for (const u of [...owners, ...pool]) {
      await tx.saveDevice({ bareJid: u.jid, deviceId: u.deviceId, retired: false, registeredAt: now, lastSeen: now });
    }
  });

  const writeRoom = async (tx: StoreTx, b: BuiltRoom) => {
    const room = roomJid(b.r);
    const owner = owners[b.owner]!;
    const members = b.members.map((i) => pool[i]!);
    await tx.createRoom({ jid: room, kind: "group", persistent: true, name: "", config: CONFIG, createdAt: now }, { bareJid: owner.jid });
    await tx.setAffiliations(room, members.map((m) => ({ bareJid: m.jid, affiliation: "member" as const, actor: owner.jid })), now);
    await tx.createGroup(
      { room, groupId: b.groupId, cipherSuite: cs.id, epoch: 1n, epochId: b.epochId, state: b.state, groupInfo: b.groupInfo, removalEpoch: 0n, nextSeq: 2n, boundAt: now },
      { room, epochId: b.genesisId, epoch: 0n, createdAt: now },
    );
    await tx.addEpoch({ room, epochId: b.epochId, epoch: 1n, parentId: b.genesisId, commitSeq: 1n, createdAt: now });
    await tx.appendEntry({
      room,
      seq: 1n,
      kind: "commit",
      epoch: 0n,
      stanzaId: `c-${b.r}`,
      payload: b.commitBytes,
      senderJid: owner.jid,
      senderDevice: owner.deviceId,
      welcome: b.welcome,
      ratchetTree: b.tree,
      createdAt: now,
    });
    await tx.openSpan({ room, bareJid: owner.jid, deviceId: owner.deviceId, fromSeq: 1n, viaWelcome: false });
    for (const m of members) await tx.openSpan({ room, bareJid: m.jid, deviceId: m.deviceId, fromSeq: 1n, viaWelcome: true });
  };

  // Workers build the groups; this thread writes each batch in one transaction, a few rooms at a time
  // (statements of one connection are queued by sqlite3, so several in flight keep it busy).
  const workers = Math.max(1, Math.min(availableParallelism(), 4));
  let written = 0;
  let writing = Promise.resolve();
  const writeBatch = (batch: BuiltRoom[]) => {
    writing = writing.then(() =>
      store.transaction(async (tx) => {
        let next = 0;
        const lane = async () => {
          while (next < batch.length) await writeRoom(tx, batch[next++]!);
        };
        await Promise.all(Array.from({ length: 8 }, lane));
      }),
    ).then(() => {
      const before = written;
      written += batch.length;
      if (Math.floor(written / 2000) > Math.floor(before / 2000)) o.log(`  ${written} rooms written`);
    });
  };
  const dsPublicKey = cs.signature.publicKey(dsPriv);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const input: WorkerInput = {
        domain: o.domain,
        dsPublicKey,
        owners,
        pool,
        membersPerRoom: o.membersPerRoom,
        first: w,
        step: workers,
        rooms: o.rooms,
        batch: 100,
      };
      // The worker runs TypeScript through tsx, registered in the thread first (--import does not reach workers).
      const url = new URL("./memory-worker.ts", import.meta.url).href;
      const boot = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); })`;
      const worker = new Worker(boot, { eval: true, workerData: input });
      return new Promise<void>((resolve, reject) => {
        worker.on("message", (m: BuiltRoom[] | "done") => {
          if (m === "done") {
            void worker.terminate();
            resolve();
          } else writeBatch(m);
        });
        worker.on("error", reject);
        worker.on("exit", (code) => (code === 0 ? resolve() : undefined));
      });
    }),
  );
  await writing;
  await store.close();
  return {
    rooms: o.rooms,
    membersPerRoom: o.membersPerRoom,
    users: owners.length + poolSize,
    ms: performance.now() - t0,
    ownerOf: (r) => o.owners[r % owners.length]!,
    roomJid,
  };
}

/**
 * Touches every room once over XMPP: its owner asks the room for
 * disco#info, which loads the room (XEP-0045 state) and its MLS group
 * (the roominfo form carries the epoch). `window` requests in flight per connection.
 */
export async function touchRooms(
  p: PopulateResult,
  clientOf: (owner: string) => WireClient,
  window = 32,
): Promise<{ ms: number; failures: number }> {
  const t0 = performance.now();
  const byOwner = new Map<string, number[]>();
  for (let r = 0; r < p.rooms; r++) {
    const owner = p.ownerOf(r);
    let list = byOwner.get(owner);
    if (!list) byOwner.set(owner, (list = []));
    list.push(r);
  }
  let failures = 0;
  await Promise.all(
    [...byOwner].map(async ([owner, rooms]) => {
      const wire = clientOf(owner);
      let next = 0;
      const worker = async () => {
        while (next < rooms.length) {
          const r = rooms[next++]!;
          try {
            const reply = await wire.iq(`<iq type='get' to='${p.roomJid(r)}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 60_000);
            if (startTagAttr(reply, "type") !== "result" || !reply.includes("urn:xmpp:mls:0#roominfo")) failures++;
          } catch {
            failures++;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(window, rooms.length) }, worker));
    }),
  );
  return { ms: performance.now() - t0, failures };
}
