// MlsClient: one device of one account, on one XMPP connection.
//
//   const c = await MlsClient.open({ jid, password, service: "xmpp://127.0.0.1:5222", stateDir });
//   c.on("message", (m) => console.log(m.from, m.text));
//   await c.join("team@mls.example.org");
//   await c.send("team@mls.example.org", "hello");
//
// See client/README.md for the event list, the state file and the error codes.

import { EventEmitter } from "node:events";

import { pino, type Logger } from "pino";

import { nativeProvider, type CipherSuite, type CryptoProvider } from "../mls/node.js";

import { ClientError, isClientError, stanzaError, toClientError } from "./errors.js";
import { bareJid, isBareUserJid, isJid, sameBareJid } from "./jid.js";
import { DEVICE_ID_RE, makeKeyPackage, newDeviceId, type DeviceRef } from "./mls-helpers.js";
import { NS } from "./ns.js";
import { RoomSession, type RoomHost, type SessionOptions } from "./room.js";
import { parseServiceInfo, type ServiceInfo } from "./service.js";
import { ClientStore } from "./store.js";
import { XmppTransport, type SaslMechanism, type Transport } from "./transport.js";
import type { AffiliationResult, MlsClientEvents, RoomKind, RoomMembers, SendResult } from "./types.js";
import { toBase64, uintAttr, xml, type Element } from "./xml.js";

/** The cipher suite of device keys: MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (§4.3). */
export const DEVICE_SUITE = 1;

export interface MlsClientOptions {
  /** The account's JID (bare; a resource part is ignored). */
  readonly jid: string;
  /** Required unless `transport` is given. */
  readonly password?: string | undefined;
  /** "xmpp://host:port" (also xmpps://, ws://, wss://). Default: DNS SRV of the domain. */
  readonly service?: string | undefined;
  /** The XMPP domain to log into (default: the JID's). */
  readonly domain?: string | undefined;
  /** Directory of this device's state (client.sqlite). One directory = one device. */
  readonly stateDir: string;
  /** SASL mechanism; default PLAIN only on TLS or loopback connections, else SCRAM. */
  readonly mechanism?: SaslMechanism | undefined;
  readonly resource?: string | undefined;
  /** pino logger; default silent. The SDK never logs plaintext or keys. */
  readonly logger?: Logger | undefined;
  /** A ready transport (tests, custom connections) instead of connecting with @xmpp/client. */
  readonly transport?: Transport | undefined;
  /** An MLS service domain to prepare at once (disco + KeyPackages). Rooms' services are prepared on first use anyway. */
  readonly mlsService?: string | undefined;
  /** Upper bound of the random commit delay in ms (§6.5.1, default 2000; tests use 0). */
  readonly commitDelayMs?: number | undefined;
  /** Default 5000 (§7.7). */
  readonly gapTimeoutMs?: number | undefined;
  /** Default 5000 (§7.7). */
  readonly welcomeWaitMs?: number | undefined;
  /** Default 30000. */
  readonly iqTimeoutMs?: number | undefined;
  /** Default 30000 per attempt. */
  readonly sendTimeoutMs?: number | undefined;
  /** Default 10000. */
  readonly joinTimeoutMs?: number | undefined;
  /** KeyPackages to keep published (default 20, capped by the service's max-key-packages). */
  readonly keyPackageTarget?: number | undefined;
  /** Replenish below this many (default: the service's key-package-low-water, 10). */
  readonly keyPackageLowWater?: number | undefined;
  /** Empty commit after joining by Welcome (§6.5.1), default true. */
  readonly selfUpdate?: boolean | undefined;
  /**
   * Refresh this device's leaf with an empty commit when it is active in a
   * room and its last refresh there is older than this (§6.5.1). Default
   * 604800 (7 days); 0 turns it off.
   */
  readonly selfUpdateIntervalSeconds?: number | undefined;
  /** The clock, in ms since the epoch (default Date.now; tests and simulations move it). */
  readonly now?: (() => number) | undefined;
  /** Nick in rooms (default: the JID's localpart). */
  readonly nick?: string | undefined;
  /** Rejoin the rooms this device was in when the connection comes back (default true). */
  readonly autoRejoin?: boolean | undefined;
  /** Also rejoin them (and catch up) right after open, in the background (default true). */
  readonly rejoinOnOpen?: boolean | undefined;
  /**
   * A rejoin that finds the service unreachable or not answering (code
   * `unreachable` / `timeout`) is retried after this many ms, doubling up to
   * 30 s, while the connection lasts. Default 500; 0 turns retries off.
   */
  readonly rejoinRetryMs?: number | undefined;
  /**
   * Send initial presence (default true): the server delivers messages sent to
   * the bare JID (room invitations, §6.4) only to available resources.
   */
  readonly presence?: boolean | undefined;
  /** MLS crypto provider (default: node:crypto). */
  readonly provider?: CryptoProvider | undefined;
}

export interface AffiliationOptions {
  /** Wait for the MLS change to be committed and accepted (default true). */
  readonly wait?: boolean;
  /** invite: how long to wait for the service's Add proposals before concluding there is no device to add (default 3000 ms). */
  readonly proposalWaitMs?: number;
  /** Overall wait (default 30000 ms). */
  readonly timeoutMs?: number;
  readonly reason?: string;
}

/** XEP-0045 §10.9: what the occupants are told when the room is destroyed. */
export interface DestroyRoomOptions {
  /** Shown to the occupants (`<destroy><reason/></destroy>`). */
  readonly reason?: string | undefined;
  /** The JID of a room that replaces this one (`<destroy jid/>`). */
  readonly alternate?: string | undefined;
}

// Typed events on top of EventEmitter.
export interface MlsClient {
  on<K extends keyof MlsClientEvents>(event: K, listener: (...args: MlsClientEvents[K]) => void): this;
  once<K extends keyof MlsClientEvents>(event: K, listener: (...args: MlsClientEvents[K]) => void): this;
  off<K extends keyof MlsClientEvents>(event: K, listener: (...args: MlsClientEvents[K]) => void): this;
  emit<K extends keyof MlsClientEvents>(event: K, ...args: MlsClientEvents[K]): boolean;
}

export class MlsClient extends EventEmitter {
  private readonly sessions = new Map<string, RoomSession>();
  private readonly loading = new Map<string, Promise<RoomSession>>();
  private readonly services = new Map<string, Promise<ServiceInfo>>();
  private readonly replenishing = new Map<string, Promise<void>>();
  private closed = false;
  private readonly host: RoomHost;
  private readonly onStanzaBound = (s: Element) => this.onStanza(s);
  private readonly onOnlineBound = () => this.onOnline();
  private readonly onOfflineBound = () => this.onOffline();
  /** Bumped on every online/offline: a retry scheduled for an older connection is dropped. */
  private connectionGeneration = 0;
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  private constructor(
    readonly transport: Transport,
    readonly store: ClientStore,
    /** This device: bare JID and device id. */
    readonly me: DeviceRef,
    private readonly cs: CipherSuite,
    provider: CryptoProvider,
    private readonly keys: { privateKey: Uint8Array; publicKey: Uint8Array },
    private readonly options: MlsClientOptions,
    private readonly sessionOptions: SessionOptions,
    private readonly logger: Logger,
  ) {
    super();
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const client = this;
    this.host = {
      transport,
      store,
      me,
      cs,
      provider,
      signaturePrivateKey: keys.privateKey,
      signaturePublicKey: keys.publicKey,
      logger,
      options: sessionOptions,
      service: (d) => client.service(d),
      request: (iq, what, room) => client.request(iq, what, room),
      keyPackageCount: (d) => client.keyPackageCount(d),
      emit: (event, ...args) => void client.emitSafe(event, ...args),
      reportError: (e, what, room) => client.reportError(e, what, room),
      forget: (s) => {
        if (client.sessions.get(s.room) === s) client.sessions.delete(s.room);
      },
    };
  }

  /** Connects (or uses `transport`), opens the state file and loads or creates this device's identity. */
  static async open(o: MlsClientOptions): Promise<MlsClient> {
    const logger = o.logger ?? pino({ level: "silent" });
    if (!isJid(o.jid)) throw new ClientError("invalid-argument", `not a JID: '${o.jid}'`);
    const provider = o.provider ?? nativeProvider;
    const cs = provider.suite(DEVICE_SUITE);
    const store = await ClientStore.open(o.stateDir);
    let transport: Transport | undefined = o.transport;
    try {
      if (!transport) {
        if (o.password === undefined) throw new ClientError("invalid-argument", "a password is required");
        transport = await XmppTransport.connect({
          jid: bareJid(o.jid),
          password: o.password,
          service: o.service,
          domain: o.domain,
          resource: o.resource,
          mechanism: o.mechanism,
          logger,
        });
      }
      const bound = bareJid(transport.jid);
      if (!isBareUserJid(bound)) throw new ClientError("connection", `the server bound '${transport.jid}', not a user JID`);
      let device = await store.getDevice();
      if (!device) {
        const kp = cs.signature.generateKeyPair();
        device = {
          jid: bound,
          deviceId: newDeviceId(),
          suite: cs.id,
          signaturePrivateKey: kp.privateKey,
          signaturePublicKey: kp.publicKey,
          createdAt: Math.floor(Date.now() / 1000),
        };
        await store.createDevice(device);
        logger.info({ device: device.deviceId }, "new device identity created");
      } else if (!sameBareJid(device.jid, bound)) {
        throw new ClientError("invalid-argument", `the state directory belongs to ${device.jid}, not ${bound}`);
      } else if (device.suite !== cs.id) {
        throw new ClientError("storage", `device key of suite ${device.suite}, this client uses ${cs.id}`);
      }
      const sessionOptions: SessionOptions = {
        commitDelayMs: Math.max(0, o.commitDelayMs ?? 2000),
        gapTimeoutMs: o.gapTimeoutMs ?? 5000,
        welcomeWaitMs: o.welcomeWaitMs ?? 5000,
        iqTimeoutMs: o.iqTimeoutMs ?? 30_000,
        sendTimeoutMs: o.sendTimeoutMs ?? 30_000,
        joinTimeoutMs: o.joinTimeoutMs ?? 10_000,
        selfUpdate: o.selfUpdate ?? true,
        selfUpdateIntervalSeconds: Math.max(0, o.selfUpdateIntervalSeconds ?? 7 * 86_400),
        now: o.now ?? Date.now,
        nick: o.nick,
        maxSendAttempts: 5,
      };
      const client = new MlsClient(
        transport,
        store,
        { jid: device.jid, device: device.deviceId },
        cs,
        provider,
        { privateKey: device.signaturePrivateKey, publicKey: device.signaturePublicKey },
        o,
        sessionOptions,
        logger.child({ device: device.deviceId }),
      );
      transport.on("stanza", client.onStanzaBound);
      transport.on("online", client.onOnlineBound);
      transport.on("offline", client.onOfflineBound);
      if (o.presence !== false) await transport.send(xml("presence"));
      await store.pruneKeyPackages(30 * 86400).catch(() => 0);
      if (o.mlsService) await client.service(o.mlsService);
      if (o.rejoinOnOpen !== false) void client.rejoinRooms().catch((e) => client.reportError(e, "rejoining rooms"));
      return client;
    } catch (e) {
      if (transport && !o.transport) await transport.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw toClientError(e, "connection", "opening the client");
    }
  }

  /** This device's id. */
  get deviceId(): string {
    return this.me.device;
  }

  /** The bare JID of the account. */
  get jid(): string {
    return this.me.jid;
  }

  // ================================================================ plumbing

  private emitSafe<K extends keyof MlsClientEvents>(event: K, ...args: MlsClientEvents[K]): void {
    if (event === "error" && this.listenerCount("error") === 0) return;
    try {
      this.emit(event, ...args);
    } catch (e) {
      this.logger.error({ err: e, event }, "an event listener threw");
    }
  }

  private reportError(e: unknown, what: string, room?: string): void {
    if (this.closed) return;
    const err = toClientError(e, "protocol", what, room);
    this.logger.warn({ err: { code: err.code, message: err.message, condition: err.condition, mls: err.mlsCondition }, room }, what);
    this.emitSafe("error", err);
  }

  /** Sends an iq; resolves with the result, throws a ClientError for an error reply. */
  async request(iq: Element, what: string, room?: string): Promise<Element> {
    if (this.closed) throw new ClientError("closed", "client closed");
    const reply = await this.transport.iq(iq, this.sessionOptions.iqTimeoutMs);
    if (reply.attrs["type"] === "error") throw stanzaError(reply, what, room);
    return reply;
  }

  private onStanza(s: Element): void {
    if (this.closed) return;
    try {
      const from = s.attrs["from"];
      if (!from || (s.name === "iq" && (s.attrs["type"] === "result" || s.attrs["type"] === "error"))) return;
      if (s.name === "iq") return; // requests to us: @xmpp/client's iq-callee answers them
      const bare = bareJid(from);
      const session = this.sessions.get(bare);
      if (s.name === "message") {
        const invite = s.getChild("x", NS.MUC_USER)?.getChild("invite");
        if (invite && !s.getChild("mls", NS.MLS)) {
          this.emitSafe("invited", { room: bare, from: invite.attrs["from"] });
          return;
        }
        if (s.attrs["type"] === "headline" && !session) {
          const count = s.getChild("count", NS.MLS);
          if (count && count.attrs["device"] === this.me.device) this.onLowWater(bare, count);
          return;
        }
      }
      if (session) session.onStanza(s);
    } catch (e) {
      this.reportError(e, "incoming stanza");
    }
  }

  private onOffline(): void {
    this.connectionGeneration++;
    this.cancelRetries();
    this.emit("offline");
  }

  private onOnline(): void {
    if (this.closed) return;
    this.connectionGeneration++;
    this.emitSafe("online");
    if (this.options.presence !== false) this.transport.send(xml("presence")).catch((e) => this.reportError(e, "initial presence"));
    if (this.options.autoRejoin === false) return;
    // KeyPackages and rooms again: counts may have changed while away.
    this.services.clear();
    for (const s of this.sessions.values()) void this.rejoinRetrying(s, () => s.rejoin(), "rejoining after reconnect");
  }

  /**
   * Runs a rejoin; when the service is unreachable (after a server restart
   * the clients are often back before the component) or does not answer,
   * tries again with a doubling delay while this connection lasts, unless
   * the room was joined meanwhile (a send() joins). Settles after the first
   * attempt.
   */
  private rejoinRetrying(s: RoomSession, rejoin: () => Promise<void>, what: string, delayMs = this.options.rejoinRetryMs ?? 500): Promise<void> {
    const generation = this.connectionGeneration;
    const room = s.room;
    return rejoin().catch((e: unknown) => {
      const transient = isClientError(e, "unreachable") || isClientError(e, "timeout");
      if (!transient || delayMs <= 0 || this.closed || generation !== this.connectionGeneration) {
        this.reportRejoinError(e, what, room);
        return;
      }
      this.emitSafe("warning", { room, kind: "rejoin-retry", message: `${what}: ${(e as Error).message}; retrying in ${delayMs} ms` });
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        if (this.closed || generation !== this.connectionGeneration || s.occupant) return;
        void this.rejoinRetrying(s, rejoin, what, Math.min(delayMs * 2, 30_000));
      }, delayMs);
      this.retryTimers.add(timer);
    });
  }

  private cancelRetries(): void {
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
  }

  // ================================================================ service and KeyPackages (§5.1, §6.1)

  /** The service's discovery info; the first call per connection also replenishes KeyPackages. */
  service(domain: string): Promise<ServiceInfo> {
    let p = this.services.get(domain);
    if (!p) {
      p = this.loadService(domain);
      this.services.set(domain, p);
      p.catch(() => this.services.delete(domain));
    }
    return p;
  }

  private async loadService(domain: string): Promise<ServiceInfo> {
    let r: Element;
    try {
      r = await this.request(xml("iq", { type: "get", to: domain }, xml("query", { xmlns: NS.DISCO_INFO })), `disco#info of ${domain}`);
    } catch (e) {
      // The service answers disco#info to anyone: an error comes from the
      // XMPP server, which could not route to it (Prosody 0.12: remote-server-timeout;
      // ejabberd, before the component is back: forbidden by its s2s policy).
      if (!isClientError(e, "stanza")) throw e;
      throw new ClientError("unreachable", `${domain} is unreachable: ${e.message}`, { condition: e.condition, type: e.type, text: e.text, cause: e });
    }
    const q = r.getChild("query", NS.DISCO_INFO);
    if (!q) throw new ClientError("protocol", `${domain}: disco#info result without query`);
    const info = parseServiceInfo(q, domain);
    if (info.cipherSuite !== this.cs.id) {
      throw new ClientError("protocol", `${domain} uses cipher suite ${info.cipherSuite}; this client supports ${this.cs.id}`);
    }
    try {
      await this.replenish(info);
    } catch (e) {
      // Not fatal: rooms work without new KeyPackages (external join).
      this.reportError(e, `publishing KeyPackages to ${domain}`);
    }
    return info;
  }

  async keyPackageCount(domain: string): Promise<{ available: number; lastResort: boolean }> {
    const r = await this.request(
      xml("iq", { type: "get", to: domain }, xml("count", { xmlns: NS.MLS, device: this.me.device })),
      "KeyPackage count",
    );
    const c = r.getChild("count", NS.MLS);
    if (!c) throw new ClientError("protocol", "count result without <count/>");
    return { available: uintAttr(c, "available") ?? 0, lastResort: c.attrs["last-resort"] === "true" || c.attrs["last-resort"] === "1" };
  }

  /** §6.1.2: tops KeyPackages up to the target when below the low-water mark, and keeps a last-resort one. */
  replenish(info: ServiceInfo, known?: { available: number; lastResort: boolean }): Promise<void> {
    const running = this.replenishing.get(info.domain);
    if (running) return running;
    const p = this.doReplenish(info, known).finally(() => this.replenishing.delete(info.domain));
    this.replenishing.set(info.domain, p);
    return p;
  }

  private async doReplenish(info: ServiceInfo, known?: { available: number; lastResort: boolean }): Promise<void> {
    const count = known ?? (await this.keyPackageCount(info.domain));
    const lowWater = this.options.keyPackageLowWater ?? info.keyPackageLowWater;
    const target = Math.max(lowWater, Math.min(this.options.keyPackageTarget ?? 20, info.maxKeyPackages));
    const regular = count.available < lowWater ? Math.max(0, target - count.available) : 0;
    const lastResort = !count.lastResort;
    if (regular === 0 && !lastResort) return;
    const made = [];
    for (let i = 0; i < regular + (lastResort ? 1 : 0); i++) {
      made.push(
        makeKeyPackage({
          cs: this.cs,
          jid: this.me.jid,
          deviceId: this.me.device,
          signaturePrivateKey: this.keys.privateKey,
          signaturePublicKey: this.keys.publicKey,
          lastResort: lastResort && i === regular,
          lifetimeSeconds: info.maxKeyPackageLifetime,
        }).record,
      );
    }
    // Private keys are durable before the packages are published.
    await this.store.addKeyPackages(made);
    const publish = xml("publish", { xmlns: NS.MLS, device: this.me.device });
    for (const m of made) publish.append(xml("key-package", m.lastResort ? { "last-resort": "true" } : {}, toBase64(m.keyPackage)));
    try {
      await this.request(xml("iq", { type: "set", to: info.domain }, publish), "publishing KeyPackages");
    } catch (e) {
      // A definite refusal stored nothing at the service: drop the keys. On a timeout keep them (they may be stored).
      if (e instanceof ClientError && e.code === "stanza") await this.store.deleteKeyPackages(made.map((m) => m.ref)).catch(() => undefined);
      throw e;
    }
    this.logger.info({ service: info.domain, published: made.length, lastResort }, "KeyPackages published");
  }

  private onLowWater(domain: string, count: Element): void {
    let available = 0;
    try {
      available = uintAttr(count, "available") ?? 0;
    } catch {
      return;
    }
    const lastResort = count.attrs["last-resort"] === "true" || count.attrs["last-resort"] === "1";
    this.service(domain)
      .then((info) => this.replenish(info, { available, lastResort }))
      .catch((e) => this.reportError(e, "replenishing KeyPackages", domain));
  }

  /** Publishes KeyPackages to `domain` now if this device has too few there. */
  async ensureKeyPackages(domain: string): Promise<void> {
    const info = await this.service(domain);
    await this.replenish(info);
  }

  // ================================================================ rooms

  private checkRoom(room: string): string {
    if (!isJid(room) || !isBareUserJid(bareJid(room))) throw new ClientError("invalid-argument", `not a room JID: '${room}'`);
    return bareJid(room);
  }

  /** The session of a room (state loaded from the store). */
  async session(room: string): Promise<RoomSession> {
    if (this.closed) throw new ClientError("closed", "client closed");
    const r = this.checkRoom(room);
    const s = this.sessions.get(r);
    if (s) {
      const gone = s.destruction;
      if (gone === undefined) return s;
      // A destroyed room: once its state is deleted, the JID starts afresh (e.g. createRoom again).
      await gone;
      return this.session(room);
    }
    let p = this.loading.get(r);
    if (!p) {
      p = (async () => {
        const ns = new RoomSession(r, this.host);
        // Stanzas arriving while loading are buffered by the session once it is registered.
        await ns.load();
        this.sessions.set(r, ns);
        return ns;
      })().finally(() => this.loading.delete(r));
      this.loading.set(r, p);
    }
    return p;
  }

  /** Rooms with a stored state (a destroyed room's state is deleted: it is not listed). */
  async rooms(): Promise<{ room: string; status: string; kind: RoomKind | undefined; lastSeq: number }[]> {
    return (await this.store.listRooms()).map((r) => ({ room: r.room, status: r.status, kind: r.kind, lastSeq: r.lastSeq }));
  }

  /**
   * Creates a room (§6.2): MUC join that creates it, configuration (members-only
   * for "group", open for "channel"), the MLS group with the service as external
   * sender, and the bind. Fails with code "conflict" if the room exists.
   */
  async createRoom(room: string, o: { kind?: RoomKind } = {}): Promise<void> {
    const s = await this.session(room);
    await s.create(o.kind ?? "group");
  }

  /**
   * Joins a room (§6.3): MUC presence with <device/>, join push, catch-up; if
   * this device is not a member, waits for its Welcome or joins by external
   * commit. Resolves when the device is a member and caught up.
   */
  async join(room: string): Promise<void> {
    const s = await this.session(room);
    await s.join();
  }

  /**
   * Switches a room between "group" (members-only: membership = affiliations)
   * and "channel" (open: membership follows occupancy), §6.10. Owners only.
   */
  async setRoomKind(room: string, kind: RoomKind): Promise<void> {
    const s = await this.session(room);
    await s.setKind(kind);
  }

  /**
   * Changes the room's subject (XEP-0045 §8.1): joins first if needed, sends
   * a groupchat message with only <subject/>, and resolves when the room
   * reflects the change (the "subject" event fires for it). Rejects with a
   * ClientError of code "stanza" when the room refuses, e.g. condition
   * "forbidden": only moderators may, unless the room's
   * muc#roomconfig_changesubject lets participants. "" clears the subject.
   *
   * The subject is NOT encrypted with MLS: it is plain MUC metadata that the
   * service stores and every occupant reads (docs/protocol.md §11).
   */
  async setSubject(room: string, subject: string): Promise<void> {
    const s = await this.joined(room);
    await s.setSubject(subject);
  }

  /**
   * The room's last known subject: the last one the room sent since this
   * client joined it (the room sends it at the end of every join); undefined
   * before that. "" means no subject. Plain MUC metadata, not MLS-protected.
   */
  subject(room: string): string | undefined {
    return this.sessions.get(bareJid(room))?.subject;
  }

  /**
   * Destroys the room (XEP-0045 §10.9, owners only): the service deletes it
   * with its group state and log, and every occupant gets an unavailable
   * presence with <destroy/>. Resolves once the service confirmed and this
   * device dropped its own state for the room ("destroyed" fires, and rooms()
   * no longer lists it); rejects with a ClientError of code "stanza" on
   * refusal (e.g. "forbidden" for a non-owner). The same room JID can then be
   * created again. `alternate` names a room that replaces it.
   */
  async destroyRoom(room: string, o: DestroyRoomOptions = {}): Promise<void> {
    if (o.alternate !== undefined && !isJid(o.alternate)) throw new ClientError("invalid-argument", `not a JID: '${o.alternate}'`);
    const s = await this.session(room);
    await s.destroyRoom(o);
  }

  /** Leaves the MUC room (the device stays an MLS member of a group room). */
  async leave(room: string): Promise<void> {
    const s = await this.session(room);
    await s.leave();
  }

  /** Rejoins every room this device was in (e.g. after open()). */
  async rejoinRooms(): Promise<void> {
    for (const r of await this.store.listRooms()) {
      if (!r.autoJoin) continue;
      const s = await this.session(r.room);
      await this.rejoinRetrying(s, () => s.join(), "rejoining");
    }
  }

  /** A room found destroyed on rejoin is no error: its "destroyed" event tells (XEP-0045 §10.9). */
  private reportRejoinError(e: unknown, what: string, room: string): void {
    if (isClientError(e, "destroyed")) return;
    this.reportError(e, what, room);
  }

  private async joined(room: string): Promise<RoomSession> {
    const s = await this.session(room);
    if (!s.occupant || !s.isMember) await s.join();
    return s;
  }

  /**
   * Sends a text message (§6.7). Resolves once the service accepted it (its
   * reflection with seq and stanza-id was processed). Commits pending
   * proposals first; re-encrypts and re-sends after stale-epoch.
   */
  async send(room: string, text: string, o: { id?: string } = {}): Promise<SendResult> {
    const s = await this.joined(room);
    return s.send(text, o.id);
  }

  /** Members from this device's MLS group state, and the affiliation lists when readable. */
  async members(room: string): Promise<RoomMembers> {
    const s = await this.session(room);
    const affiliations = await s.affiliations();
    return { room: s.room, epoch: s.isMember ? s.epoch : undefined, devices: s.memberDevices(), affiliations };
  }

  /** Fetches missed entries now (§6.8). */
  async catchUp(room: string): Promise<void> {
    const s = await this.session(room);
    await s.catchUp();
  }

  /**
   * Grants `member` affiliation (§6.4). With wait (default), resolves once the
   * commit adding every device of `jid` that the service proposed is accepted;
   * if no Add is proposed within proposalWaitMs (the user has no KeyPackages
   * yet), resolves with no devices: they will be added when they publish some
   * or join by external commit.
   */
  async invite(room: string, jid: string, o: AffiliationOptions = {}): Promise<AffiliationResult> {
    return this.changeAffiliation(room, jid, "member", o);
  }

  /** Revokes the affiliation (§6.6): the service proposes the Remove of all of the user's devices. */
  async remove(room: string, jid: string, o: AffiliationOptions = {}): Promise<AffiliationResult> {
    return this.changeAffiliation(room, jid, "none", o);
  }

  /** Bans (outcast, §6.6): Remove of all devices, and the user is kicked. */
  async ban(room: string, jid: string, o: AffiliationOptions = {}): Promise<AffiliationResult> {
    return this.changeAffiliation(room, jid, "outcast", o);
  }

  private async changeAffiliation(
    room: string,
    jid: string,
    affiliation: AffiliationResult["affiliation"],
    o: AffiliationOptions,
  ): Promise<AffiliationResult> {
    if (!isJid(jid) || !isBareUserJid(bareJid(jid))) throw new ClientError("invalid-argument", `not a user JID: '${jid}'`);
    const who = bareJid(jid);
    const s = await this.joined(room);
    const since = s.proposedAddCount;
    await s.setAffiliation(who, affiliation, o.reason);
    if (o.wait === false) return { room: s.room, jid: who, affiliation, devices: [], committed: false };
    const timeoutMs = o.timeoutMs ?? 30_000;
    if (affiliation === "member") {
      const devices = await s.waitAdded(who, since, o.proposalWaitMs ?? 3000, timeoutMs);
      return { room: s.room, jid: who, affiliation, devices, committed: true };
    }
    const devices = await s.waitRemoved(who, timeoutMs);
    return { room: s.room, jid: who, affiliation, devices, committed: true };
  }

  /**
   * §6.1.5: retires one of this account's devices (e.g. a lost phone) at the
   * service `domain`: its KeyPackages are deleted and its leaves removed from
   * every room. A retired device id is never usable again.
   */
  async retireDevice(deviceId: string, domain: string): Promise<void> {
    if (!DEVICE_ID_RE.test(deviceId)) throw new ClientError("invalid-argument", `not a device id: '${deviceId}'`);
    await this.request(xml("iq", { type: "set", to: domain }, xml("retire", { xmlns: NS.MLS, device: deviceId })), "retiring a device");
  }

  /** Resolves once all queued work of a room is done (mostly for tests). */
  async idle(room: string): Promise<void> {
    const s = this.sessions.get(bareJid(room));
    if (s) await s.idle();
  }

  /** The MLS epoch of this device's group state for `room`. */
  epochOf(room: string): number | undefined {
    return this.sessions.get(bareJid(room))?.epoch;
  }

  /** The epoch authenticator (§8.7) of the current epoch, for out-of-band comparison. */
  epochAuthenticator(room: string): Uint8Array | undefined {
    const g = this.sessions.get(bareJid(room))?.group;
    return g?.isActive ? g.epochAuthenticator : undefined;
  }

  /** Closes the connection (unless it was given) and the state file. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const s of this.sessions.values()) s.close();
    this.closed = true;
    this.cancelRetries();
    this.transport.off("stanza", this.onStanzaBound);
    this.transport.off("online", this.onOnlineBound);
    this.transport.off("offline", this.onOfflineBound);
    for (const s of this.sessions.values()) await s.idle().catch(() => undefined);
    if (!this.options.transport) await this.transport.stop().catch(() => undefined);
    await this.store.close().catch(() => undefined);
  }
}

