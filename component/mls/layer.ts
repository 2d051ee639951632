// The MLS layer of the component (docs/protocol.md): the urn:xmpp:mls:0
// requests, the encrypted groupchat path, the join push, and room events
// turned into membership convergence. The Delivery Service logic itself is
// in mapping/ds; this file only translates stanzas and sends what it returns.

import type { Logger } from "../../config/index.js";
import { childLogger } from "../../config/index.js";
import { deviceKey, isValidDeviceId, type DeviceRef } from "../../mapping/ds/identity.js";
import { ProtocolError } from "../../mapping/ds/protocol-error.js";
import type { DeliveryService, DsOutput, Fanout } from "../../mapping/ds/service.js";
import type { Store } from "../../mapping/store/index.js";
import type { DiscoExtensions } from "../handlers/common.js";
import { roomOf } from "../handlers/common.js";
import type { JoinAttempt, RoomHost } from "../rooms/host.js";
import type { Router, StanzaContext } from "../router.js";
import { buildForm, formTypeField } from "../xmpp/dataform.js";
import { NS } from "../xmpp/ns.js";
import { buildErrorReply } from "../xmpp/error-reply.js";
import { isStanzaError, stanzaError, type StanzaError } from "../xmpp/stanza-error.js";
import { attr, xml, type Element } from "../xmpp/xml.js";
import { mlsError, toStanzaError } from "./errors.js";
import type { Metrics } from "../http.js";
import type { Multicast } from "../multicast.js";
import { Occupancy } from "./occupancy.js";
import { b64, caughtUp, copiesFor, countElement, deviceEntryMessage, entryMessage, fromB64, welcomeMessage } from "./stanzas.js";

export interface MlsLayerOptions {
  readonly domain: string;
  readonly host: RoomHost;
  readonly router: Router;
  readonly disco: DiscoExtensions;
  readonly ds: DeliveryService;
  readonly occupancy: Occupancy;
  readonly store: Store;
  readonly send: (stanza: Element) => Promise<void>;
  /** Serialized stanzas in one write (the fan-out uses it when given). */
  readonly sendRaw?: (xml: string) => Promise<void>;
  /** An XEP-0033 multicast service for the fan-out (used with sendRaw, when it works). */
  readonly multicast?: Multicast;
  readonly logger: Logger;
  readonly limits: {
    readonly maxStanzaBytes: number;
    readonly maxMessageBytes: number;
    readonly maxKeyPackages: number;
    readonly maxKeyPackageBytes: number;
    readonly maxKeyPackageLifetime: number;
    readonly keyPackageLowWater: number;
    readonly maxEpochLag: number;
    readonly occupancyGraceSeconds: number;
    readonly maxCatchUp: number;
    readonly retentionSeconds: number;
  };
}

/** Runs a DS call, turning its ProtocolErrors into stanza errors. */
async function ds<T>(fn: () => Promise<T>, metrics?: Metrics): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ProtocolError) {
      metrics?.refused.inc({ condition: e.condition });
      throw toStanzaError(e);
    }
    throw e;
  }
}

function b64Child(el: Element, name: string, maxBytes: number): Uint8Array {
  const child = el.getChild(name);
  if (!child) throw mlsError("malformed-message", `<${name}/> is missing`);
  return b64Text(child.getText(), maxBytes, name);
}

function b64Text(text: string, maxBytes: number, what: string): Uint8Array {
  if (text.length > Math.ceil(maxBytes / 3) * 4) throw mlsError("too-large", `<${what}/> exceeds ${maxBytes} bytes`, { max: String(maxBytes) });
  const bytes = fromB64(text);
  if (bytes === undefined) throw mlsError("bad-base64", `<${what}/> is not canonical base64`);
  // The length test above lets through up to 2 decoded bytes more than maxBytes (§7.5.5: decoded size <= max).
  if (bytes.length > maxBytes) throw mlsError("too-large", `<${what}/> exceeds ${maxBytes} bytes`, { max: String(maxBytes) });
  return bytes;
}

export class MlsLayer {
  private readonly log: Logger;
  private metrics: Metrics | undefined;
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  /** `after` of the join presence, from beforeJoin to afterSelfPresence, by real JID. */
  private readonly joinAfter = new Map<string, bigint>();
  /** Per room: the tail of its fan-out work (see inOrder). */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly o: MlsLayerOptions) {
    this.log = childLogger(o.logger, "mls");
  }

  register(): void {
    const { router, host, disco } = this.o;
    disco.serviceFeatures.push(NS.MLS);
    disco.roomFeatures.push(NS.MLS);
    disco.serviceForms.push(() => [this.serviceInfoForm()]);
    disco.roomForms.push(async (room) => [await this.roomInfoForm(room.jid, room.settings.kind)]);

    router.iq({ type: "set", ns: NS.MLS, name: "publish", target: "service" }, (ctx) => this.onPublish(ctx));
    router.iq({ type: "get", ns: NS.MLS, name: "count", target: "service" }, (ctx) => this.onCount(ctx));
    router.iq({ type: "set", ns: NS.MLS, name: "retire", target: "service" }, (ctx) => this.onRetire(ctx));
    router.iq({ type: "set", ns: NS.MLS, name: "bind", target: "room" }, (ctx) => this.onBind(ctx));
    router.iq({ type: "set", ns: NS.MLS, name: "commit", target: "room" }, (ctx) => this.onCommit(ctx));
    router.iq({ type: "get", ns: NS.MLS, name: "group-info", target: "room" }, (ctx) => this.onGroupInfo(ctx));
    router.iq({ type: "get", ns: NS.MLS, name: "catch-up", target: "room" }, (ctx) => this.onCatchUp(ctx));

    host.hooks.beforeJoin = (a) => this.beforeJoin(a);
    host.hooks.afterSelfPresence = (j) => this.afterJoin(j.room, j.realJid, j.nick, j.mlsDevice);
    host.setGroupchatHandler(async (ctx) => {
      await this.onGroupchat(ctx.room.jid, ctx.sender.realJid, ctx.sender.nick, ctx.stanza, ctx.room.settings.kind);
    });

    host.events.on("affiliation-changed", (e) => this.convergeLater(e.room));
    host.events.on("room-config-changed", (e) => this.convergeLater(e.room));
    host.events.on("occupant-left", (e) => {
      const graceful = e.reason === "leave" || e.reason === "disconnect" || e.reason === "shutdown";
      const device = this.o.occupancy.unbind(e.room, e.realJid, graceful);
      if (device === undefined) return;
      if (graceful) this.scheduleGraceCheck(e.room);
      else this.convergeLater(e.room);
    });
    host.events.on("room-destroyed", (e) => {
      this.o.occupancy.forgetRoom(e.room);
      this.o.ds.forget(e.room);
    });
  }

  // ------------------------------------------------------------ disco (§5)

  private form(formType: string, fields: Record<string, string>): Element {
    return buildForm("result", [formTypeField(formType), ...Object.entries(fields).map(([v, value]) => ({ var: v, values: [value] }))]);
  }

  private serviceInfoForm(): Element {
    const l = this.o.limits;
    return this.form("urn:xmpp:mls:0#serviceinfo", {
      "cipher-suite": String(this.o.ds.cs.id),
      "external-sender-key": b64(this.o.ds.externalSenderKey),
      "max-key-packages": String(l.maxKeyPackages),
      "max-key-package-bytes": String(l.maxKeyPackageBytes),
      "max-key-package-lifetime": String(l.maxKeyPackageLifetime),
      "key-package-low-water": String(l.keyPackageLowWater),
      "max-stanza-bytes": String(l.maxStanzaBytes),
      "max-message-bytes": String(l.maxMessageBytes),
      "max-epoch-lag": String(l.maxEpochLag),
      "occupancy-grace": String(l.occupancyGraceSeconds),
      "max-catch-up": String(l.maxCatchUp),
      retention: String(l.retentionSeconds),
    });
  }

  private async roomInfoForm(room: string, kind: string): Promise<Element> {
    const info = await this.o.ds.roomInfo(room);
    const fields: Record<string, string> = { kind, "cipher-suite": String(this.o.ds.cs.id) };
    if (info) {
      fields["group-id"] = b64(info.groupId);
      fields["epoch"] = String(info.epoch);
    }
    fields["external-sender-key"] = b64(this.o.ds.externalSenderKey);
    return this.form("urn:xmpp:mls:0#roominfo", fields);
  }

  // ------------------------------------------------------------ KeyPackages (§6.1)

  private deviceAttr(payload: Element | undefined): string {
    const id = payload ? attr(payload, "device") : undefined;
    if (id === undefined || !isValidDeviceId(id)) throw stanzaError("bad-request", "a valid device attribute is required");
    return id;
  }

  private async onPublish(ctx: StanzaContext): Promise<Element> {
    const p = ctx.payload!;
    const device: DeviceRef = { bareJid: ctx.from.bare, deviceId: this.deviceAttr(p) };
    const pkgs = p.getChildren("key-package").map((k, index) => {
      const bytes = fromB64(k.getText());
      if (bytes === undefined) throw mlsError("bad-base64", `key-package ${index} is not canonical base64`);
      return { bytes, lastResort: attr(k, "last-resort") === "true" };
    });
    if (pkgs.length === 0) throw stanzaError("bad-request", "no <key-package/> to publish");
    const { count, output } = await ds(() => this.o.ds.publish(device, ctx.from.full, pkgs, attr(p, "replace") === "true"), this.metrics);
    void this.deliverLater(output);
    return countElement(device.deviceId, count.available, count.lastResort);
  }

  private async onCount(ctx: StanzaContext): Promise<Element> {
    const device: DeviceRef = { bareJid: ctx.from.bare, deviceId: this.deviceAttr(ctx.payload) };
    const c = await ds(() => this.o.ds.count(device, ctx.from.full), this.metrics);
    return countElement(device.deviceId, c.available, c.lastResort);
  }

  private async onRetire(ctx: StanzaContext): Promise<void> {
    const device: DeviceRef = { bareJid: ctx.from.bare, deviceId: this.deviceAttr(ctx.payload) };
    const output = await ds(() => this.o.ds.retire(device), this.metrics);
    void this.deliverLater(output);
  }

  // ------------------------------------------------------------ rooms (§6.2–§6.9)

  private async onBind(ctx: StanzaContext): Promise<void> {
    const room = roomOf(ctx);
    const r = await this.o.host.require(room);
    const binding = this.o.occupancy.deviceOf(room, ctx.from.full);
    if (r.affiliationOf(ctx.from.bare) !== "owner" || binding === undefined) {
      throw mlsError("permission-denied", "only an owner who is an MLS occupant may bind the room");
    }
    const groupInfo = b64Child(ctx.payload!, "group-info", this.o.limits.maxStanzaBytes);
    const output = await ds(() => this.o.ds.bind(room, groupInfo, binding.device), this.metrics);
    await ctx.reply();
    await this.deliver(output);
  }

  private async onCommit(ctx: StanzaContext): Promise<void> {
    const room = roomOf(ctx);
    const p = ctx.payload!;
    const max = this.o.limits.maxStanzaBytes;
    const commit = b64Child(p, "commit-message", max);
    const groupInfo = b64Child(p, "group-info", max);
    const w = p.getChild("welcome");
    const welcome = w ? b64Text(w.getText(), max, "welcome") : undefined;
    const binding = this.o.occupancy.deviceOf(room, ctx.from.full);
    const result = await ds(() =>
      this.o.ds.submitCommit(room, {
        commit,
        groupInfo,
        welcome,
        senderJid: ctx.from.bare,
        occupantDevice: binding?.device.deviceId,
        senderNick: binding?.nick,
        clientId: ctx.id,
      }), this.metrics);
    // §7.4.3: the committer learns of the acceptance before anyone sees the commit.
    await ctx.reply(
      xml("accepted", { xmlns: NS.MLS, epoch: String(result.epoch), seq: String(result.seq), "stanza-id": result.stanzaId }),
    );
    await this.deliver(result.output);
  }

  private async onGroupInfo(ctx: StanzaContext): Promise<Element> {
    const room = roomOf(ctx);
    await this.o.host.require(room);
    const binding = this.o.occupancy.deviceOf(room, ctx.from.full);
    const device: DeviceRef = binding?.device ?? { bareJid: ctx.from.bare, deviceId: "" };
    if (!(await this.o.ds.mayJoinExternally(room, device))) throw mlsError("not-a-member", "you may not join this room by external commit");
    const gi = await ds(() => this.o.ds.groupInfoFor(room), this.metrics);
    return xml(
      "group-info",
      { xmlns: NS.MLS, epoch: String(gi.epoch) },
      xml("message", {}, b64(gi.groupInfo)),
      xml("ratchet-tree", {}, b64(gi.ratchetTree)),
    );
  }

  private async onCatchUp(ctx: StanzaContext): Promise<Element> {
    const room = roomOf(ctx);
    await this.o.host.require(room);
    const p = ctx.payload!;
    const device: DeviceRef = { bareJid: ctx.from.bare, deviceId: this.deviceAttr(p) };
    const after = parseSeq(attr(p, "after"));
    const maxAttr = attr(p, "max");
    const max = maxAttr === undefined ? undefined : Number.parseInt(maxAttr, 10);
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) throw stanzaError("bad-request", "max must be a positive integer");
    const r = await ds(() => this.o.ds.catchUp(room, device, after, max), this.metrics);
    for (const e of r.entries) await this.o.send(deviceEntryMessage(e, ctx.from.full, true));
    if (r.entries.length > 0) await this.o.ds.delivered(room, device, r.entries[r.entries.length - 1]!.seq);
    return caughtUp(r.last, r.complete);
  }

  // ------------------------------------------------------------ joins (§6.3)

  private async beforeJoin(a: JoinAttempt): Promise<void> {
    const deviceEl = a.stanza.getChild("device", NS.MLS);
    if (deviceEl !== undefined && (a.mlsDevice === undefined || !isValidDeviceId(a.mlsDevice))) {
      throw stanzaError("bad-request", "invalid <device/> id");
    }
    if (!a.roomExists) {
      if (a.mlsDevice === undefined) throw mlsError("mls-required", "rooms are created by MLS clients (join with <device/>)");
      return;
    }
    const room = await this.o.host.load(a.room);
    const kind = room?.settings.kind ?? "group";
    if (a.mlsDevice === undefined && kind === "group") throw mlsError("mls-required", "this room is end-to-end encrypted with MLS: join with <device/>");
    if (!(await this.o.ds.isBound(a.room)) && a.affiliation !== "owner") {
      throw mlsError("unbound-room", "the room is not bound to an MLS group yet");
    }
    const after = deviceEl ? parseSeq(attr(deviceEl, "after")) : undefined;
    if (after !== undefined) this.joinAfter.set(a.realJid, after);
  }

  /** After the self-presence: bind the device, push what it missed, then <caught-up/> (§6.3). */
  private async afterJoin(room: string, realJid: string, nick: string, deviceId: string | undefined): Promise<void> {
    const after = this.joinAfter.get(realJid);
    this.joinAfter.delete(realJid);
    if (deviceId === undefined) return;
    const bareJid = realJid.split("/")[0]!;
    const device: DeviceRef = { bareJid, deviceId };
    // §6.3: a device has one session per room; a second full JID with the same device takes over,
    // and the old one is told it left (unavailable self-presence) as if it had.
    const replaced = this.o.occupancy.jidsOf(room, device).filter((j) => j !== realJid);
    this.o.occupancy.bind(room, realJid, device, nick);
    if (replaced.length > 0) {
      const r = await this.o.host.load(room);
      if (r) {
        await this.o.host.remove(r, replaced, {
          reason: "replaced",
          codes: [],
          notifySelf: true,
          reasonText: "another session of this MLS device joined the room",
        });
      }
    }
    if (!(await this.o.ds.isBound(room))) return;
    try {
      const r = await this.o.ds.catchUp(room, device, after, undefined);
      for (const e of r.entries) await this.o.send(deviceEntryMessage(e, realJid, true));
      if (r.entries.length > 0) await this.o.ds.delivered(room, device, r.entries[r.entries.length - 1]!.seq);
      await this.o.send(
        xml("message", { type: "headline", from: room, to: realJid, id: `cu-${this.o.host.newId()}` }, caughtUp(r.last, r.complete)),
      );
    } catch (e) {
      if (e instanceof ProtocolError && e.condition === "history-expired") {
        const err = toStanzaError(e);
        await this.o.send(
          xml("message", { type: "headline", from: room, to: realJid }, xml(e.condition, { xmlns: NS.MLS, ...e.attrs }), xml("body", {}, err.message)),
        );
        return;
      }
      throw e;
    }
    // A channel occupant's device may be desired again (its Remove not yet committed).
    if ((await this.o.host.load(room))?.settings.kind === "channel") this.convergeLater(room);
  }

  // ------------------------------------------------------------ application messages (§6.7, §7.5)

  private async onGroupchat(room: string, realJid: string, nick: string, stanza: Element, kind: string): Promise<void> {
    const mls = stanza.getChildren("mls", NS.MLS);
    if (mls.length === 0) {
      throw mlsError("mls-required", "This room is end-to-end encrypted with MLS (urn:xmpp:mls:0); plaintext messages are not accepted.");
    }
    if (mls.length > 1 || attr(mls[0]!, "kind") !== "application") {
      throw mlsError("wrong-kind", "a groupchat message carries exactly one <mls kind='application'/>");
    }
    const binding = this.o.occupancy.deviceOf(room, realJid);
    if (binding === undefined) {
      throw kind === "channel"
        ? mlsError("mls-required", "plain occupants cannot send in an MLS room")
        : mlsError("unknown-device", "this session has no MLS device binding");
    }
    const message = b64Text(mls[0]!.getText(), this.o.limits.maxMessageBytes, "mls");
    const originId = stanza.getChild("origin-id", NS.SID);
    const { output, stored } = await ds(() =>
      this.o.ds.submitApplication(room, {
        message,
        device: binding.device,
        senderNick: nick,
        originId: originId ? attr(originId, "id") : undefined,
        clientId: attr(stanza, "id"),
      }), this.metrics);
    // Group commit (mapping/ds/log-writer.ts): the room's next stanza is handled while this
    // message is written; its fan-out follows the write, after the room's earlier ones. The
    // copies are serialized now, while the write runs on SQLite's thread; a device bound
    // meanwhile is not among them and catches up from the store, as one bound just after.
    const sends = output.fanout.map((f) => this.prepareFanout(f, f.room === room && kind === "channel"));
    void this.inOrder(room, async () => {
      try {
        await stored;
      } catch (err) {
        this.log.error({ err, room }, "an accepted application message could not be stored");
        await this.refuseLater(stanza, stanzaError("internal-server-error", "the message could not be stored; send it again"), room);
        return;
      }
      for (const send of sends) await send();
    });
  }

  /**
   * Runs `work` after the room's earlier fan-out work, so that a room's
   * entries go out in seq order although an application message's fan-out
   * waits for its write outside the room lock. Never rejects (failures are
   * logged).
   */
  private inOrder(room: string, work: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(room) ?? Promise.resolve()).then(work).catch((err: unknown) => {
      this.log.error({ err, room }, "fan-out failed");
    });
    this.chains.set(room, next);
    void next.then(() => {
      if (this.chains.get(room) === next) this.chains.delete(room);
    });
    return next;
  }

  /** The error reply to a stanza whose handler has already returned. */
  private async refuseLater(stanza: Element, err: StanzaError, room: string): Promise<void> {
    const reply = buildErrorReply(stanza, err, { fallbackFrom: this.o.domain, by: room });
    if (reply) await this.o.send(reply).catch(() => undefined);
  }

  /** Settles once the fan-out work queued so far (all rooms) is done. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  // ------------------------------------------------------------ delivery

  /** Sends a DS output, each room's part after that room's earlier fan-outs (inOrder). */
  private async deliver(output: DsOutput): Promise<void> {
    for (const f of output.fanout) await this.inOrder(f.room, () => this.prepareFanout(f, false)());
    for (const h of output.lowWater) {
      if (h.jid === undefined) continue;
      await this.o.send(
        xml("message", { type: "headline", from: this.o.domain, to: h.jid }, countElement(h.device.deviceId, h.count.available, h.count.lastResort)),
      ).catch((err: unknown) => this.log.debug({ err }, "low-water hint not sent"));
    }
  }

  /** Output produced outside any room lock: each room's part is sent under its lock. */
  private async deliverLater(output: DsOutput): Promise<void> {
    try {
      await this.deliver(output);
    } catch (err) {
      this.log.error({ err }, "delivery failed");
    }
  }

  /**
   * Resolves a fan-out's recipients (the sessions bound now) and, on a
   * connection that takes raw writes, serializes its copies; the returned
   * function sends them and advances the reached devices' cursors.
   */
  private prepareFanout(f: Fanout, plainOccupants: boolean): () => Promise<void> {
    const build = (to: string) => (f.asWelcome ? welcomeMessage(f.entry, to, { delayed: false }) : entryMessage(f.entry, to, { delayed: false }));
    const bound = this.o.occupancy.jidsByDevice(f.room);
    const targets = f.to.flatMap((device) => {
      const jids = bound.get(deviceKey(device));
      return jids ? [{ device, jids }] : [];
    });
    if (!this.o.sendRaw || targets.length === 0) return () => this.sendFanout(f, plainOccupants, build, targets, undefined);
    // The copies differ only in 'to': serialized once, written at once; or
    // one stanza to the multicast service, which makes the copies.
    const copy = copiesFor(build);
    const jids = targets.flatMap((t) => t.jids);
    const multicast = jids.length > 1 && this.o.multicast?.jid !== undefined ? this.o.multicast : undefined;
    const raw = multicast ? multicast.stanzas(build, jids, copy) : jids.map(copy).join("");
    return () => this.sendFanout(f, plainOccupants, build, targets, raw);
  }

  private async sendFanout(
    f: Fanout,
    plainOccupants: boolean,
    build: (to: string) => Element,
    targets: readonly { device: DeviceRef; jids: readonly string[] }[],
    raw: string | undefined,
  ): Promise<void> {
    const { occupancy, ds: service } = this.o;
    if (!f.asWelcome && f.to.length > 0) this.metrics?.accepted.inc({ kind: f.entry.kind });
    // Devices with no bound session get nothing live, and their cursor stays where it is.
    const reached: DeviceRef[] = [];
    if (raw !== undefined && this.o.sendRaw) {
      try {
        await this.o.sendRaw(raw);
        for (const t of targets) reached.push(t.device);
        this.metrics?.fanout.inc(targets.reduce((n, t) => n + t.jids.length, 0));
      } catch (err) {
        this.log.debug({ err, room: f.room }, "fan-out not sent (offline): the devices catch up later");
      }
    } else {
      for (const t of targets) {
        let ok = true;
        for (const jid of t.jids) {
          try {
            await this.o.send(build(jid));
            this.metrics?.fanout.inc();
          } catch (err) {
            this.log.debug({ err, room: f.room }, "fan-out stanza not sent (offline): the device catches up later");
            ok = false;
          }
        }
        if (ok) reached.push(t.device);
      }
    }
    for (const device of reached) await service.delivered(f.room, device, f.entry.seq);
    if (plainOccupants && f.entry.kind === "application") {
      // §7.4.4: plain occupants of a channel get the fallback live, never stored.
      const room = await this.o.host.load(f.room);
      for (const occupant of room?.occupants ?? []) {
        for (const s of occupant.sessions.values()) {
          if (occupancy.deviceOf(f.room, s.realJid) !== undefined) continue;
          await this.o.send(entryMessage(f.entry, s.realJid, { delayed: false, plain: true })).catch(() => undefined);
        }
      }
    }
  }

  // ------------------------------------------------------------ membership (§7.4)

  /** Converges a room after the current stanza is handled (events fire under the room lock). */
  private convergeLater(room: string): void {
    void (async () => {
      try {
        const output = await this.o.ds.converge(room);
        await this.deliver(output);
      } catch (err) {
        if (isStanzaError(err) || err instanceof ProtocolError) return;
        this.log.error({ err, room }, "membership convergence failed");
      }
    })();
  }

  /** A channel occupant left: after the grace period, its device is removed unless it came back. */
  private scheduleGraceCheck(room: string): void {
    const existing = this.graceTimers.get(room);
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => {
      this.graceTimers.delete(room);
      this.convergeLater(room);
    }, this.o.limits.occupancyGraceSeconds * 1000 + 10);
    t.unref();
    this.graceTimers.set(room, t);
  }

  /** Counts accepted entries, refusals and fan-out in these metrics. */
  observe(metrics: Metrics): void {
    this.metrics = metrics;
  }

  stop(): void {
    for (const t of this.graceTimers.values()) clearTimeout(t);
    this.graceTimers.clear();
  }
}

function parseSeq(v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,18})$/.test(v)) throw stanzaError("bad-request", "a seq is a decimal uint64");
  return BigInt(v);
}
