// The stanza router: the component's edge.
//
// Every stanza from the server comes through dispatch(). The router checks
// the addresses, works out the target (the service, a room, an occupant),
// serializes everything addressed to one room (one lock per room, FIFO), and
// hands the stanza to the handler registered for it:
//   - iq get/set: by (type, payload namespace, payload name, target kind);
//     none -> service-unavailable;
//   - message, presence: the first handler whose filter matches, in
//     registration order; none -> the fallback (see below).
// A handler throws a StanzaError to refuse; any other exception becomes
// internal-server-error (and is logged). Both are turned into an error reply
// here, by buildErrorReply, and nowhere else. The router never crashes on a
// stanza: missing or malformed attributes get an error reply when there is
// someone to send it to, and are dropped (with a log line) otherwise.

import type { Logger } from "../config/index.js";
import { KeyedLock } from "../mapping/keyed-lock.js";
import { buildErrorReply } from "./xmpp/error-reply.js";
import { JidError, parseJidRemembered, type Jid } from "./xmpp/jid.js";
import { isStanzaError, stanzaError, StanzaError } from "./xmpp/stanza-error.js";
import { attr, xml, type Element } from "./xmpp/xml.js";

export { KeyedLock };

export type StanzaKind = "iq" | "message" | "presence";

export type Target =
  | { kind: "service" }
  | { kind: "room"; room: string }
  | { kind: "occupant"; room: string; nick: string };
export type TargetKind = Target["kind"];

export interface StanzaContext {
  readonly stanza: Element;
  readonly kind: StanzaKind;
  /** With the RFC 6121 defaults: message "normal", presence "available". */
  readonly type: string;
  readonly id: string | undefined;
  readonly from: Jid;
  readonly to: Jid;
  readonly target: Target;
  /** The iq payload (its single child element); undefined for messages and presences. */
  readonly payload: Element | undefined;
  readonly log: Logger;
  /** Sends a stanza (rejects when offline). */
  send(stanza: Element): Promise<void>;
  /**
   * iq only: sends the result now, with an optional payload. Use it when the
   * result must go out before other stanzas (XEP-0045: "inform the admin of
   * success, then ..."). Without it the router replies after the handler.
   */
  reply(payload?: Element): Promise<void>;
  readonly replied: boolean;
}

export type IqHandler = (ctx: StanzaContext) => Promise<Element | void>;
export type StanzaHandler = (ctx: StanzaContext) => Promise<void>;

export interface IqRoute {
  type: "get" | "set";
  ns: string;
  /** Payload element name; any name when omitted. */
  name?: string;
  /** Target kinds; all when omitted. */
  target?: TargetKind | readonly TargetKind[];
}

export interface StanzaRoute {
  target?: TargetKind | readonly TargetKind[];
  /** Stanza types (with defaults applied); all when omitted. */
  type?: string | readonly string[];
  /** Further filter. */
  match?: (ctx: StanzaContext) => boolean;
}

export interface RouterOptions {
  /** The component's domain: stanzas to other domains are refused. */
  domain: string;
  send: (stanza: Element) => Promise<void>;
  logger: Logger;
  /** The per-room locks, shared with whoever else changes rooms (RoomHost). Default: the router's own. */
  locks?: KeyedLock;
}

interface IqEntry extends IqRoute {
  handler: IqHandler;
}
interface StanzaEntry extends StanzaRoute {
  kind: "message" | "presence";
  handler: StanzaHandler;
}

function asList<T>(v: T | readonly T[] | undefined): readonly T[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? (v as readonly T[]) : [v as T];
}

export class Router {
  private readonly iqs: IqEntry[] = [];
  private readonly stanzas: StanzaEntry[] = [];
  readonly locks: KeyedLock;
  private readonly log: Logger;

  constructor(private readonly options: RouterOptions) {
    this.log = options.logger;
    this.locks = options.locks ?? new KeyedLock();
  }

  iq(route: IqRoute, handler: IqHandler): void {
    this.iqs.push({ ...route, handler });
  }

  message(route: StanzaRoute, handler: StanzaHandler): void {
    this.stanzas.push({ ...route, kind: "message", handler });
  }

  presence(route: StanzaRoute, handler: StanzaHandler): void {
    this.stanzas.push({ ...route, kind: "presence", handler });
  }

  /** The (namespace, name) pairs of registered iq payloads, for tests and disco. */
  get iqNamespaces(): string[] {
    return [...new Set(this.iqs.map((e) => e.ns))];
  }

  /** Handles one stanza from the server. Never rejects. */
  async dispatch(stanza: Element): Promise<void> {
    try {
      await this.dispatchUnsafe(stanza);
    } catch (err) {
      // Only a bug gets here (handlers' errors are caught below).
      this.log.error({ err }, "stanza dispatch failed");
    }
  }

  private async dispatchUnsafe(stanza: Element): Promise<void> {
    const kind = stanza.name;
    if (kind !== "iq" && kind !== "message" && kind !== "presence") {
      this.log.debug({ name: kind }, "ignoring a non-stanza element");
      return;
    }
    const rawFrom = attr(stanza, "from");
    const rawTo = attr(stanza, "to");
    const rawType = attr(stanza, "type");
    const type = rawType ?? (kind === "message" ? "normal" : kind === "presence" ? "available" : "");

    let from: Jid;
    try {
      if (rawFrom === undefined) throw new JidError("", "missing 'from'");
      from = parseJidRemembered(rawFrom);
    } catch (err) {
      // No one to answer: the server stamps 'from', so this is a server bug or a spoof.
      this.log.warn({ from: rawFrom, kind, problem: (err as Error).message }, "dropping a stanza with a missing or malformed 'from'");
      return;
    }

    const fail = (e: StanzaError, by?: string, replyFrom?: string) => this.sendError(stanza, e, by, replyFrom);

    let to: Jid;
    try {
      if (rawTo === undefined) throw new JidError("", "missing 'to'");
      to = parseJidRemembered(rawTo);
    } catch (err) {
      await fail(stanzaError("jid-malformed", (err as Error).message), this.options.domain, this.options.domain);
      return;
    }
    if (to.domain !== this.options.domain) {
      await fail(stanzaError("item-not-found", `this service is ${this.options.domain}`), this.options.domain, this.options.domain);
      return;
    }

    const target: Target = !to.local
      ? { kind: "service" }
      : to.resource
        ? { kind: "occupant", room: to.bare, nick: to.resource }
        : { kind: "room", room: to.bare };
    const by = target.kind === "service" ? this.options.domain : to.bare;

    if (kind === "iq") {
      if (type !== "get" && type !== "set") {
        if (type !== "result" && type !== "error") await fail(stanzaError("bad-request", `iq type '${type}'`), by);
        // Results and errors answer requests we never make (we do not send iq requests yet).
        return;
      }
      if (attr(stanza, "id") === undefined) {
        await fail(stanzaError("bad-request", "iq without an 'id'"), by);
        return;
      }
      const children = stanza.getChildElements();
      if (children.length !== 1) {
        await fail(stanzaError("bad-request", `an iq ${type} carries exactly one payload element (got ${children.length})`), by);
        return;
      }
    }

    const payload = kind === "iq" ? stanza.getChildElements()[0] : undefined;
    let replied = false;
    const ctx: StanzaContext = {
      stanza,
      kind,
      type,
      id: attr(stanza, "id"),
      from,
      to,
      target,
      payload,
      log: this.log,
      send: (s) => this.options.send(s),
      reply: async (p?: Element) => {
        if (kind !== "iq") throw new Error("reply() is for iq requests");
        if (replied) throw new Error("already replied");
        replied = true;
        await this.options.send(this.result(stanza, p));
      },
      get replied() {
        return replied;
      },
    };

    const run = async () => {
      try {
        if (kind === "iq") {
          const entry = this.findIq(ctx);
          if (!entry) throw stanzaError("service-unavailable", `no service for ${payload?.name} in ${payload?.getNS() ?? "no namespace"}`);
          const result = await entry.handler(ctx);
          if (!replied) await ctx.reply(result ?? undefined);
        } else {
          const entry = this.findStanza(ctx);
          if (entry) await entry.handler(ctx);
          else await this.fallback(ctx);
        }
      } catch (err) {
        if (isStanzaError(err)) {
          this.log.debug({ from: from.full, to: to.full, kind, type, condition: err.condition, text: err.text }, "refused");
          if (!replied) await fail(err, by);
        } else {
          this.log.error({ err, from: from.full, to: to.full, kind, type }, "stanza handler failed");
          if (!replied) await fail(stanzaError("internal-server-error"), by);
        }
      }
    };

    if (target.kind === "service") await run();
    else await this.locks.run(target.room, run);
  }

  /** Unhandled messages get service-unavailable (not errors, headlines or groupchat bounces); unhandled presences are ignored. */
  private async fallback(ctx: StanzaContext): Promise<void> {
    if (ctx.kind === "message" && ctx.type !== "error" && ctx.type !== "headline") {
      throw stanzaError("service-unavailable", "this address does not take such messages");
    }
    this.log.debug({ kind: ctx.kind, type: ctx.type, to: ctx.to.full }, "ignored");
  }

  private findIq(ctx: StanzaContext): IqEntry | undefined {
    const p = ctx.payload;
    if (!p) return undefined;
    const ns = p.getNS();
    return this.iqs.find(
      (e) =>
        e.type === ctx.type &&
        e.ns === ns &&
        (e.name === undefined || e.name === p.name) &&
        (asList(e.target)?.includes(ctx.target.kind) ?? true),
    );
  }

  private findStanza(ctx: StanzaContext): StanzaEntry | undefined {
    return this.stanzas.find(
      (e) =>
        e.kind === ctx.kind &&
        (asList(e.target)?.includes(ctx.target.kind) ?? true) &&
        (asList(e.type)?.includes(ctx.type) ?? true) &&
        (e.match?.(ctx) ?? true),
    );
  }

  private result(request: Element, payload?: Element): Element {
    const attrs: Record<string, string> = { type: "result" };
    const from = attr(request, "to");
    const to = attr(request, "from");
    const id = attr(request, "id");
    if (from !== undefined) attrs["from"] = from;
    if (to !== undefined) attrs["to"] = to;
    if (id !== undefined) attrs["id"] = id;
    return xml("iq", attrs, payload ?? null);
  }

  private async sendError(stanza: Element, err: StanzaError, by?: string, from?: string): Promise<void> {
    const reply = buildErrorReply(stanza, err, {
      fallbackFrom: this.options.domain,
      ...(by !== undefined ? { by } : {}),
      ...(from !== undefined ? { from } : {}),
    });
    if (!reply) return;
    try {
      await this.options.send(reply);
    } catch (e) {
      this.log.warn({ err: e, condition: err.condition }, "could not send an error reply");
    }
  }
}
