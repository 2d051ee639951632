// Stanzas of urn:xmpp:mls:0 the component sends (docs/protocol.md §6).

import type { DeviceEntry, LogEntry } from "../../mapping/store/mls-types.js";
import { NS } from "../xmpp/ns.js";
import { xml, type Element } from "../xmpp/xml.js";

export const NS_EME = "urn:xmpp:eme:0";
export const NS_FALLBACK = "urn:xmpp:fallback:0";
export const FALLBACK_TEXT = "This message is encrypted with MLS (urn:xmpp:mls:0); your client does not support it.";

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

const B64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** Canonical, non-empty base64 (RFC 4648 §4, padded, no whitespace); undefined otherwise (§4.4). */
export function fromB64(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !B64_RE.test(text)) return undefined;
  const buf = Buffer.from(text, "base64");
  if (buf.toString("base64") !== text) return undefined;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function delay(room: string, at: number): Element {
  return xml("delay", { xmlns: NS.DELAY, from: room, stamp: new Date(at).toISOString() });
}

/**
 * The fan-out / catch-up form of a log entry (§6.4, §6.5.3, §6.7.3). Copies
 * for plain occupants (`plain`) carry the XEP-0380 marker and the XEP-0428
 * fallback body; copies for MLS devices carry only what they process, which
 * keeps the per-copy cost of the server's routing low.
 */
export function entryMessage(entry: LogEntry, to: string, options: { delayed: boolean; plain?: boolean }): Element {
  const room = entry.room;
  const attrs: Record<string, string> = { xmlns: NS.MLS, kind: entry.kind, epoch: String(entry.epoch), seq: String(entry.seq) };
  if (entry.senderNick !== undefined && entry.kind !== "proposal") attrs["sender"] = entry.senderNick;
  const children: Element[] = [
    xml("mls", attrs, b64(entry.payload)),
    xml("stanza-id", { xmlns: NS.SID, by: room, id: entry.stanzaId }),
  ];
  if (entry.originId !== undefined) children.push(xml("origin-id", { xmlns: NS.SID, id: entry.originId }));
  if (options.plain) {
    children.push(xml("encryption", { xmlns: NS_EME, namespace: NS.MLS, name: "MLS" }));
    children.push(xml("body", {}, FALLBACK_TEXT));
    children.push(xml("fallback", { xmlns: NS_FALLBACK, for: NS.MLS }, xml("body", {})));
  }
  if (options.delayed) children.push(delay(room, entry.createdAt));
  const id = entry.kind === "application" && entry.clientId !== undefined ? entry.clientId : entry.stanzaId;
  return xml("message", { type: "groupchat", from: room, to, id }, ...children);
}

/** The Welcome of a commit entry, for a device it adds (§6.4): type normal, with the new tree. */
export function welcomeMessage(entry: LogEntry, to: string, options: { delayed: boolean }): Element {
  const room = entry.room;
  const children: Element[] = [
    xml("mls", { xmlns: NS.MLS, kind: "welcome", epoch: String(entry.epoch + 1n), seq: String(entry.seq) }, b64(entry.welcome!)),
  ];
  if (entry.ratchetTree !== undefined) children.push(xml("ratchet-tree", { xmlns: NS.MLS }, b64(entry.ratchetTree)));
  if (options.delayed) children.push(delay(room, entry.createdAt));
  return xml("message", { type: "normal", from: room, to, id: entry.stanzaId }, ...children);
}

const TO_MARK = "\u0000to\u0000";
const ATTR_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
/** An attribute value as ltx's Element.toString() escapes it. */
const escapeAttr = (s: string) => s.replace(/["&'<>]/g, (c) => ATTR_ESCAPES[c]!);

/**
 * Serializes a fan-out stanza once; returns a function that gives its copy
 * for each recipient, exactly as `stanza.toString()` with that 'to' would.
 * `build(to)` must put `to` in the message's 'to' attribute.
 */
export function copiesFor(build: (to: string) => Element): (to: string) => string {
  const text = build(TO_MARK).toString();
  const at = text.indexOf(` to="${TO_MARK}"`);
  if (at < 0) throw new Error("copiesFor: the stanza has no 'to' attribute");
  const head = text.slice(0, at + 5);
  const tail = text.slice(at + 5 + TO_MARK.length);
  return (to) => head + escapeAttr(to) + tail;
}

export function deviceEntryMessage(entry: DeviceEntry, to: string, delayed: boolean): Element {
  return entry.asWelcome ? welcomeMessage(entry, to, { delayed }) : entryMessage(entry, to, { delayed });
}

export function caughtUp(last: bigint, complete: boolean): Element {
  return xml("caught-up", { xmlns: NS.MLS, last: String(last), complete: complete ? "true" : "false" });
}

export function countElement(deviceId: string, available: number, lastResort: boolean): Element {
  return xml("count", { xmlns: NS.MLS, device: deviceId, available: String(available), "last-resort": lastResort ? "true" : "false" });
}
