// Sets up one MLS group room of N member devices over the real component, with
// the benchmark's lightweight clients (bench/room/wire.ts) speaking
// urn:xmpp:mls:0 (docs/protocol.md) directly:
//
//  1. every member but the owner publishes a KeyPackage (§6.1.1);
//  2. the owner creates the room (MUC join with <device/>), configures it
//     members-only, creates the MLS group and binds it (§6.2);
//  3. the owner grants all others 'member' in one muc#admin request; the
//     component proposes one Add per device (§6.4), and the owner commits
//     them all by reference, with one Welcome (§6.5);
//  4. every member joins the MUC room with its <device/>; the join push brings
//     its Welcome; members of the decryption sample process it (RFC 9420
//     §12.4.3.1) and keep an MLS group state. The others only count stanzas.

import {
  basicCredential,
  createGroup,
  decode,
  decodeMLSMessage,
  decodeRatchetTree,
  encode,
  encodeMLSMessage,
  externalSendersExtension,
  joinFromWelcome,
  nativeProvider,
  utf8Bytes,
  type CipherSuite,
  type Group,
  type KeyPackage,
  type KeyPackagePrivate,
  type MLSMessage,
} from "../../mls/node.js";
import { applicationIdExtension, credentialValidator, makeKeyPackage, newDeviceId } from "../../client/mls-helpers.js";
import { parseStanza, startTagAttr, type WireClient } from "./wire.js";

const NS_MLS = "urn:xmpp:mls:0";
const NS_MUC = "http://jabber.org/protocol/muc";

export interface MlsMember {
  readonly wire: WireClient;
  readonly nick: string;
  readonly deviceId: string;
  /** The member's MLS state, for the owner and the decryption sample. */
  group: Group | undefined;
}

export interface MlsRoom {
  readonly room: string;
  readonly cs: CipherSuite;
  readonly members: MlsMember[];
  /** members[0]: created the room; sends the benchmark's messages. */
  readonly owner: MlsMember;
  readonly setupMs: number;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const encodeMsg = (m: MLSMessage) => encode(encodeMLSMessage, m, 1024);
const decodeMsg = (bytes: Uint8Array) => decode(decodeMLSMessage, bytes);

/** The serviceinfo form of the component (§5.1). */
async function serviceInfo(wire: WireClient, service: string): Promise<Map<string, string>> {
  const reply = parseStanza(await wire.iq(`<iq type='get' to='${service}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`));
  const fields = new Map<string, string>();
  for (const x of reply.getChild("query")?.getChildren("x", "jabber:x:data") ?? []) {
    for (const f of x.getChildren("field")) {
      const v = f.getChildText("value");
      if (f.attrs["var"] && v !== null) fields.set(f.attrs["var"] as string, v);
    }
  }
  if (!fields.has("external-sender-key")) throw new Error(`${service} has no urn:xmpp:mls:0#serviceinfo form`);
  return fields;
}

/** Joins the MUC room with <device/> and resolves once the join push ended (<caught-up/>). */
async function joinRoom(m: MlsMember, room: string, onWelcome?: (welcome: string, tree: string) => void): Promise<string> {
  const { wire } = m;
  const off = onWelcome
    ? wire.onStanza((raw) => {
        if (!raw.startsWith("<message") || !raw.includes("kind='welcome'") && !raw.includes('kind="welcome"')) return;
        const el = parseStanza(raw);
        const w = el.getChild("mls", NS_MLS);
        const t = el.getChild("ratchet-tree", NS_MLS);
        if (w && t) onWelcome(w.getText(), t.getText());
      })
    : () => undefined;
  const self = wire.next((raw) => raw.startsWith("<presence") && startTagAttr(raw, "from") === `${room}/${m.nick}`, 30_000);
  const caughtUp = wire.next((raw) => raw.startsWith("<message") && raw.includes("<caught-up"), 60_000);
  wire.send(
    `<presence to='${room}/${m.nick}'><x xmlns='${NS_MUC}'/><device xmlns='${NS_MLS}' id='${m.deviceId}'/></presence>`,
  );
  const presence = await self;
  if (startTagAttr(presence, "type") === "error") throw new Error(`${m.nick} could not join ${room}: ${presence}`);
  if (onWelcome || !presence.includes("code='201'")) await caughtUp;
  else caughtUp.catch(() => undefined);
  off();
  return presence;
}

export async function setupMlsRoom(o: {
  clients: readonly WireClient[];
  service: string;
  room: string;
  /** Indices (into clients) of the members that keep an MLS state and decrypt. */
  sample: ReadonlySet<number>;
  log: (line: string) => void;
}): Promise<MlsRoom> {
  const t0 = performance.now();
  const { room, service } = o;
  const cs = nativeProvider.suite(1);
  const info = await serviceInfo(o.clients[0]!, service);
  if (Number(info.get("cipher-suite")) !== cs.id) throw new Error(`the service uses cipher suite ${info.get("cipher-suite")}`);
  const externalSenderKey = unb64(info.get("external-sender-key")!);
  const lifetime = Number(info.get("max-key-package-lifetime") ?? 7_776_000);

  const members: MlsMember[] = o.clients.map((wire) => ({ wire, nick: wire.options.username, deviceId: newDeviceId(), group: undefined }));
  const owner = members[0]!;
  const keys = members.map(() => cs.signature.generateKeyPair());

  // 1. KeyPackages of everyone but the owner (one each, plus nothing else: the bench needs one Add).
  const kps = new Map<MlsMember, { keyPackage: KeyPackage; priv: KeyPackagePrivate }>();
  await Promise.all(
    members.slice(1).map(async (m, i) => {
      const k = keys[i + 1]!;
      const made = makeKeyPackage({
        cs,
        jid: m.wire.bareJid,
        deviceId: m.deviceId,
        signaturePrivateKey: k.privateKey,
        signaturePublicKey: k.publicKey,
        lastResort: false,
        lifetimeSeconds: lifetime,
      });
      kps.set(m, {
        keyPackage: made.keyPackage,
        priv: { initPrivateKey: made.record.initPrivateKey, encryptionPrivateKey: made.record.encryptionPrivateKey, signaturePrivateKey: k.privateKey },
      });
      await m.wire.iq(
        `<iq type='set' to='${service}'><publish xmlns='${NS_MLS}' device='${m.deviceId}'><key-package>${b64(made.record.keyPackage)}</key-package></publish></iq>`,
      );
    }),
  );
  o.log(`${members.length - 1} KeyPackages published`);

  // 2. Create, configure, bind.
  const created = await joinRoom(owner, room);
  if (!created.includes("code='201'") && !created.includes('code="201"')) throw new Error(`${room} already exists`);
  await owner.wire.iq(
    `<iq type='set' to='${room}'><query xmlns='${NS_MUC}#owner'><x xmlns='jabber:x:data' type='submit'>` +
      `<field var='FORM_TYPE' type='hidden'><value>${NS_MUC}#roomconfig</value></field>` +
      `<field var='muc#roomconfig_membersonly'><value>1</value></field>` +
      `<field var='muc#roomconfig_persistentroom'><value>1</value></field>` +
      `<field var='muc#roomconfig_publicroom'><value>0</value></field>` +
      `<field var='muc#roomconfig_whois'><value>anyone</value></field>` +
      `</x></query></iq>`,
  );
  const ownerKey = keys[0]!;
  const group = createGroup({
    cs,
    credential: basicCredential(utf8Bytes(owner.wire.bareJid)),
    signaturePrivateKey: ownerKey.privateKey,
    signaturePublicKey: ownerKey.publicKey,
    leafExtensions: [applicationIdExtension(owner.deviceId)],
    extensions: [externalSendersExtension([{ signatureKey: externalSenderKey, credential: basicCredential(utf8Bytes(service)) }])],
    options: { handshakeWireFormat: "public", ratchetTreeInWelcome: false, maxPastEpochs: 2, credentialValidator },
  });
  owner.group = group;
  await owner.wire.iq(
    `<iq type='set' to='${room}'><bind xmlns='${NS_MLS}'><group-info>${b64(encodeMsg(group.groupInfo({ ratchetTree: true, externalPub: true })))}</group-info></bind></iq>`,
  );
  o.log(`${room} created and bound (epoch 0)`);

  // 3. Everyone else becomes a member: one Add proposal per device, one commit.
  const want = members.length - 1;
  let proposals = 0;
  let allProposed!: () => void;
  const proposed = new Promise<void>((resolve) => (allProposed = resolve));
  const offProposals = owner.wire.onStanza((raw) => {
    if (!raw.startsWith("<message") || !(raw.includes("kind='proposal'") || raw.includes('kind="proposal"'))) return;
    const text = parseStanza(raw).getChild("mls", NS_MLS)?.getText();
    if (text === undefined) return;
    group.process(decodeMsg(unb64(text)));
    if (++proposals === want) allProposed();
  });
  const items = members
    .slice(1)
    .map((m) => `<item affiliation='member' jid='${m.wire.bareJid}'/>`)
    .join("");
  await owner.wire.iq(`<iq type='set' to='${room}'><query xmlns='${NS_MUC}#admin'>${items}</query></iq>`);
  await Promise.race([
    proposed,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${proposals}/${want} Add proposals within 60 s`)), 60_000)),
  ]);
  offProposals();
  const commit = group.commit({ groupInfoRatchetTree: false });
  const accepted = await owner.wire.iq(
    `<iq type='set' to='${room}'><commit xmlns='${NS_MLS}'>` +
      `<commit-message>${b64(encodeMsg(commit.commit))}</commit-message>` +
      (commit.welcome ? `<welcome>${b64(encodeMsg(commit.welcome))}</welcome>` : "") +
      `<group-info>${b64(encodeMsg(commit.groupInfo))}</group-info></commit></iq>`,
    60_000,
  );
  if (!accepted.includes("<accepted")) throw new Error(`commit not accepted: ${accepted}`);
  group.mergePendingCommit();
  o.log(`${want} Adds committed in one commit: epoch ${group.epoch}, ${group.members().length} leaves`);

  // 4. Everyone joins the MUC room; the sample opens its Welcome.
  await Promise.all(
    members.slice(1).map(async (m, i) => {
      const inSample = o.sample.has(i + 1);
      await joinRoom(
        m,
        room,
        inSample
          ? (welcome, tree) => {
              const kp = kps.get(m)!;
              m.group = joinFromWelcome({
                cs,
                welcome: decodeMsg(unb64(welcome)),
                keyPackage: kp.keyPackage,
                keyPackagePrivate: kp.priv,
                ratchetTree: decode(decodeRatchetTree, unb64(tree)),
                options: { handshakeWireFormat: "public", ratchetTreeInWelcome: false, maxPastEpochs: 2, credentialValidator },
              });
            }
          : undefined,
      );
      if (inSample && m.group === undefined) throw new Error(`${m.nick} got no Welcome in its join push`);
    }),
  );
  o.log(`${members.length} devices joined (${o.sample.size} of them keep an MLS state and decrypt)`);
  return { room, cs, members, owner, setupMs: performance.now() - t0 };
}

/** The <mls/> payload of a fanned-out application message, as raw base64. */
export function mlsPayloadOf(raw: string): string | undefined {
  const i = raw.indexOf("<mls ");
  if (i < 0) return undefined;
  const open = raw.indexOf(">", i);
  const close = raw.indexOf("</mls>", open);
  return open < 0 || close < 0 ? undefined : raw.slice(open + 1, close);
}

/** Decrypts a fanned-out application message with a member's group state. */
export function decryptPayload(group: Group, payloadB64: string): Uint8Array {
  const r = group.process(decodeMsg(unb64(payloadB64)));
  if (r.kind !== "application") throw new Error(`expected an application message, got ${r.kind}`);
  return r.data;
}

/** One application message of the owner, ready to send as a groupchat stanza. */
export function encryptForRoom(group: Group, text: string): string {
  return b64(encodeMsg(group.encrypt(utf8Bytes(text))));
}
