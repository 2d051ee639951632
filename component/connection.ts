// The XEP-0114 connection to the XMPP server, kept up with exponential
// backoff.
//
// xmpp.js's own reconnect module retries forever at a fixed delay, and its
// middleware answers every iq it has no handler for. Both are switched off:
// each attempt uses a fresh @xmpp/component entity with its reconnect module
// stopped and its middleware detached, and stanzas go to our router through
// the 'stanza' event of this class.
//
// Stanzas are never queued while offline: send() rejects, and the caller
// decides (a reply to a request that arrived before the drop is lost with
// the connection anyway; the MLS layer keeps its own durable queue).

import { EventEmitter } from "node:events";
import { component } from "@xmpp/component";
import Parser from "@xmpp/xml/lib/Parser.js";

import { childLogger, parseHostPort, type Logger } from "../config/index.js";
import { backoffDelay } from "./backoff.js";
import { SafeEmitter } from "./events.js";
import type { Element } from "./xmpp/xml.js";

/** What we use of an xmpp.js entity. */
export interface XmppEntity extends EventEmitter {
  status: string;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(element: Element): Promise<void>;
  /** Writes serialized XML as is (xmpp.js Connection.write). */
  write?(data: string): Promise<void>;
}

export interface EntityParams {
  /** "xmpp://host:port" */
  service: string;
  domain: string;
  secret: string;
}

export type EntityFactory = (params: EntityParams) => XmppEntity;

/** A @xmpp/component entity without its reconnect module and without its middleware. */
export const createXmppComponentEntity: EntityFactory = ({ service, domain, secret }) => {
  const entity = component({ service, domain, password: secret });
  entity.reconnect.stop();
  // The middleware listens on 'element'; its iq callee would answer iqs on its
  // own (service-unavailable) before our router sees them. Authentication
  // adds its own one-shot 'element' listener later, which this does not touch.
  entity.removeAllListeners("element");
  return entity as unknown as XmppEntity;
};

/** "xmpp://host:port" for a config "host:port" (IPv6 in brackets). */
export function serviceUri(server: string): string {
  const { host, port } = parseHostPort(server);
  return `xmpp://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export type ConnectionState = "idle" | "connecting" | "online" | "waiting" | "stopped";

export class NotConnectedError extends Error {
  override readonly name = "NotConnectedError";
  readonly code = "offline";
  constructor(state: ConnectionState) {
    super(`not connected to the XMPP server (state: ${state})`);
  }
}

export interface ConnectionOptions {
  /** config.component.server ("host:port"). */
  server: string;
  domain: string;
  secret: string;
  reconnect: { initialDelayMs: number; maxDelayMs: number };
  logger: Logger;
  /** Give up an attempt after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** For tests. */
  createEntity?: EntityFactory;
  random?: () => number;
}

export interface ConnectionEvents {
  online: [];
  offline: [{ reason: string }];
  stanza: [Element];
  state: [ConnectionState];
}

interface Attempt {
  entity: XmppEntity;
  done: boolean;
}

export class ComponentConnection extends SafeEmitter<ConnectionEvents> {
  private readonly log: Logger;
  private readonly params: EntityParams;
  private readonly createEntity: EntityFactory;
  private current: Attempt | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retries = 0;
  private _state: ConnectionState = "idle";

  constructor(private readonly options: ConnectionOptions) {
    super((event, err) => this.log.error({ err, event }, "connection listener failed"));
    this.log = childLogger(options.logger, "connection", { domain: options.domain, server: options.server });
    this.params = { service: serviceUri(options.server), domain: options.domain, secret: options.secret };
    this.createEntity = options.createEntity ?? createXmppComponentEntity;
  }

  get state(): ConnectionState {
    return this._state;
  }

  get online(): boolean {
    return this._state === "online";
  }

  /** Starts connecting (and keeps reconnecting until stop()). Returns at once. */
  start(): void {
    if (this._state !== "idle") return;
    this.connect();
  }

  /** Resolves at the next 'online' (at once if online); rejects after `timeoutMs`. */
  waitOnline(timeoutMs = 30_000): Promise<void> {
    if (this.online) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`not online within ${timeoutMs} ms (state: ${this._state})`));
      }, timeoutMs);
      const off = this.once("online", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Sends a stanza. Rejects with NotConnectedError when not online: nothing is
   * queued. Stanzas sent one after the other (without awaiting) go out in order.
   */
  send(stanza: Element): Promise<void> {
    const attempt = this.current;
    if (this._state !== "online" || !attempt) return Promise.reject(new NotConnectedError(this._state));
    if (stanza.attrs["from"] === undefined) stanza.attrs["from"] = this.options.domain;
    return attempt.entity.send(stanza);
  }

  /**
   * Sends already serialized stanzas (one or more, each with its 'from') in
   * one write. For the MLS fan-out, whose copies are serialized once per entry
   * and differ only in 'to'. Rejects when offline, like send().
   */
  sendRaw(xml: string): Promise<void> {
    const attempt = this.current;
    if (this._state !== "online" || !attempt) return Promise.reject(new NotConnectedError(this._state));
    const entity = attempt.entity;
    if (typeof entity.write === "function") return entity.write(xml);
    // An entity without write() (a test double): parse and send stanza by stanza.
    return parseStanzas(xml).reduce((p, el) => p.then(() => entity.send(el)), Promise.resolve());
  }

  /** Closes the stream and stops reconnecting. */
  async stop(): Promise<void> {
    if (this._state === "stopped") return;
    const wasOnline = this._state === "online";
    this.setState("stopped");
    clearTimeout(this.timer);
    const attempt = this.current;
    this.current = undefined;
    if (attempt) {
      attempt.done = true;
      await withTimeout(attempt.entity.stop(), 3_000).catch(() => undefined);
    }
    if (wasOnline) this.emit("offline", { reason: "stopped" });
    this.log.info("connection stopped");
  }

  private setState(state: ConnectionState): void {
    if (this._state === state) return;
    this._state = state;
    this.log.debug({ state }, "connection state");
    this.emit("state", state);
  }

  private connect(): void {
    this.setState("connecting");
    let entity: XmppEntity;
    try {
      entity = this.createEntity(this.params);
    } catch (err) {
      this.log.error({ err }, "cannot create the XMPP connection");
      this.scheduleRetry();
      return;
    }
    const attempt: Attempt = { entity, done: false };
    this.current = attempt;

    entity.on("error", (err: unknown) => {
      // Always listening: an 'error' without a listener would crash the process.
      if (attempt === this.current && !attempt.done) this.log.debug({ err: describeError(err) }, "connection error");
    });
    entity.on("stanza", (stanza: Element) => {
      if (attempt === this.current && this._state === "online") this.emit("stanza", stanza);
    });
    entity.on("status", (status: string) => {
      if (status !== "disconnect" && status !== "offline") return;
      if (this._state === "online") this.lost(attempt, `connection ${status}`);
      else this.failed(attempt, new Error(`connection ${status} while connecting`));
    });

    this.log.debug({ attempt: this.retries }, "connecting");
    withTimeout(entity.start(), this.options.connectTimeoutMs ?? 10_000).then(
      () => {
        if (attempt !== this.current || attempt.done) return;
        this.retries = 0;
        // No Nagle: a fan-out's last segment must not wait for the server's (delayed) ACK.
        (entity as { socket?: { setNoDelay?: (on: boolean) => unknown } }).socket?.setNoDelay?.(true);
        this.setState("online");
        this.log.info("online");
        this.emit("online");
      },
      (err: unknown) => this.failed(attempt, err),
    );
  }

  private failed(attempt: Attempt, err: unknown): void {
    if (attempt !== this.current || attempt.done) return;
    attempt.done = true;
    const e = describeError(err);
    if (e.condition === "not-authorized") {
      this.log.error({ err: e }, "the server refused the handshake: check that component.secret equals the server's component_secret");
    } else if (e.condition === "conflict") {
      this.log.error({ err: e }, "the server refused the connection: another component is connected for this domain");
    } else {
      this.log.warn({ err: e }, "cannot connect to the XMPP server");
    }
    void attempt.entity.stop().catch(() => undefined);
    this.scheduleRetry();
  }

  private lost(attempt: Attempt, reason: string): void {
    if (attempt !== this.current || attempt.done) return;
    attempt.done = true;
    this.log.warn({ reason }, "lost the connection to the XMPP server");
    this.setState("waiting");
    this.emit("offline", { reason });
    void attempt.entity.stop().catch(() => undefined);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this._state === "stopped") return;
    const delayMs = backoffDelay(this.retries, this.options.reconnect, this.options.random);
    this.retries += 1;
    this.setState("waiting");
    this.log.info({ delayMs, attempt: this.retries }, "reconnecting after a delay");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this._state === "waiting") this.connect();
    }, delayMs);
  }
}

function describeError(err: unknown): { message: string; condition?: string } {
  if (err instanceof Error) {
    const condition = (err as { condition?: unknown }).condition;
    return typeof condition === "string" ? { message: err.message, condition } : { message: err.message };
  }
  return { message: String(err) };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The top-level elements of a string of serialized stanzas. */
function parseStanzas(xml: string): Element[] {
  const parser = new Parser();
  const out: Element[] = [];
  let error: Error | undefined;
  parser.on("element", (el) => out.push(el as unknown as Element));
  parser.on("error", (e) => (error ??= e));
  parser.write(`<stanzas>${xml}</stanzas>`);
  if (error) throw error;
  return out;
}
