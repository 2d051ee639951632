// A minimal XMPP client over a raw TCP socket, for the room benchmark.
//
// A hundred @xmpp/client connections in one Node process would spend most of
// the benchmark parsing every fanned-out stanza into ltx elements. This
// client logs in (SASL PLAIN over loopback, resource binding) and then only
// *splits* the incoming stream into top-level stanzas by counting tags: the
// timed path looks at the raw text (the id attribute), and the rare stanzas
// the setup needs are parsed on demand (parseStanza).
//
// It relies on what every XMPP server sends: no CDATA sections, no comments,
// '>' and '<' escaped in attribute values and text.

import net from "node:net";


export interface WireOptions {
  host: string;
  port: number;
  /** The VirtualHost. */
  domain: string;
  username: string;
  password: string;
  resource?: string;
  timeoutMs?: number;
}

const STREAM_OPEN = (domain: string) =>
  `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

/** Parses one serialized stanza (the test suite's parser). */
export { default as parseStanza } from "../../test/client/xml-parse.js";

/** The value of attribute `name` in the start tag of a serialized stanza (either quote style). */
export function startTagAttr(raw: string, name: string): string | undefined {
  const end = raw.indexOf(">");
  const head = end < 0 ? raw : raw.slice(0, end);
  const key = ` ${name}=`;
  const i = head.indexOf(key);
  if (i < 0) return undefined;
  const q = head[i + key.length];
  const j = head.indexOf(q!, i + key.length + 1);
  return j < 0 ? undefined : head.slice(i + key.length + 1, j);
}

export const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
export const escapeAttr = (s: string) => escapeText(s).replace(/'/g, "&apos;").replace(/"/g, "&quot;");

type StanzaListener = (raw: string, at: number) => void;

export class WireClient {
  /** The bound full JID. */
  jid = "";
  private readonly socket: net.Socket;
  private buf = "";
  private pos = 0;
  private depth = 0;
  private start = -1;
  private listeners: StanzaListener[] = [];
  private idSeq = 0;
  private readonly pendingIq = new Map<string, { resolve: (raw: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private closed = false;
  /** Bytes received so far. */
  bytesIn = 0;

  private constructor(
    socket: net.Socket,
    readonly options: WireOptions,
  ) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.setNoDelay(true);
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
      for (const p of this.pendingIq.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${this.options.username}: connection closed`));
      }
      this.pendingIq.clear();
    });
  }

  get bareJid(): string {
    return `${this.options.username}@${this.options.domain}`;
  }

  /** Connects, authenticates with PLAIN, binds a resource. */
  static async connect(o: WireOptions): Promise<WireClient> {
    const socket = net.connect({ host: o.host, port: o.port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const c = new WireClient(socket, o);
    const timeout = o.timeoutMs ?? 15_000;
    try {
      let features = c.next((raw) => raw.startsWith("<stream:features"), timeout);
      socket.write(STREAM_OPEN(o.domain));
      if (!(await features).includes("PLAIN")) throw new Error("the server offers no SASL PLAIN");
      const auth = Buffer.from(`\0${o.username}\0${o.password}`, "utf8").toString("base64");
      const outcome = c.next((raw) => raw.startsWith("<success") || raw.startsWith("<failure"), timeout);
      socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`);
      const res = await outcome;
      if (!res.startsWith("<success")) throw new Error(`${o.username}: authentication failed: ${res}`);
      // Stream restart.
      c.resetStream();
      features = c.next((raw) => raw.startsWith("<stream:features"), timeout);
      socket.write(STREAM_OPEN(o.domain));
      await features;
      const bound = await c.iq(
        `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${escapeText(o.resource ?? "bench")}</resource></bind></iq>`,
        timeout,
      );
      const jid = /<jid>([^<]+)<\/jid>/.exec(bound)?.[1];
      if (!jid) throw new Error(`${o.username}: no JID bound: ${bound}`);
      c.jid = jid;
      return c;
    } catch (e) {
      socket.destroy();
      throw e;
    }
  }

  /** Raw XML out. */
  send(xml: string): void {
    if (this.closed) throw new Error(`${this.options.username}: connection closed`);
    this.socket.write(xml);
  }

  /** Sends an iq (an id is added when it has none) and resolves with the reply; rejects on type='error'. */
  iq(xml: string, timeoutMs = 30_000): Promise<string> {
    let id = startTagAttr(xml, "id");
    if (id === undefined) {
      id = `w${++this.idSeq}`;
      xml = xml.replace(/^<iq /, `<iq id='${id}' `);
    }
    const key = id;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingIq.delete(key);
        reject(new Error(`${this.options.username}: no answer to iq ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingIq.set(key, {
        resolve: (raw) => (startTagAttr(raw, "type") === "error" ? reject(new Error(`iq ${key} failed: ${raw}`)) : resolve(raw)),
        reject,
        timer,
      });
      this.send(xml);
    });
  }

  /** Every stanza, raw, with its arrival time (performance.now()). */
  onStanza(listener: StanzaListener): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }

  /** The next stanza matching `match`. */
  next(match: (raw: string) => boolean, timeoutMs = 15_000): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const off = this.onStanza((raw) => {
        if (!match(raw)) return;
        clearTimeout(timer);
        off();
        resolve(raw);
      });
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.options.username}: no matching stanza within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 2_000);
      this.socket.once("close", () => {
        clearTimeout(t);
        resolve();
      });
      this.socket.end("</stream:stream>");
    });
  }

  private resetStream(): void {
    this.buf = "";
    this.pos = 0;
    this.depth = 0;
    this.start = -1;
  }

  private emit(raw: string): void {
    const at = performance.now();
    if (raw.startsWith("<iq")) {
      const id = startTagAttr(raw, "id");
      const type = startTagAttr(raw, "type");
      const p = id !== undefined && (type === "result" || type === "error") ? this.pendingIq.get(id) : undefined;
      if (p) {
        this.pendingIq.delete(id!);
        clearTimeout(p.timer);
        p.resolve(raw);
        return;
      }
    }
    for (const l of this.listeners) l(raw, at);
  }

  /** Splits the stream into top-level elements (depth 1 under <stream:stream>). */
  private onData(chunk: string): void {
    this.bytesIn += chunk.length;
    this.buf += chunk;
    for (;;) {
      const b = this.buf;
      const lt = b.indexOf("<", this.pos);
      if (lt < 0) {
        this.pos = b.length;
        break;
      }
      const gt = b.indexOf(">", lt);
      if (gt < 0) {
        this.pos = lt;
        break;
      }
      const c = b.charCodeAt(lt + 1);
      this.pos = gt + 1;
      if (c === 63 /* ? */ || c === 33 /* ! */) continue;
      if (c === 47 /* / */) {
        this.depth--;
        if (this.depth === 1) {
          const raw = b.slice(this.start, gt + 1);
          this.buf = b.slice(gt + 1);
          this.pos = 0;
          this.start = -1;
          this.emit(raw);
        } else if (this.depth <= 0) {
          this.closed = true; // </stream:stream>
        }
        continue;
      }
      const selfClosing = b.charCodeAt(gt - 1) === 47;
      if (this.depth === 0) {
        this.depth = 1; // <stream:stream ...>
        this.buf = b.slice(gt + 1);
        this.pos = 0;
        continue;
      }
      if (this.depth === 1) {
        if (selfClosing) {
          const raw = b.slice(lt, gt + 1);
          this.buf = b.slice(gt + 1);
          this.pos = 0;
          this.emit(raw);
          continue;
        }
        this.start = lt;
      }
      if (!selfClosing) this.depth++;
    }
    // Keep only the unfinished stanza.
    if (this.start > 0) {
      this.buf = this.buf.slice(this.start);
      this.pos -= this.start;
      this.start = 0;
    } else if (this.start < 0 && this.pos > 0) {
      this.buf = this.buf.slice(this.pos);
      this.pos = 0;
    }
  }
}
