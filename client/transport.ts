// The XMPP transport the SDK runs on: anything that can send a stanza, run an
// iq request and report incoming stanzas. `XmppTransport` is the real one on
// @xmpp/client; tests plug in an in-memory object with the same few members.

import { EventEmitter } from "node:events";

import { client, type Client } from "@xmpp/client";
import { xml, type Element } from "@xmpp/xml";
import type { Logger } from "pino";

import { ClientError } from "./errors.js";

/**
 * What the SDK needs from an XMPP connection.
 *
 * Events: "stanza" (Element: every incoming message/presence/iq, including
 * iq replies), "online" (after a reconnect: the SDK rejoins and catches up),
 * "offline".
 */
export interface Transport {
  /** The full JID bound for this session (local@domain/resource). */
  readonly jid: string;
  send(stanza: Element): Promise<void>;
  /**
   * Sends an iq get/set (an id is added when missing) and resolves with the
   * reply iq, of type "result" or "error". Rejects only when no reply came in
   * `timeoutMs` or the connection is gone.
   */
  iq(stanza: Element, timeoutMs: number): Promise<Element>;
  on(event: "stanza", listener: (stanza: Element) => void): unknown;
  on(event: "online" | "offline", listener: () => void): unknown;
  off(event: "stanza", listener: (stanza: Element) => void): unknown;
  off(event: "online" | "offline", listener: () => void): unknown;
  /** Closes the connection (sends unavailable presence first when possible). */
  stop(): Promise<void>;
}

export type SaslMechanism = "PLAIN" | "SCRAM-SHA-1" | (string & {});

export interface XmppTransportOptions {
  /** Bare JID of the account (local@domain). */
  readonly jid: string;
  readonly password: string;
  /** "xmpp://host:port" (or "xmpps://", "ws://", "wss://"). Default: resolved from the domain (DNS SRV). */
  readonly service?: string | undefined;
  /** The XMPP domain, default the JID's. */
  readonly domain?: string | undefined;
  readonly resource?: string | undefined;
  /**
   * SASL mechanism. Default: PLAIN only if the connection is TLS or to a
   * loopback address; otherwise the best offered mechanism other than PLAIN.
   */
  readonly mechanism?: SaslMechanism | undefined;
  /** Reconnect after a connection loss (default true). */
  readonly reconnect?: boolean | undefined;
  readonly timeoutMs?: number | undefined;
  readonly logger: Logger;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

/** True when `service` (a URL such as xmpp://127.0.0.1:5222) points to a loopback address. */
export function isLoopbackService(service: string | undefined): boolean {
  if (!service) return false;
  try {
    const host = new URL(service).hostname.toLowerCase();
    return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/** Picks the SASL mechanism (see XmppTransportOptions.mechanism). Exported for tests. */
export function chooseMechanism(offered: readonly string[], requested: string | undefined, secure: boolean, loopback: boolean): string {
  if (requested !== undefined) {
    if (!offered.includes(requested)) {
      throw new ClientError("auth", `SASL mechanism ${requested} not offered (offered: ${offered.join(", ") || "none"})`);
    }
    return requested;
  }
  if ((secure || loopback) && offered.includes("PLAIN")) return "PLAIN";
  const preferred = ["SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1"].find((m) => offered.includes(m));
  if (preferred) return preferred;
  if (offered.includes("PLAIN")) {
    throw new ClientError("auth", "the server offers only PLAIN on a connection that is neither TLS nor loopback; pass mechanism: 'PLAIN' to allow it");
  }
  throw new ClientError("auth", `no usable SASL mechanism (offered: ${offered.join(", ") || "none"})`);
}

/**
 * The credentials as @xmpp/client's SASL layer needs them. It base64-encodes
 * each mechanism message with btoa(), which takes one character per byte
 * (Latin-1) and throws on anything above U+00FF; but the strings on the wire
 * are UTF-8 (RFC 4616 §2 for PLAIN, RFC 5802 §5.1 for SCRAM's n=). So what
 * goes into those messages is handed over as its UTF-8 bytes, one character
 * per byte: the username always, the password for PLAIN. SCRAM's password
 * stays as it is: its library UTF-8-encodes it itself for Hi().
 */
export function saslCredentials(mechanism: string, username: string, password: string): { username: string; password: string } {
  return { username: utf8Bytes(username), password: mechanism === "PLAIN" ? utf8Bytes(password) : password };
}

function utf8Bytes(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) out += String.fromCharCode(b);
  return out;
}

/** The SDK transport on @xmpp/client. */
export class XmppTransport extends EventEmitter implements Transport {
  private online = false;
  private everOnline = false;

  private constructor(
    private readonly xmpp: Client,
    private readonly logger: Logger,
  ) {
    super();
    xmpp.on("stanza", (s: Element) => this.emit("stanza", s));
    xmpp.on("online", () => {
      this.online = true;
      if (this.everOnline) this.emit("online");
      this.everOnline = true;
    });
    xmpp.on("offline", () => {
      this.online = false;
      this.emit("offline");
    });
    xmpp.on("status", (status: string) => {
      if (status === "disconnect" && this.online) {
        this.online = false;
        this.emit("offline");
      }
    });
    // An 'error' event without a listener would crash the process.
    xmpp.on("error", (e: Error) => this.logger.warn({ err: e }, "xmpp connection error"));
  }

  static async connect(o: XmppTransportOptions): Promise<XmppTransport> {
    const at = o.jid.indexOf("@");
    if (at <= 0) throw new ClientError("invalid-argument", `not a user JID: '${o.jid}'`);
    const username = o.jid.slice(0, at);
    const domain = o.domain ?? o.jid.slice(at + 1).replace(/\/.*$/, "");
    const loopback = isLoopbackService(o.service);
    let authError: ClientError | undefined;
    const xmpp = client({
      ...(o.service !== undefined ? { service: o.service } : {}),
      domain,
      ...(o.resource !== undefined ? { resource: o.resource } : {}),
      credentials: async (authenticate, mechanisms, _fast, entity) => {
        let mech: string;
        try {
          mech = chooseMechanism(mechanisms, o.mechanism, entity.isSecure(), loopback);
        } catch (e) {
          authError = e as ClientError;
          throw e;
        }
        o.logger.debug({ mechanism: mech }, "SASL mechanism");
        await authenticate(saslCredentials(mech, username, o.password), mech);
      },
    });
    const t = new XmppTransport(xmpp, o.logger);
    if (o.reconnect === false) xmpp.reconnect.stop();
    const timeoutMs = o.timeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        xmpp.start(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ClientError("timeout", `connecting as ${o.jid}: no session after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      xmpp.reconnect.stop();
      await xmpp.stop().catch(() => undefined);
      if (authError) throw authError;
      if (e instanceof ClientError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      const cond = (e as { condition?: string }).condition;
      if (cond === "not-authorized" || /not-authorized|SASL/i.test(msg)) {
        throw new ClientError("auth", `authentication of ${o.jid} failed: ${msg}`, { condition: cond, cause: e });
      }
      throw new ClientError("connection", `cannot connect as ${o.jid}: ${msg}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    return t;
  }

  get jid(): string {
    const j = this.xmpp.jid;
    if (!j) throw new ClientError("connection", "not connected");
    return j.toString();
  }

  async send(stanza: Element): Promise<void> {
    try {
      await this.xmpp.send(stanza);
    } catch (e) {
      throw new ClientError("connection", `send failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  async iq(stanza: Element, timeoutMs: number): Promise<Element> {
    try {
      return await this.xmpp.iqCaller.request(stanza, timeoutMs);
    } catch (e) {
      // iqCaller rejects with an XMPPError carrying the <error/> element: hand back an error iq.
      const el = (e as { element?: Element }).element;
      if (el) {
        return xml("iq", { type: "error", id: stanza.attrs["id"] ?? "", from: stanza.attrs["to"] ?? "" }, el);
      }
      const name = (e as { name?: string }).name;
      if (name === "TimeoutError") throw new ClientError("timeout", `no answer to iq ${stanza.getChildElements()[0]?.name ?? ""} within ${timeoutMs} ms`);
      throw new ClientError("connection", `iq failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  async stop(): Promise<void> {
    this.xmpp.reconnect.stop();
    try {
      if (this.online) await this.xmpp.send(xml("presence", { type: "unavailable" }));
    } catch {
      // closing anyway
    }
    await this.xmpp.stop().catch(() => undefined);
  }
}
