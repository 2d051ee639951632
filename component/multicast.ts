// Fan-out through an XEP-0033 multicast service (docs/operators.md,
// component/prosody/mod_mls_multicast.lua).
//
// Without one, a fan-out to N devices is N stanzas that the server parses,
// routes and serializes; with one, it is one stanza carrying N 'bcc'
// addresses, and the server makes the copies (as its own MUC does). When the
// service is the project's mod_mls_multicast, the recipients travel as its
// compact list (one text node, cheaper for the server to parse than N
// elements).
//
// The service is used only after it answered disco#info with the XEP-0033
// feature (XEP-0033 §2), on every (re)connection. A fan-out is split into
// stanzas of at most as many addresses as the service takes: the 'message'
// limit of its disco#info form (FORM_TYPE http://jabber.org/protocol/address,
// which ejabberd's mod_multicast publishes when configured), else 20 for a
// service other than mod_mls_multicast (ejabberd's default for senders that
// are not its own hosts, as a component is). If it refuses a stanza
// anyway, the recent fan-outs it refers to are sent again directly, and the
// component stops using it until the next connection: a device never misses
// a message because of the multicast path.

import type { Logger } from "../config/index.js";
import { NS } from "./xmpp/ns.js";
import { attr, xml, type Element } from "./xmpp/xml.js";

export const NS_ADDRESS = "http://jabber.org/protocol/address";
/** mod_mls_multicast's compact recipient list: the JIDs one per line in one element (component/prosody/). */
export const NS_COMPACT = "urn:xmpp:mls:multicast:0";

export interface MulticastOptions {
  /** The service's JID (config `component.multicast`). */
  readonly service: string;
  /** The component's domain: the probe's 'from'. */
  readonly domain: string;
  readonly send: (stanza: Element) => Promise<void>;
  /** Writes serialized stanzas (the direct re-send after a refusal). */
  readonly sendRaw: (xml: string) => Promise<void>;
  readonly logger: Logger;
  /** Addresses per stanza at most, whatever the service takes (mod_mls_multicast accepts up to 1,000 by default). Default 500. */
  readonly maxAddresses?: number;
  /** How long a fan-out is kept for a re-send after a refusal. Default 10 s. */
  readonly keepMs?: number;
}

export type MulticastState = "unknown" | "probing" | "available" | "unavailable";

/** Addresses per stanza for an XEP-0033 service that states no limit, unless it is mod_mls_multicast. */
export const UNSTATED_LIMIT = 20;

interface Sent {
  /** For a re-send: the recipients and their direct copies (serialized on demand). */
  readonly jids: readonly string[];
  readonly direct: (jid: string) => string;
  readonly at: number;
}

export class Multicast {
  private _state: MulticastState = "unknown";
  /** The service takes the compact recipient list (it advertised NS_COMPACT). */
  private compact = false;
  private probeId: string | undefined;
  private probes = 0;
  /** Recent fan-outs by (sender, id): what an error from the service refers to. */
  private readonly recent = new Map<string, Sent>();
  private readonly max: number;
  /** Addresses per stanza for the current service (its stated limit, at most `max`). */
  private perStanza: number;
  private readonly keepMs: number;
  private readonly log: Logger;

  constructor(private readonly o: MulticastOptions) {
    this.max = o.maxAddresses ?? 500;
    this.perStanza = this.max;
    this.keepMs = o.keepMs ?? 10_000;
    this.log = o.logger.child({ module: "multicast" });
  }

  get state(): MulticastState {
    return this._state;
  }

  /** The service to send fan-outs to, when it is known to work. */
  get jid(): string | undefined {
    return this._state === "available" ? this.o.service : undefined;
  }

  /** After each (re)connection: asks the service for its features (XEP-0033 §2). */
  async probe(): Promise<void> {
    this.probes += 1;
    const id = `multicast-probe-${this.probes}`;
    this.probeId = id;
    this._state = "probing";
    try {
      await this.o.send(xml("iq", { type: "get", id, from: this.o.domain, to: this.o.service }, xml("query", { xmlns: NS.DISCO_INFO })));
    } catch (err) {
      this._state = "unknown";
      this.log.debug({ err }, "multicast probe not sent");
    }
  }

  /** The connection is gone: the service is asked again on the next one. */
  offline(): void {
    this._state = "unknown";
    this.probeId = undefined;
    this.recent.clear();
  }

  /**
   * Takes what is meant for this module: the probe's answer, and errors from
   * the service. Returns true when the stanza was consumed.
   */
  intercept(stanza: Element): boolean {
    if (attr(stanza, "from") !== this.o.service) return false;
    const type = attr(stanza, "type");
    if (stanza.name === "iq" && (type === "result" || type === "error")) {
      if (attr(stanza, "id") !== this.probeId || this.probeId === undefined) return true;
      this.probeId = undefined;
      const features = stanza.getChild("query", NS.DISCO_INFO)?.getChildren("feature").map((f) => attr(f, "var")) ?? [];
      if (type === "result" && features.includes(NS_ADDRESS)) {
        this._state = "available";
        this.compact = features.includes(NS_COMPACT);
        const stated = statedLimit(stanza.getChild("query", NS.DISCO_INFO)!);
        this.perStanza = Math.max(1, Math.min(this.max, stated ?? (this.compact ? this.max : UNSTATED_LIMIT)));
        this.log.info(
          { service: this.o.service, compact: this.compact, addressesPerStanza: this.perStanza },
          "fan-out through the XEP-0033 multicast service",
        );
      } else {
        this._state = "unavailable";
        this.log.warn(
          { service: this.o.service, answer: type === "error" ? errorCondition(stanza) : "no XEP-0033 feature" },
          "the configured multicast service does not work: fan-out sends one stanza per device",
        );
      }
      return true;
    }
    if (stanza.name === "message" && type === "error") {
      const key = sentKey(attr(stanza, "to") ?? "", attr(stanza, "id") ?? "");
      const sent = this.recent.get(key);
      if (this._state === "available") {
        this._state = "unavailable";
        this.log.warn(
          { service: this.o.service, condition: errorCondition(stanza) },
          "the multicast service refused a fan-out: sending one stanza per device until the next connection",
        );
      }
      if (sent) {
        this.recent.delete(key);
        this.o.sendRaw(sent.jids.map(sent.direct).join("")).catch((err: unknown) => this.log.debug({ err }, "direct re-send failed (offline): devices catch up"));
      }
      return true;
    }
    return false;
  }

  /**
   * The serialized stanzas of one fan-out through the service: `build(to)`
   * with 'to' the service and `jids` as 'bcc' addresses (or the compact list
   * when the service takes it), in chunks.
   * `direct(jid)` gives the copy for one recipient, kept for a re-send.
   */
  stanzas(build: (to: string) => Element, jids: readonly string[], direct: (jid: string) => string): string {
    let out = "";
    let key = "";
    for (let i = 0; i < jids.length; i += this.perStanza) {
      const el = build(this.o.service);
      if (i === 0) key = sentKey(attr(el, "from") ?? "", attr(el, "id") ?? "");
      const chunk = jids.slice(i, i + this.perStanza);
      el.append(
        this.compact
          ? xml("addresses", { xmlns: NS_COMPACT }, chunk.join("\n")) // a JID never contains a line feed (RFC 7622)
          : xml("addresses", { xmlns: NS_ADDRESS }, ...chunk.map((jid) => xml("address", { type: "bcc", jid }))),
      );
      out += el.toString();
    }
    this.remember(key, { jids, direct, at: Date.now() });
    return out;
  }

  private remember(key: string, sent: Sent): void {
    for (const [k, v] of this.recent) {
      if (sent.at - v.at <= this.keepMs) break; // insertion order = time order
      this.recent.delete(k);
    }
    this.recent.delete(key);
    this.recent.set(key, sent);
  }
}

const sentKey = (from: string, id: string) => `${from}\n${id}`;

/**
 * The 'message' limit of a disco#info answer's XEP-0128 form whose FORM_TYPE
 * is the XEP-0033 namespace: a positive integer, Infinity for "infinite"
 * (ejabberd's word), undefined when absent or unreadable.
 */
export function statedLimit(query: Element): number | undefined {
  for (const form of query.getChildren("x", NS.DATA)) {
    const fields = form.getChildren("field");
    const value = (v: string) => fields.find((f) => attr(f, "var") === v)?.getChild("value")?.getText().trim();
    if (value("FORM_TYPE") !== NS_ADDRESS) continue;
    const limit = value("message");
    if (limit === "infinite") return Infinity;
    if (limit !== undefined && /^[1-9][0-9]{0,8}$/.test(limit)) return Number(limit);
    return undefined;
  }
  return undefined;
}

function errorCondition(stanza: Element): string | undefined {
  return stanza.getChild("error")?.getChildElements()[0]?.name;
}
