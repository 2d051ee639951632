// A minimal Delivery Service for the client tests, following docs/protocol.md
// closely enough to exercise the client: disco (5.1/5.2), KeyPackage publish
// and count (6.1), MUC join with <device/>, join push and <caught-up/> (6.2,
// 6.3), bind (7.1), affiliations -> DS proposals (6.4, 6.6, 7.4), commits
// validated with the library's PublicGroup (first valid commit of an epoch
// wins, missing proposals, GroupInfo checks, Welcome delivery with the tree),
// application messages with seq / stanza-id and the epoch rules of 7.5,
// catch-up (6.8) and group-info for external joins (6.9); the XEP-0045 subject
// (§8.1, sent at the end of each join) and room destruction (§10.9).
//
// Written for the tests only: one process, no persistence, no rate limits.

import { randomUUID } from "node:crypto";

import { xml, type Element } from "@xmpp/xml";

import {
  bytesEqual,
  decode,
  decodeMLSMessage,
  deserializePublicGroup,
  encode,
  encodeMLSMessage,
  encodeRatchetTree,
  ExtensionType,
  findExtension,
  isMlsError,
  keyPackageRef,
  nativeProvider,
  PublicGroup,
  readExternalSenders,
  serializePublicGroup,
  toHex,
  validateKeyPackage,
  type KeyPackage,
  type LeafNode,
  type MLSMessage,
} from "../../mls/node.js";

/** Where the DS is attached: the in-memory FakeNetwork, or a real XEP-0114 component connection. */
export interface DsLink {
  registerComponent(domain: string, handler: (stanza: Element) => void): void;
  fromComponent(stanza: Element): void;
}

const MLS = "urn:xmpp:mls:0";
const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";
const MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
const MUC_OWNER = "http://jabber.org/protocol/muc#owner";
const DISCO = "http://jabber.org/protocol/disco#info";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const SID = "urn:xmpp:sid:0";

export const cs = nativeProvider.suite(1);

type Affiliation = "owner" | "admin" | "member" | "outcast";
type Kind = "proposal" | "commit" | "application";

interface LogEntry {
  readonly seq: number;
  readonly kind: Kind;
  readonly epoch: number;
  readonly bytes: Uint8Array;
  readonly stanzaId: string;
  readonly idAttr: string;
  readonly originId?: string | undefined;
  readonly senderNick?: string | undefined;
  readonly recipients: ReadonlySet<string>;
  readonly time: Date;
}

interface StoredWelcome {
  readonly seq: number;
  readonly epoch: number;
  readonly bytes: Uint8Array;
  readonly tree: Uint8Array;
  readonly idAttr: string;
}

interface Occupant {
  readonly nick: string;
  readonly bare: string;
  readonly device: string | undefined;
}

interface PendingProposal {
  readonly seq: number;
  readonly type: "add" | "remove";
  readonly deviceKey: string;
  readonly leaf?: number | undefined;
}

interface Room {
  readonly jid: string;
  kind: "group" | "channel";
  owner: string;
  bound: boolean;
  pub: PublicGroup | undefined;
  groupInfo: Uint8Array | undefined;
  readonly affiliations: Map<string, Affiliation>;
  readonly occupants: Map<string, Occupant>;
  readonly log: LogEntry[];
  pending: Map<string, PendingProposal>;
  readonly welcomes: Map<string, StoredWelcome>;
  readonly cursors: Map<string, number>;
  removalEpoch: number;
  subject: string;
  subjectBy: string | undefined;
  subjectAt: Date | undefined;
  /** muc#roomconfig_changesubject: participants may change the subject. */
  changeSubject: boolean;
}

interface StoredKp {
  readonly ref: string;
  readonly kp: KeyPackage;
  readonly lastResort: boolean;
}

interface DeviceState {
  kps: StoredKp[];
  lastResort: StoredKp | undefined;
  /** Full JIDs of its latest publish / count (for the low-water headline). */
  readonly lastJids: Set<string>;
}

const bareOf = (jid: string) => jid.split("/")[0]!;
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);

function leafDevice(leaf: LeafNode): string | undefined {
  if (leaf.credential.type !== "basic") return undefined;
  const ext = findExtension(leaf.extensions, ExtensionType.application_id);
  return ext ? `${utf8(leaf.credential.identity)}/${utf8(ext.extensionData)}` : undefined;
}

class DsError extends Error {
  constructor(
    readonly type: string,
    readonly condition: string,
    readonly mls?: Element,
    text?: string,
  ) {
    super(text ?? condition);
  }
}

const mlsCond = (name: string, attrs: Record<string, string> = {}, ...children: Element[]) => xml(name, { xmlns: MLS, ...attrs }, ...children);

export interface FakeDsOptions {
  domain?: string;
  defaultKind?: "group" | "channel";
  maxCatchUp?: number;
  maxEpochLag?: number;
  lowWater?: number;
}

export class FakeDs {
  readonly domain: string;
  readonly key = cs.signature.generateKeyPair();
  readonly rooms = new Map<string, Room>();
  readonly devices = new Map<string, Map<string, DeviceState>>();
  defaultKind: "group" | "channel";
  readonly maxCatchUp: number;
  readonly maxEpochLag: number;
  readonly lowWater: number;
  /** When set, commit requests wait in `heldCommits` until released. */
  holdCommits = false;
  readonly heldCommits: { from: string; room: string; release: () => void }[] = [];
  readonly stats = { commitsAccepted: 0, commitsRefused: 0, groupInfosWithTree: 0, welcomesWithTreeExtension: 0, published: 0, staleRefusals: 0 };
  /** Every request handled, by element name (for assertions). */
  readonly requests: string[] = [];

  constructor(
    private readonly net: DsLink,
    o: FakeDsOptions = {},
  ) {
    this.domain = o.domain ?? "mls.localhost";
    this.defaultKind = o.defaultKind ?? "group";
    this.maxCatchUp = o.maxCatchUp ?? 500;
    this.maxEpochLag = o.maxEpochLag ?? 2;
    this.lowWater = o.lowWater ?? 10;
    net.registerComponent(this.domain, (s) => {
      try {
        this.handle(s);
      } catch (e) {
        // A bug in the fake DS must fail the test loudly.
        console.error("fake DS crashed on", s.toString(), e);
        throw e;
      }
    });
  }

  // ---------------------------------------------------------------- plumbing

  private out(stanza: Element): void {
    this.net.fromComponent(stanza);
  }

  private result(iq: Element, ...children: Element[]): void {
    this.out(xml("iq", { type: "result", id: iq.attrs["id"], from: iq.attrs["to"], to: iq.attrs["from"] }, ...children));
  }

  private errorReply(s: Element, e: DsError): void {
    const err = xml("error", { type: e.type }, xml(e.condition, { xmlns: STANZAS }));
    if (e.mls) err.append(e.mls);
    const name = s.name;
    const attrs: Record<string, string> = { type: "error", from: s.attrs["to"]!, to: s.attrs["from"]! };
    if (s.attrs["id"]) attrs["id"] = s.attrs["id"];
    this.out(xml(name, attrs, err));
  }

  private handle(s: Element): void {
    const to = s.attrs["to"] ?? "";
    const from = s.attrs["from"] ?? "";
    try {
      if (s.name === "presence") return this.onPresence(s, to, from);
      if (s.name === "iq") return this.onIq(s, to, from);
      if (s.name === "message") return this.onMessage(s, to, from);
    } catch (e) {
      if (e instanceof DsError) {
        if (s.name === "presence" && s.attrs["type"] === "unavailable") return;
        return this.errorReply(s, e);
      }
      throw e;
    }
  }

  private device(bare: string, id: string): DeviceState {
    let m = this.devices.get(bare);
    if (!m) this.devices.set(bare, (m = new Map()));
    let d = m.get(id);
    if (!d) m.set(id, (d = { kps: [], lastResort: undefined, lastJids: new Set() }));
    return d;
  }

  room(jid: string): Room {
    const r = this.rooms.get(jid);
    if (!r) throw new Error(`no room ${jid}`);
    return r;
  }

  private roomOr404(jid: string): Room {
    const r = this.rooms.get(jid);
    if (!r) throw new DsError("cancel", "item-not-found");
    return r;
  }

  // ---------------------------------------------------------------- iq

  private onIq(iq: Element, to: string, from: string): void {
    const type = iq.attrs["type"];
    if (type === "result" || type === "error") return;
    const child = iq.getChildElements()[0];
    if (!child) throw new DsError("modify", "bad-request");
    this.requests.push(child.name);
    if (to === this.domain) {
      if (child.is("query", DISCO)) return this.serviceDisco(iq);
      if (child.is("publish", MLS)) return this.publish(iq, from, child);
      if (child.is("count", MLS)) return this.count(iq, from, child);
      if (child.is("retire", MLS)) return this.retire(iq, from, child);
      throw new DsError("cancel", "service-unavailable");
    }
    const room = this.roomOr404(to);
    if (child.is("query", DISCO)) return this.roomDisco(iq, room);
    if (child.is("query", MUC_OWNER)) return this.configure(iq, room, from, child);
    if (child.is("query", MUC_ADMIN)) return type === "set" ? this.setAffiliation(iq, room, from, child) : this.listAffiliation(iq, room, child);
    if (child.is("bind", MLS)) return this.bind(iq, room, from, child);
    if (child.is("commit", MLS)) return this.commitRequest(iq, room, from, child);
    if (child.is("catch-up", MLS)) return this.catchUp(iq, room, from, child);
    if (child.is("group-info", MLS)) return this.groupInfo(iq, room, from);
    throw new DsError("cancel", "feature-not-implemented");
  }

  private serviceDisco(iq: Element): void {
    const field = (v: string, value: string) => xml("field", { var: v }, xml("value", {}, value));
    this.result(
      iq,
      xml(
        "query",
        { xmlns: DISCO },
        xml("identity", { category: "conference", type: "text", name: "MLS rooms" }),
        xml("feature", { var: MUC }),
        xml("feature", { var: MLS }),
        xml(
          "x",
          { xmlns: "jabber:x:data", type: "result" },
          xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, `${MLS}#serviceinfo`)),
          field("cipher-suite", "1"),
          field("external-sender-key", b64(this.key.publicKey)),
          field("max-key-packages", "100"),
          field("max-key-package-lifetime", "7776000"),
          field("key-package-low-water", String(this.lowWater)),
          field("max-epoch-lag", String(this.maxEpochLag)),
          field("max-catch-up", String(this.maxCatchUp)),
        ),
      ),
    );
  }

  private roomDisco(iq: Element, room: Room): void {
    const from = bareOf(iq.attrs["from"]!);
    if (room.kind === "group" && !this.isAffiliated(room, from)) throw new DsError("cancel", "item-not-found");
    const field = (v: string, value: string) => xml("field", { var: v }, xml("value", {}, value));
    const x = xml(
      "x",
      { xmlns: "jabber:x:data", type: "result" },
      xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, `${MLS}#roominfo`)),
      field("kind", room.kind),
      field("cipher-suite", "1"),
      field("external-sender-key", b64(this.key.publicKey)),
    );
    if (room.pub) {
      x.append(field("group-id", b64(room.pub.groupId)));
      x.append(field("epoch", String(room.pub.epoch)));
    }
    this.result(
      iq,
      xml(
        "query",
        { xmlns: DISCO },
        xml("identity", { category: "conference", type: "text" }),
        xml("feature", { var: MUC }),
        xml("feature", { var: MLS }),
        xml("feature", { var: room.kind === "group" ? "muc_membersonly" : "muc_open" }),
        x,
      ),
    );
  }

  private publish(iq: Element, from: string, el: Element): void {
    const bare = bareOf(from);
    const deviceId = el.attrs["device"]!;
    const now = BigInt(Math.floor(Date.now() / 1000));
    const parsed: StoredKp[] = [];
    el.getChildren("key-package").forEach((k, index) => {
      const fail = (reason: string) => {
        throw new DsError("modify", "not-acceptable", mlsCond("invalid-key-package", { index: String(index), reason }));
      };
      let m: MLSMessage;
      try {
        m = decode(decodeMLSMessage, unb64(k.getText()));
      } catch {
        return fail("decode");
      }
      if (m.wireFormat !== "mls_key_package") return fail("decode");
      const kp = m.keyPackage;
      try {
        validateKeyPackage(cs, kp, { now, maxLifetimeSeconds: 7_776_000n });
      } catch {
        return fail("leaf-node");
      }
      const id = leafDevice(kp.leafNode);
      if (kp.leafNode.credential.type !== "basic" || utf8(kp.leafNode.credential.identity) !== bare) return fail("identity");
      if (id !== `${bare}/${deviceId}`) return fail("device");
      const lt = kp.leafNode.leafNodeSource === "key_package" ? kp.leafNode.lifetime : undefined;
      if (!lt || lt.notBefore > now + 300n || lt.notAfter < now + 172800n) return fail("lifetime");
      const lr = k.attrs["last-resort"] === "true";
      parsed.push({ ref: toHex(keyPackageRef(cs, kp)), kp, lastResort: lr });
    });
    if (parsed.filter((p) => p.lastResort).length > 1) {
      throw new DsError("modify", "not-acceptable", mlsCond("invalid-key-package", { index: "0", reason: "last-resort" }));
    }
    const d = this.device(bare, deviceId);
    d.lastJids.add(from);
    if (el.attrs["replace"] === "true") d.kps = [];
    for (const p of parsed) {
      if (p.lastResort) d.lastResort = p;
      else d.kps.push(p);
    }
    this.stats.published += parsed.length;
    this.result(iq, this.countEl(deviceId, d));
    for (const room of this.rooms.values()) if (room.kind === "group" && this.isAffiliated(room, bare)) this.converge(room);
  }

  private countEl(deviceId: string, d: DeviceState | undefined): Element {
    return xml("count", {
      xmlns: MLS,
      device: deviceId,
      available: String(d?.kps.length ?? 0),
      "last-resort": d?.lastResort ? "true" : "false",
    });
  }

  private count(iq: Element, from: string, el: Element): void {
    const d = this.devices.get(bareOf(from))?.get(el.attrs["device"]!);
    d?.lastJids.add(from);
    this.result(iq, this.countEl(el.attrs["device"]!, d));
  }

  readonly retired = new Set<string>();

  private retire(iq: Element, from: string, el: Element): void {
    const bare = bareOf(from);
    const id = el.attrs["device"] ?? "";
    if (!this.devices.get(bare)?.delete(id)) throw new DsError("cancel", "item-not-found", mlsCond("unknown-device"));
    this.retired.add(`${bare}/${id}`);
    this.result(iq);
    for (const room of this.rooms.values()) this.converge(room);
  }

  /** Removes the oldest KeyPackage of a device (or returns its last-resort one). */
  private claim(deviceKey: string): KeyPackage | undefined {
    const [bare, id] = splitKey(deviceKey);
    const d = this.devices.get(bare)?.get(id);
    if (!d) return undefined;
    const kp = d.kps.shift() ?? d.lastResort;
    if (kp && d.kps.length < this.lowWater) {
      // §6.1.3 low-water headline to the device's known resources.
      const to = new Set(d.lastJids);
      for (const room of this.rooms.values()) {
        for (const [full, o] of room.occupants) if (o.bare === bare && o.device === id) to.add(full);
      }
      for (const full of to) this.out(xml("message", { type: "headline", from: this.domain, to: full }, this.countEl(id, d)));
    }
    return kp?.kp;
  }

  private configure(iq: Element, room: Room, from: string, el: Element): void {
    if (room.affiliations.get(bareOf(from)) !== "owner") throw new DsError("auth", "forbidden");
    const destroy = el.getChild("destroy");
    if (destroy) return this.destroy(iq, room, destroy);
    const x = el.getChild("x", "jabber:x:data");
    for (const f of x?.getChildren("field") ?? []) {
      if (f.attrs["var"] === "muc#roomconfig_membersonly") room.kind = f.getChildText("value") === "1" ? "group" : "channel";
      if (f.attrs["var"] === "muc#roomconfig_changesubject") room.changeSubject = f.getChildText("value") === "1";
    }
    this.result(iq);
    if (room.bound) this.converge(room);
  }

  /** XEP-0045 §10.9: every occupant gets an unavailable self-presence with <destroy/>, then the owner the result. */
  private destroy(iq: Element, room: Room, destroy: Element): void {
    this.rooms.delete(room.jid);
    const reason = destroy.getChildText("reason");
    for (const [full, o] of room.occupants) {
      const d = xml("destroy", destroy.attrs["jid"] !== undefined ? { jid: destroy.attrs["jid"] } : {});
      if (reason !== null) d.append(xml("reason", {}, reason));
      this.out(
        xml(
          "presence",
          { type: "unavailable", from: `${room.jid}/${o.nick}`, to: full },
          xml("x", { xmlns: MUC_USER }, xml("item", { affiliation: "none", role: "none" }), xml("status", { code: "110" }), d),
        ),
      );
    }
    this.result(iq);
  }

  /** The room's subject message to `to` (§7.2.15 on join: with a delay when it was set). */
  private subjectStanza(room: Room, to: string): Element {
    const m = xml(
      "message",
      { type: "groupchat", from: room.subjectBy !== undefined ? `${room.jid}/${room.subjectBy}` : room.jid, to, id: randomUUID() },
      xml("subject", {}, room.subject),
    );
    if (room.subjectAt) m.append(xml("delay", { xmlns: "urn:xmpp:delay", from: room.jid, stamp: room.subjectAt.toISOString() }));
    return m;
  }

  /** §8.1: moderators (owners, admins) always; participants when changesubject allows. The reflection gets a new id. */
  private changeSubject(room: Room, from: string, subject: Element): void {
    const occ = room.occupants.get(from);
    if (!occ) throw new DsError("cancel", "not-acceptable");
    const aff = room.affiliations.get(occ.bare);
    if (aff !== "owner" && aff !== "admin" && !room.changeSubject) throw new DsError("auth", "forbidden");
    room.subject = subject.getText();
    room.subjectBy = occ.nick;
    room.subjectAt = new Date();
    const id = randomUUID();
    for (const full of room.occupants.keys()) {
      this.out(xml("message", { type: "groupchat", from: `${room.jid}/${occ.nick}`, to: full, id }, xml("subject", {}, room.subject)));
    }
  }

  private isAffiliated(room: Room, bare: string): boolean {
    const a = room.affiliations.get(bare);
    return a === "owner" || a === "admin" || a === "member";
  }

  private setAffiliation(iq: Element, room: Room, from: string, el: Element): void {
    const me = room.affiliations.get(bareOf(from));
    if (me !== "owner" && me !== "admin") throw new DsError("auth", "forbidden");
    const item = el.getChild("item");
    const jid = item?.attrs["jid"];
    const aff = item?.attrs["affiliation"];
    if (!jid || !aff) throw new DsError("modify", "bad-request");
    if (aff === "none") room.affiliations.delete(jid);
    else room.affiliations.set(jid, aff as Affiliation);
    this.result(iq);
    if (aff === "member" || aff === "admin" || aff === "owner") {
      this.out(xml("message", { from: room.jid, to: jid, id: randomUUID() }, xml("x", { xmlns: MUC_USER }, xml("invite", { from: bareOf(from) }))));
    }
    if ((aff === "none" && room.kind === "group") || aff === "outcast") {
      for (const [full, o] of [...room.occupants]) {
        if (o.bare !== jid) continue;
        room.occupants.delete(full);
        this.out(
          xml(
            "presence",
            { type: "unavailable", from: `${room.jid}/${o.nick}`, to: full },
            xml("x", { xmlns: MUC_USER }, xml("item", { affiliation: aff, role: "none" }), xml("status", { code: aff === "outcast" ? "301" : "321" }), xml("status", { code: "110" })),
          ),
        );
      }
    }
    if (room.bound) this.converge(room);
  }

  private listAffiliation(iq: Element, room: Room, el: Element): void {
    const want = el.getChild("item")?.attrs["affiliation"];
    const items = [...room.affiliations].filter(([, a]) => a === want).map(([jid, a]) => xml("item", { jid, affiliation: a }));
    this.result(iq, xml("query", { xmlns: MUC_ADMIN }, ...items));
  }

  private bind(iq: Element, room: Room, from: string, el: Element): void {
    if (room.bound) throw new DsError("cancel", "conflict", mlsCond("already-bound"));
    const occ = room.occupants.get(from);
    if (room.affiliations.get(bareOf(from)) !== "owner" || !occ?.device) throw new DsError("auth", "forbidden", mlsCond("permission-denied"));
    const gi = decode(decodeMLSMessage, unb64(el.getChildText("group-info") ?? ""));
    if (gi.wireFormat !== "mls_group_info") throw new DsError("modify", "bad-request", mlsCond("wrong-kind"));
    const info = gi.groupInfo;
    if (info.groupContext.epoch !== 0n) throw new DsError("modify", "not-acceptable", mlsCond("invalid-group-info", { reason: "epoch" }));
    if (!findExtension(info.extensions, ExtensionType.ratchet_tree) || !findExtension(info.extensions, ExtensionType.external_pub)) {
      throw new DsError("modify", "not-acceptable", mlsCond("invalid-group-info", { reason: "extensions" }));
    }
    const senders = readExternalSenders(info.groupContext.extensions);
    if (
      senders?.length !== 1 ||
      !bytesEqual(senders[0]!.signatureKey, this.key.publicKey) ||
      senders[0]!.credential.type !== "basic" ||
      utf8(senders[0]!.credential.identity) !== this.domain
    ) {
      throw new DsError("modify", "not-acceptable", mlsCond("invalid-group-info", { reason: "external-senders" }));
    }
    const pub = PublicGroup.fromGroupInfo(cs, gi);
    const leaf0 = pub.member(0);
    if (!leaf0 || leafDevice(leaf0.leafNode) !== `${bareOf(from)}/${occ.device}`) throw new DsError("auth", "forbidden", mlsCond("identity-mismatch"));
    room.pub = pub;
    room.groupInfo = unb64(el.getChildText("group-info")!);
    room.bound = true;
    this.result(iq);
    this.converge(room);
  }

  // ---------------------------------------------------------------- membership (§7.4)

  /** Devices with a leaf: deviceKey -> leaf. */
  private leaves(room: Room): Map<string, number> {
    const m = new Map<string, number>();
    for (const mem of room.pub?.members() ?? []) {
      const k = leafDevice(mem.leafNode);
      if (k) m.set(k, mem.leafIndex);
    }
    return m;
  }

  private desired(room: Room): Set<string> {
    const out = new Set<string>();
    if (room.kind === "group") {
      for (const [bare, a] of room.affiliations) {
        if (a === "outcast") continue;
        for (const id of this.devices.get(bare)?.keys() ?? []) out.add(`${bare}/${id}`);
      }
    } else {
      for (const o of room.occupants.values()) {
        if (o.device && room.affiliations.get(o.bare) !== "outcast") out.add(`${o.bare}/${o.device}`);
      }
    }
    return out;
  }

  private pendingRemoves(room: Room): Set<string> {
    return new Set([...room.pending.values()].filter((p) => p.type === "remove").map((p) => p.deviceKey));
  }

  converge(room: Room): void {
    if (!room.bound || !room.pub) return;
    const leaves = this.leaves(room);
    const desired = this.desired(room);
    const pending = [...room.pending.values()];
    for (const mem of room.pub.members()) {
      const k = leafDevice(mem.leafNode) ?? `?/${mem.leafIndex}`;
      if (desired.has(k)) continue;
      if (pending.some((p) => p.type === "remove" && p.leaf === mem.leafIndex)) continue;
      const { message, ref } = room.pub.proposeRemove(0, this.key.privateKey, mem.leafIndex);
      this.appendProposal(room, message, ref, { type: "remove", deviceKey: k, leaf: mem.leafIndex });
    }
    if (room.kind !== "group") return;
    for (const k of desired) {
      if (leaves.has(k)) continue;
      if (pending.some((p) => p.type === "add" && p.deviceKey === k)) continue;
      const kp = this.claim(k);
      if (!kp) continue;
      const { message, ref } = room.pub.proposeAdd(0, this.key.privateKey, kp);
      this.appendProposal(room, message, ref, { type: "add", deviceKey: k });
    }
  }

  private appendProposal(room: Room, message: MLSMessage, ref: Uint8Array, p: Omit<PendingProposal, "seq">): void {
    const entry = this.append(room, "proposal", Number(room.pub!.epoch), encode(encodeMLSMessage, message), new Set(this.leaves(room).keys()));
    room.pending.set(toHex(ref), { ...p, seq: entry.seq });
    this.fanOut(room, entry);
  }

  private append(room: Room, kind: Kind, epoch: number, bytes: Uint8Array, recipients: Set<string>, extra: Partial<LogEntry> = {}): LogEntry {
    const stanzaId = randomUUID();
    const entry: LogEntry = {
      seq: room.log.length + 1,
      kind,
      epoch,
      bytes,
      stanzaId,
      idAttr: extra.idAttr ?? stanzaId,
      originId: extra.originId,
      senderNick: extra.senderNick,
      recipients,
      time: new Date(),
    };
    room.log.push(entry);
    return entry;
  }

  private entryStanza(room: Room, e: LogEntry, to: string, delayed: boolean): Element {
    const attrs: Record<string, string> = { xmlns: MLS, kind: e.kind, epoch: String(e.epoch), seq: String(e.seq) };
    if (e.senderNick) attrs["sender"] = e.senderNick;
    const m = xml(
      "message",
      { type: "groupchat", from: room.jid, to, id: e.idAttr },
      xml("mls", attrs, b64(e.bytes)),
      xml("stanza-id", { xmlns: SID, by: room.jid, id: e.stanzaId }),
    );
    if (e.originId) m.append(xml("origin-id", { xmlns: SID, id: e.originId }));
    m.append(xml("encryption", { xmlns: "urn:xmpp:eme:0", namespace: MLS, name: "MLS" }));
    if (e.kind === "application") m.append(xml("body", {}, "This message is encrypted with MLS (urn:xmpp:mls:0); your client does not support it."));
    if (delayed) m.append(xml("delay", { xmlns: "urn:xmpp:delay", from: room.jid, stamp: e.time.toISOString() }));
    return m;
  }

  private welcomeStanza(room: Room, w: StoredWelcome, to: string, delayed: boolean): Element {
    const m = xml(
      "message",
      { type: "normal", from: room.jid, to, id: w.idAttr },
      xml("mls", { xmlns: MLS, kind: "welcome", epoch: String(w.epoch), seq: String(w.seq) }, b64(w.bytes)),
      xml("ratchet-tree", { xmlns: MLS }, b64(w.tree)),
    );
    if (delayed) m.append(xml("delay", { xmlns: "urn:xmpp:delay", from: room.jid, stamp: new Date().toISOString() }));
    return m;
  }

  /** Live delivery to the MLS occupants among the entry's recipients. */
  private fanOut(room: Room, e: LogEntry): void {
    for (const [full, o] of room.occupants) {
      if (!o.device) {
        continue;
      }
      const k = `${o.bare}/${o.device}`;
      if (!e.recipients.has(k)) continue;
      room.cursors.set(k, Math.max(room.cursors.get(k) ?? 0, e.seq));
      this.out(this.entryStanza(room, e, full, false));
    }
  }

  /** Sends `to` the stored entries after `after` intended for its device; returns the caught-up values. */
  private push(room: Room, deviceKey: string, to: string, after: number, max: number): { last: number; complete: boolean } {
    const w = room.welcomes.get(deviceKey);
    let budget = max;
    if (w && w.seq > after) {
      this.out(this.welcomeStanza(room, w, to, true));
      budget--;
    }
    const entries = room.log.filter((e) => e.seq > after && e.recipients.has(deviceKey));
    const sent = entries.slice(0, Math.max(0, budget));
    for (const e of sent) this.out(this.entryStanza(room, e, to, true));
    const newest = room.log.length;
    if (sent.length < entries.length) {
      const last = sent.length > 0 ? sent[sent.length - 1]!.seq : after;
      room.cursors.set(deviceKey, Math.max(room.cursors.get(deviceKey) ?? 0, last));
      return { last, complete: false };
    }
    room.cursors.set(deviceKey, Math.max(room.cursors.get(deviceKey) ?? 0, newest));
    return { last: Math.max(after, newest), complete: true };
  }

  // ---------------------------------------------------------------- presence (§6.2, §6.3)

  private onPresence(p: Element, to: string, from: string): void {
    if (p.attrs["type"] === "unavailable") {
      for (const room of this.rooms.values()) {
        const o = room.occupants.get(from);
        if (!o || (bareOf(to) !== room.jid && !p.attrs["x-disconnect"])) continue;
        room.occupants.delete(from);
        if (!p.attrs["x-disconnect"]) {
          this.out(xml("presence", { type: "unavailable", from: `${room.jid}/${o.nick}`, to: from }, xml("x", { xmlns: MUC_USER }, xml("status", { code: "110" }))));
        }
        // §6.2: an unbound room is destroyed when its creator leaves it.
        if (!room.bound && room.occupants.size === 0) this.rooms.delete(room.jid);
        if (room.kind === "channel") this.converge(room);
      }
      return;
    }
    const roomJid = bareOf(to);
    const nick = to.slice(roomJid.length + 1);
    if (!nick) throw new DsError("modify", "jid-malformed");
    const bare = bareOf(from);
    const dev = p.getChild("device", MLS);
    const deviceId = dev?.attrs["id"];
    let room = this.rooms.get(roomJid);
    const codes = ["110"];
    if (!room) {
      if (!deviceId) throw new DsError("cancel", "not-acceptable", mlsCond("mls-required"));
      room = {
        jid: roomJid,
        kind: this.defaultKind,
        owner: bare,
        bound: false,
        pub: undefined,
        groupInfo: undefined,
        affiliations: new Map([[bare, "owner"]]),
        occupants: new Map(),
        log: [],
        pending: new Map(),
        welcomes: new Map(),
        cursors: new Map(),
        removalEpoch: 0,
        subject: "",
        subjectBy: undefined,
        subjectAt: undefined,
        changeSubject: false,
      };
      this.rooms.set(roomJid, room);
      codes.push("201");
    } else {
      if (room.occupants.has(from)) return; // presence update
      const aff = room.affiliations.get(bare);
      if (aff === "outcast") throw new DsError("auth", "forbidden");
      if (!room.bound && bare !== room.owner) throw new DsError("wait", "item-not-found", mlsCond("unbound-room"));
      if (room.kind === "group" && !this.isAffiliated(room, bare)) throw new DsError("auth", "registration-required");
      if (!deviceId && room.kind === "group") throw new DsError("cancel", "not-acceptable", mlsCond("mls-required"));
      for (const o of room.occupants.values()) if (o.nick === nick && o.bare !== bare) throw new DsError("cancel", "conflict");
    }
    if (deviceId) this.device(bare, deviceId);
    // Other occupants, then self-presence.
    for (const [full, o] of room.occupants) {
      const pres = xml("presence", { from: `${room.jid}/${o.nick}`, to: from }, xml("x", { xmlns: MUC_USER }, xml("item", { affiliation: room.affiliations.get(o.bare) ?? "none", role: "participant", jid: full })));
      if (o.device) pres.append(xml("device", { xmlns: MLS, id: o.device }));
      this.out(pres);
    }
    room.occupants.set(from, { nick, bare, device: deviceId });
    const self = xml(
      "presence",
      { from: `${room.jid}/${nick}`, to: from },
      xml("x", { xmlns: MUC_USER }, xml("item", { affiliation: room.affiliations.get(bare) ?? "none", role: "participant", jid: from }), ...codes.map((c) => xml("status", { code: c }))),
    );
    if (deviceId) self.append(xml("device", { xmlns: MLS, id: deviceId }));
    this.out(self);
    if (deviceId && room.bound) {
      const key = `${bare}/${deviceId}`;
      const afterAttr = dev?.attrs["after"];
      const after = afterAttr !== undefined ? Number(afterAttr) : (room.cursors.get(key) ?? 0);
      const cu = this.push(room, key, from, after, this.maxCatchUp);
      this.out(xml("message", { type: "headline", from: room.jid, to: from, id: randomUUID() }, xml("caught-up", { xmlns: MLS, last: String(cu.last), complete: String(cu.complete) })));
      if (room.kind === "channel") this.converge(room);
    }
    // The subject ends the join (XEP-0045 §7.2.15, docs/protocol.md §6.3 item 5).
    this.out(this.subjectStanza(room, from));
  }

  // ---------------------------------------------------------------- commits (§6.5, §7.3)

  private commitRequest(iq: Element, room: Room, from: string, el: Element): void {
    if (this.holdCommits) {
      this.heldCommits.push({
        from,
        room: room.jid,
        release: () => {
          try {
            this.processCommit(iq, room, from, el);
          } catch (e) {
            if (e instanceof DsError) this.errorReply(iq, e);
            else throw e;
          }
        },
      });
      return;
    }
    this.processCommit(iq, room, from, el);
  }

  releaseCommits(order?: readonly number[]): void {
    const list = order ? order.map((i) => this.heldCommits[i]!) : [...this.heldCommits];
    this.heldCommits.length = 0;
    for (const h of list) h.release();
  }

  private refuse(e: DsError): never {
    this.stats.commitsRefused++;
    throw e;
  }

  private processCommit(iq: Element, room: Room, from: string, el: Element): void {
    if (!room.bound || !room.pub) throw new DsError("wait", "item-not-found", mlsCond("unbound-room"));
    const pub = room.pub;
    const bare = bareOf(from);
    const msg = decode(decodeMLSMessage, unb64(el.getChildText("commit-message") ?? ""));
    if (msg.wireFormat !== "mls_public_message" || msg.publicMessage.content.contentType !== "commit") {
      this.refuse(new DsError("modify", "bad-request", mlsCond("wrong-kind")));
    }
    const content = msg.publicMessage.content;
    if (content.epoch !== pub.epoch) {
      this.refuse(new DsError("wait", "conflict", mlsCond("epoch-mismatch", { "current-epoch": String(pub.epoch) })));
    }
    const external = content.sender.type === "new_member_commit";
    if (!external) {
      if (content.sender.type !== "member") this.refuse(new DsError("auth", "forbidden", mlsCond("not-a-member")));
      const leaf = pub.member(content.sender.leafIndex);
      if (!leaf) this.refuse(new DsError("auth", "forbidden", mlsCond("not-a-member")));
      if (!leafDevice(leaf.leafNode)?.startsWith(`${bare}/`)) this.refuse(new DsError("auth", "forbidden", mlsCond("identity-mismatch")));
      const c = content.contentType === "commit" ? content.commit : undefined;
      if (c?.proposals.some((p) => p.type !== "reference")) {
        this.refuse(new DsError("modify", "not-acceptable", mlsCond("invalid-commit", { reason: "by-value" })));
      }
      const refs = new Set(c!.proposals.map((p) => (p.type === "reference" ? toHex(p.reference) : "")));
      const missing = [...room.pending].filter(([ref]) => !refs.has(ref)).map(([, p]) => p.seq);
      if (missing.length > 0) {
        this.refuse(new DsError("wait", "conflict", mlsCond("missing-proposals", {}, ...missing.map((s) => xml("proposal", { seq: String(s) })))));
      }
    } else {
      const authorized =
        room.kind === "group" ? this.isAffiliated(room, bare) : [...room.occupants.entries()].some(([f, o]) => f === from && o.device);
      if (!authorized) this.refuse(new DsError("auth", "forbidden", mlsCond("not-a-member")));
    }
    const snapshot = serializePublicGroup(pub);
    const before = this.leaves(room);
    let staged;
    try {
      staged = pub.stage(msg);
    } catch (e) {
      const reason = isMlsError(e, "MissingProposal") ? "unknown-proposal" : "proposal-list";
      if (isMlsError(e, "InvalidSignature")) this.refuse(new DsError("modify", "not-acceptable", mlsCond("invalid-signature")));
      this.refuse(new DsError("modify", "not-acceptable", mlsCond("invalid-commit", { reason }), String(e)));
    }
    if (staged.kind !== "commit") this.refuse(new DsError("modify", "bad-request", mlsCond("wrong-kind")));
    if (!staged.summary.pathIncluded && staged.summary.added.length === 0 && staged.summary.removed.length === 0) {
      this.refuse(new DsError("modify", "not-acceptable", mlsCond("invalid-commit", { reason: "path-required" })));
    }
    pub.apply(staged);
    const giBytes = unb64(el.getChildText("group-info") ?? "");
    try {
      const gi = decode(decodeMLSMessage, giBytes);
      if (gi.wireFormat !== "mls_group_info") throw new Error("not a GroupInfo");
      pub.checkGroupInfo(gi);
      if (findExtension(gi.groupInfo.extensions, ExtensionType.ratchet_tree)) this.stats.groupInfosWithTree++;
      if (!findExtension(gi.groupInfo.extensions, ExtensionType.external_pub)) throw new Error("no external_pub");
    } catch (e) {
      room.pub = deserializePublicGroup(nativeProvider, snapshot);
      this.refuse(new DsError("modify", "not-acceptable", mlsCond("invalid-commit", { reason: "group-info" }), String(e)));
    }
    const welcomeText = el.getChildText("welcome");
    if ((staged.summary.added.length > 0) !== (welcomeText !== null && welcomeText !== undefined)) {
      room.pub = deserializePublicGroup(nativeProvider, snapshot);
      this.refuse(new DsError("modify", "not-acceptable", mlsCond("invalid-commit", { reason: "welcome" })));
    }
    // Accepted.
    this.stats.commitsAccepted++;
    const oldEpoch = Number(content.epoch);
    const nick = room.occupants.get(from)?.nick;
    const entry = this.append(room, "commit", oldEpoch, encode(encodeMLSMessage, msg), new Set(before.keys()), { senderNick: nick });
    room.groupInfo = giBytes;
    room.pending = new Map();
    if (staged.summary.removed.length > 0) room.removalEpoch = Number(pub.epoch);
    this.result(iq, xml("accepted", { xmlns: MLS, epoch: String(pub.epoch), seq: String(entry.seq), "stanza-id": entry.stanzaId }));
    this.fanOut(room, entry);
    if (welcomeText) {
      const tree = encode(encodeRatchetTree, pub.ratchetTree());
      const after = this.leaves(room);
      const wBytes = unb64(welcomeText);
      const wMsg = decode(decodeMLSMessage, wBytes);
      if (wMsg.wireFormat === "mls_welcome") void wMsg;
      for (const leaf of staged.summary.added) {
        const key = [...after].find(([, l]) => l === leaf)?.[0];
        if (!key) continue;
        const w: StoredWelcome = { seq: entry.seq, epoch: Number(pub.epoch), bytes: wBytes, tree, idAttr: entry.stanzaId };
        room.welcomes.set(key, w);
        for (const [full, o] of room.occupants) {
          if (`${o.bare}/${o.device}` === key) this.out(this.welcomeStanza(room, w, full, false));
        }
      }
    }
    this.converge(room);
  }

  // ---------------------------------------------------------------- application messages (§6.7, §7.5)

  private onMessage(m: Element, to: string, from: string): void {
    if (m.attrs["type"] === "error") return;
    const room = this.roomOr404(bareOf(to));
    if (m.attrs["type"] !== "groupchat") throw new DsError("cancel", "feature-not-implemented");
    const subject = m.getChild("subject");
    if (subject && !m.getChild("body")) return this.changeSubject(room, from, subject);
    const refuse = (type: string, cond: string, mlsName: string, attrs: Record<string, string> = {}) => {
      throw new DsError(type, cond, mlsCond(mlsName, attrs));
    };
    if (!room.bound || !room.pub) return refuse("wait", "item-not-found", "unbound-room");
    const occ = room.occupants.get(from);
    if (!occ) return refuse("cancel", "item-not-found", "unknown-device");
    if (!occ.device) return refuse("cancel", "not-acceptable", "mls-required");
    const mlsEl = m.getChild("mls", MLS);
    if (!mlsEl) return refuse("cancel", "not-acceptable", "mls-required");
    if (mlsEl.attrs["kind"] !== "application") return refuse("modify", "bad-request", "wrong-kind");
    let msg: MLSMessage;
    try {
      msg = decode(decodeMLSMessage, unb64(mlsEl.getText()));
    } catch {
      return refuse("modify", "bad-request", "malformed-message");
    }
    if (msg.wireFormat !== "mls_private_message" || msg.privateMessage.contentType !== "application") return refuse("modify", "bad-request", "wrong-kind");
    if (!bytesEqual(msg.privateMessage.groupId, room.pub.groupId)) return refuse("modify", "bad-request", "wrong-group");
    const key = `${occ.bare}/${occ.device}`;
    if (!this.leaves(room).has(key) || this.pendingRemoves(room).has(key)) return refuse("auth", "forbidden", "not-a-member");
    const epoch = Number(msg.privateMessage.epoch);
    const current = Number(room.pub.epoch);
    if (epoch > current) return refuse("wait", "conflict", "epoch-mismatch", { "current-epoch": String(current) });
    if (epoch < Math.max(current - this.maxEpochLag, room.removalEpoch)) {
      this.stats.staleRefusals++;
      return refuse("modify", "not-acceptable", "stale-epoch", { "current-epoch": String(current) });
    }
    const pendingRemoves = this.pendingRemoves(room);
    const recipients = new Set([...this.leaves(room).keys()].filter((k) => !pendingRemoves.has(k)));
    const entry = this.append(room, "application", epoch, unb64(mlsEl.getText()), recipients, {
      idAttr: m.attrs["id"],
      originId: m.getChild("origin-id", SID)?.attrs["id"],
      senderNick: occ.nick,
    });
    this.fanOut(room, entry);
  }

  // ---------------------------------------------------------------- catch-up, group-info (§6.8, §6.9)

  private catchUp(iq: Element, room: Room, from: string, el: Element): void {
    const bare = bareOf(from);
    const deviceId = el.attrs["device"] ?? "";
    if (!this.devices.get(bare)?.has(deviceId)) throw new DsError("cancel", "item-not-found", mlsCond("unknown-device"));
    const key = `${bare}/${deviceId}`;
    const after = el.attrs["after"] !== undefined ? Number(el.attrs["after"]) : (room.cursors.get(key) ?? 0);
    const max = Math.min(Number(el.attrs["max"] ?? this.maxCatchUp), this.maxCatchUp);
    const cu = this.push(room, key, from, after, max);
    this.result(iq, xml("caught-up", { xmlns: MLS, last: String(cu.last), complete: String(cu.complete) }));
  }

  private groupInfo(iq: Element, room: Room, from: string): void {
    if (!room.bound || !room.pub || !room.groupInfo) throw new DsError("wait", "item-not-found", mlsCond("unbound-room"));
    const bare = bareOf(from);
    const ok = room.kind === "group" ? this.isAffiliated(room, bare) : room.occupants.get(from)?.device !== undefined;
    if (!ok) throw new DsError("auth", "forbidden", mlsCond("not-a-member"));
    this.result(
      iq,
      xml(
        "group-info",
        { xmlns: MLS, epoch: String(room.pub.epoch) },
        xml("message", {}, b64(room.groupInfo)),
        xml("ratchet-tree", {}, b64(encode(encodeRatchetTree, room.pub.ratchetTree()))),
      ),
    );
  }

  // ---------------------------------------------------------------- test helpers

  /** (bare JID, device) pairs with a leaf in the room's public tree. */
  memberKeys(roomJid: string): string[] {
    return [...this.leaves(this.room(roomJid)).keys()].sort();
  }

  epoch(roomJid: string): number {
    return Number(this.room(roomJid).pub?.epoch ?? -1);
  }
}

function splitKey(k: string): [string, string] {
  const i = k.lastIndexOf("/");
  return [k.slice(0, i), k.slice(i + 1)];
}
