// An in-memory XMPP network for client tests: full JIDs get FakeTransports,
// component domains get a handler. Stanzas are serialized and parsed again on
// delivery (nothing is shared between sender and receiver), and delivered
// asynchronously in FIFO order. Tests can intercept deliveries to reorder,
// drop, hold or duplicate them.

import { EventEmitter } from "node:events";

import { xml, type Element } from "@xmpp/xml";
import parseXml from "./xml-parse.js";

import { ClientError } from "../../client/errors.js";
import type { Transport } from "../../client/transport.js";

export type Interceptor = (to: string, stanza: Element) => "deliver" | "drop" | "hold";

function bare(jid: string): string {
  const i = jid.indexOf("/");
  return i < 0 ? jid : jid.slice(0, i);
}

export class FakeNetwork {
  private readonly endpoints = new Map<string, FakeTransport>();
  private readonly components = new Map<string, (stanza: Element) => void>();
  private readonly interceptors: Interceptor[] = [];
  private readonly outbound: ((from: string, stanza: Element) => "deliver" | "drop")[] = [];
  private readonly held: { to: string; stanza: Element }[] = [];
  private readonly down = new Set<string>();
  private seq = 0;
  /** Every stanza delivered, for assertions. */
  readonly trace: { from: string; to: string; stanza: string }[] = [];
  traceEnabled = false;

  connect(fullJid: string): FakeTransport {
    if (this.endpoints.has(fullJid)) throw new Error(`${fullJid} already connected`);
    const t = new FakeTransport(this, fullJid);
    this.endpoints.set(fullJid, t);
    return t;
  }

  /** A new resource of an account. */
  connectUser(bareJid: string): FakeTransport {
    return this.connect(`${bareJid}/r${++this.seq}`);
  }

  registerComponent(domain: string, handler: (stanza: Element) => void): void {
    this.components.set(domain, handler);
  }

  /**
   * Takes a component off the network (or back): the server then answers
   * what is sent to it as Prosody does for a component that is not connected,
   * iq and presence with remote-server-timeout (0.12), messages dropped.
   */
  setComponentDown(domain: string, down: boolean): void {
    if (down) this.down.add(domain);
    else this.down.delete(domain);
  }

  /** @internal */
  detach(t: FakeTransport): void {
    if (this.endpoints.get(t.jid) === t) this.endpoints.delete(t.jid);
    // The server tells the component that this resource is gone (like an unavailable broadcast).
    for (const [domain, handler] of this.components) {
      void domain;
      handler(parseXml(xml("presence", { type: "unavailable", from: t.jid, to: domain, "x-disconnect": "1" }).toString()));
    }
  }

  /** @internal */
  reattach(t: FakeTransport): void {
    this.endpoints.set(t.jid, t);
  }

  addInterceptor(i: Interceptor): () => void {
    this.interceptors.push(i);
    return () => {
      const k = this.interceptors.indexOf(i);
      if (k >= 0) this.interceptors.splice(k, 1);
    };
  }

  /** Filters stanzas sent by clients (to the DS or anyone). */
  addOutboundInterceptor(i: (from: string, stanza: Element) => "deliver" | "drop"): () => void {
    this.outbound.push(i);
    return () => {
      const k = this.outbound.indexOf(i);
      if (k >= 0) this.outbound.splice(k, 1);
    };
  }

  /** Held stanzas (see Interceptor). */
  get heldStanzas(): readonly { to: string; stanza: Element }[] {
    return this.held;
  }

  /** Delivers held stanzas, in the given order of indices (default: as held), then forgets them. */
  releaseHeld(order?: readonly number[], duplicate = false): void {
    const list = order ? order.map((i) => this.held[i]!) : [...this.held];
    this.held.length = 0;
    for (const h of list) {
      this.deliverNow(h.to, h.stanza);
      if (duplicate) this.deliverNow(h.to, h.stanza);
    }
  }

  dropHeld(): void {
    this.held.length = 0;
  }

  /** Routes a stanza sent by `from`. */
  send(from: string, stanza: Element): void {
    const s = parseXml(stanza.toString());
    s.attrs["from"] = from;
    const to = s.attrs["to"];
    if (!to) return;
    for (const i of this.outbound) if (i(from, s) === "drop") return;
    const domain = bare(to).split("@").pop()!;
    const component = this.components.get(domain);
    if (component && this.down.has(domain)) {
      const type = s.attrs["type"];
      if ((s.name === "iq" && (type === "get" || type === "set")) || (s.name === "presence" && type !== "unavailable" && type !== "error")) {
        const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
        const error = xml("error", { type: "wait" }, xml("remote-server-timeout", { xmlns: NS_STANZAS }), xml("text", { xmlns: NS_STANZAS }, "Component unavailable"));
        this.deliver(from, xml(s.name, { type: "error", from: to, to: from, ...(s.attrs["id"] ? { id: s.attrs["id"] } : {}) }, error));
      }
      return;
    }
    if (component) {
      setImmediate(() => component(s));
      return;
    }
    this.deliver(to, s);
  }

  /** Sends from a component (the DS) to a user JID. */
  fromComponent(stanza: Element): void {
    const s = parseXml(stanza.toString());
    const to = s.attrs["to"];
    if (!to) return;
    this.deliver(to, s);
  }

  private deliver(to: string, s: Element): void {
    for (const i of this.interceptors) {
      const verdict = i(to, s);
      if (verdict === "drop") return;
      if (verdict === "hold") {
        this.held.push({ to, stanza: s });
        return;
      }
    }
    this.deliverNow(to, s);
  }

  private deliverNow(to: string, s: Element): void {
    const targets = to.includes("/") ? [this.endpoints.get(to)] : [...this.endpoints.values()].filter((t) => bare(t.jid) === to);
    for (const t of targets) {
      if (!t) continue;
      const copy = parseXml(s.toString());
      if (this.traceEnabled) this.trace.push({ from: s.attrs["from"] ?? "", to, stanza: s.toString() });
      setImmediate(() => t.receive(copy));
    }
  }
}

export class FakeTransport extends EventEmitter implements Transport {
  private readonly pending = new Map<string, { resolve: (e: Element) => void; timer: NodeJS.Timeout }>();
  private nextId = 0;
  private connected = true;
  readonly sent: Element[] = [];

  constructor(
    private readonly net: FakeNetwork,
    readonly jid: string,
  ) {
    super();
  }

  async send(stanza: Element): Promise<void> {
    if (!this.connected) throw new ClientError("connection", "offline");
    this.sent.push(stanza);
    this.net.send(this.jid, stanza);
  }

  iq(stanza: Element, timeoutMs: number): Promise<Element> {
    if (!this.connected) return Promise.reject(new ClientError("connection", "offline"));
    const id = stanza.attrs["id"] ?? `iq${++this.nextId}`;
    stanza.attrs["id"] = id;
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ClientError("timeout", `iq ${id} timed out`));
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      this.net.send(this.jid, stanza);
    });
  }

  /** @internal from the network */
  receive(stanza: Element): void {
    if (!this.connected) return;
    if (stanza.name === "iq" && (stanza.attrs["type"] === "result" || stanza.attrs["type"] === "error")) {
      const p = this.pending.get(stanza.attrs["id"] ?? "");
      if (p) {
        this.pending.delete(stanza.attrs["id"]!);
        clearTimeout(p.timer);
        p.resolve(stanza);
      }
    }
    this.emit("stanza", stanza);
  }

  /** Simulates a connection loss. */
  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.net.detach(this);
    this.emit("offline");
  }

  /** Comes back online (same full JID), like a reconnect. */
  reconnect(): void {
    if (this.connected) return;
    this.connected = true;
    this.net.reattach(this);
    this.emit("online");
  }

  async stop(): Promise<void> {
    this.disconnect();
  }
}
