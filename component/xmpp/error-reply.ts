// The edge: StanzaError values become XMPP error stanzas here, and only here
// (RFC 6120 §8.3). Also the reverse, for error stanzas we receive.

import { NS } from "./ns.js";
import { STANZA_ERROR_CONDITIONS, STANZA_ERROR_TYPES, type StanzaError, type StanzaErrorCondition, type StanzaErrorType } from "./stanza-error.js";
import { attr, cloneElement, xml, type Element } from "./xml.js";

export interface ErrorReplyOptions {
  /** The 'from' of the reply when the original 'to' is missing. */
  fallbackFrom: string;
  /** Use this 'from' instead of the original 'to' (when that is malformed). */
  from?: string;
  /** The <error by='...'/> attribute (XEP-0045: the room's JID). */
  by?: string;
}

/**
 * The error reply to `stanza`, or undefined when RFC 6120 forbids one: never
 * answer an error with an error (§8.3.1), nor an iq result (§8.2.3).
 * The reply swaps 'from' and 'to', keeps 'id', and echoes the original
 * children (for an iq, its payload), as RFC 6120 §8.3.1 allows, so the
 * sender can match it.
 */
export function buildErrorReply(stanza: Element, err: StanzaError, options: ErrorReplyOptions): Element | undefined {
  const type = attr(stanza, "type");
  if (type === "error") return undefined;
  if (stanza.name === "iq" && type === "result") return undefined;
  const from = attr(stanza, "from");
  if (from === undefined) return undefined; // nowhere to send it

  const replyAttrs: Record<string, string> = {
    from: options.from ?? attr(stanza, "to") ?? options.fallbackFrom,
    to: from,
    type: "error",
  };
  const id = attr(stanza, "id");
  if (id !== undefined) replyAttrs["id"] = id;
  const reply = xml(stanza.name, replyAttrs);
  for (const child of stanza.getChildElements()) {
    if (child.name === "error") continue;
    reply.append(cloneElement(child));
  }
  reply.append(errorElement(err, options.by));
  return reply;
}

/** The <error/> element for `err`. */
export function errorElement(err: StanzaError, by?: string): Element {
  const attrs: Record<string, string> = { type: err.type };
  if (by !== undefined) attrs["by"] = by;
  const el = xml("error", attrs, xml(err.condition, { xmlns: NS.STANZAS }));
  if (err.app) {
    el.append(
      xml(
        err.app.name,
        { xmlns: err.app.ns, ...(err.app.attrs ?? {}) },
        ...(err.app.children ?? []).map((c) => xml(c.name, { ...c.attrs })),
      ),
    );
  }
  if (err.text) el.append(xml("text", { xmlns: NS.STANZAS, "xml:lang": "en" }, err.text));
  return el;
}

export interface ReceivedError {
  type: StanzaErrorType | undefined;
  condition: StanzaErrorCondition | undefined;
  text: string | undefined;
}

/** Reads the <error/> of an error stanza we received (undefined if there is none). */
export function readErrorStanza(stanza: Element): ReceivedError | undefined {
  const error = stanza.getChild("error");
  if (!error) return undefined;
  const rawType = attr(error, "type");
  const type = (STANZA_ERROR_TYPES as readonly string[]).includes(rawType ?? "") ? (rawType as StanzaErrorType) : undefined;
  let condition: StanzaErrorCondition | undefined;
  for (const child of error.getChildElements()) {
    if (child.getNS() === NS.STANZAS && (STANZA_ERROR_CONDITIONS as readonly string[]).includes(child.name)) {
      condition = child.name as StanzaErrorCondition;
      break;
    }
  }
  const text = error.getChild("text", NS.STANZAS)?.getText();
  return { type, condition, text };
}
