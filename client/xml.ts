// Stanza building and parsing for the urn:xmpp:mls:0 extension (docs/protocol.md).

import { xml, type Element } from "@xmpp/xml";
import Parser from "@xmpp/xml/lib/Parser.js";

import { ClientError } from "./errors.js";
import { FALLBACK_BODY, NS } from "./ns.js";

export { xml, type Element };

// ------------------------------------------------------------------ base64 (§4.4)

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/;

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Canonical base64 only (padded, no whitespace, not empty); throws a protocol error otherwise. */
export function fromBase64(s: string, what: string): Uint8Array {
  if (!B64_RE.test(s)) throw new ClientError("protocol", `${what}: not canonical base64`);
  const buf = Buffer.from(s, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

// ------------------------------------------------------------------ numbers

/** A decimal uint64 attribute as a safe integer, or undefined when absent. Throws when malformed. */
export function uintAttr(el: Element, name: string): number | undefined {
  const v = el.attrs[name];
  if (v === undefined) return undefined;
  if (!/^(0|[1-9][0-9]*)$/.test(v)) throw new ClientError("protocol", `<${el.name} ${name}='${v}'>: not a decimal integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new ClientError("protocol", `<${el.name} ${name}='${v}'>: too large`);
  return n;
}

// ------------------------------------------------------------------ entries (§4.5, §6.4, §6.5.3, §6.7.3)

export type EntryKind = "proposal" | "commit" | "application" | "welcome";

/** One `<mls/>` message from a room: a log entry, or a Welcome. */
export interface RoomEntry {
  readonly kind: EntryKind;
  readonly seq: number;
  readonly epoch: number;
  readonly bytes: Uint8Array;
  /** The stanza's id attribute. */
  readonly stanzaIdAttr: string | undefined;
  /** The XEP-0359 stanza-id by the room (absent on Welcomes). */
  readonly stanzaId: string | undefined;
  readonly originId: string | undefined;
  /** The nick hint of the sender (not authenticated). */
  readonly senderNick: string | undefined;
  /** The acceptance time (XEP-0203 delay), when given. */
  readonly delay: Date | undefined;
  /** The ratchet tree sent next to a Welcome. */
  readonly ratchetTree: Uint8Array | undefined;
}

const KINDS: ReadonlySet<string> = new Set(["proposal", "commit", "application", "welcome"]);

/** The entry carried by a message from `room`, or undefined if the message has no `<mls/>`. Throws on a malformed one. */
export function parseEntry(stanza: Element, room: string): RoomEntry | undefined {
  const mls = stanza.getChild("mls", NS.MLS);
  if (!mls) return undefined;
  const kind = mls.attrs["kind"];
  if (kind === undefined || !KINDS.has(kind)) throw new ClientError("protocol", `<mls kind='${kind}'> from ${room}`, { room });
  const seq = uintAttr(mls, "seq");
  const epoch = uintAttr(mls, "epoch");
  if (seq === undefined || epoch === undefined || seq < 1) {
    throw new ClientError("protocol", `<mls kind='${kind}'> from ${room} without seq/epoch`, { room });
  }
  const bytes = fromBase64(mls.getText(), `<mls kind='${kind}'>`);
  const sid = stanza.getChildren("stanza-id", NS.SID).find((s) => s.attrs["by"] === room);
  const origin = stanza.getChild("origin-id", NS.SID);
  const delay = stanza.getChild("delay", NS.DELAY);
  const tree = stanza.getChild("ratchet-tree", NS.MLS);
  let delayDate: Date | undefined;
  if (delay?.attrs["stamp"]) {
    const d = new Date(delay.attrs["stamp"]);
    if (!Number.isNaN(d.getTime())) delayDate = d;
  }
  return {
    kind: kind as EntryKind,
    seq,
    epoch,
    bytes,
    stanzaIdAttr: stanza.attrs["id"],
    stanzaId: sid?.attrs["id"],
    originId: origin?.attrs["id"],
    senderNick: mls.attrs["sender"],
    delay: delayDate,
    ratchetTree: tree ? fromBase64(tree.getText(), "<ratchet-tree/>") : undefined,
  };
}

/** The groupchat message carrying an application message (§6.7.2). */
export function applicationMessage(room: string, contentId: string, mlsBytes: Uint8Array): Element {
  return xml(
    "message",
    { type: "groupchat", to: room, id: contentId },
    xml("mls", { xmlns: NS.MLS, kind: "application" }, toBase64(mlsBytes)),
    xml("origin-id", { xmlns: NS.SID, id: contentId }),
    xml("encryption", { xmlns: NS.EME, namespace: NS.MLS, name: "MLS" }),
    xml("body", {}, FALLBACK_BODY),
    xml("fallback", { xmlns: NS.FALLBACK, for: NS.MLS }, xml("body", {})),
  );
}

// ------------------------------------------------------------------ <content/> (§6.7.1)

export interface Content {
  readonly id: string;
  readonly time: Date | undefined;
  /** The text of `<body xmlns='jabber:client'/>`, if any. */
  readonly body: string | undefined;
  /** The element itself, for extensions (corrections, replies...). */
  readonly element: Element;
}

/** Serializes the plaintext `<content/>` element (UTF-8, no XML declaration). */
export function buildContent(id: string, body: string, time: Date = new Date()): string {
  if (id.length < 1 || id.length > 128) throw new ClientError("invalid-argument", "content id must be 1 to 128 characters");
  const stamp = time.toISOString().replace(/\.\d{3}Z$/, "Z");
  return xml("content", { xmlns: NS.MLS, id, time: stamp }, xml("body", { xmlns: NS.CLIENT }, stripInvalidXmlChars(body))).toString();
}

/** Characters that XML 1.0 cannot carry are dropped (they would make the receiver's parser fail). */
function stripInvalidXmlChars(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "");
}

/** Parses decrypted application data; throws a protocol error if it is not one `<content/>`. */
export function parseContent(data: Uint8Array): Content {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw new ClientError("protocol", "application data is not UTF-8");
  }
  if (/<!DOCTYPE|<!ENTITY|<\?/i.test(text)) throw new ClientError("protocol", "application data has a DOCTYPE or processing instruction");
  const el = parseDocument(text);
  if ( el.name !== "content" || el.attrs["xmlns"] !== NS.MLS) throw new ClientError("protocol", "application data is not a <content/>");
  const id = el.attrs["id"];
  if (id === undefined || id.length < 1 || id.length > 128) throw new ClientError("protocol", "<content/> without a valid id");
  let time: Date | undefined;
  if (el.attrs["time"]) {
    const d = new Date(el.attrs["time"]);
    if (!Number.isNaN(d.getTime())) time = d;
  }
  const bodyEl = el.getChildren("body").find((b) => (b.getNS() ?? NS.CLIENT) === NS.CLIENT);
  return { id, time, body: bodyEl?.getText(), element: el };
}

/** Parses one complete XML document (root closed, nothing after it). */
function parseDocument(text: string): Element {
  const p = new Parser();
  let root: Element | undefined;
  let ended = false;
  let error: Error | undefined;
  p.on("start", (el) => (root = el));
  p.on("element", (el) => root?.append(el));
  p.on("end", () => (ended = true));
  p.on("error", (e) => (error ??= e));
  try {
    p.write(text);
    p.end();
  } catch (e) {
    error ??= e as Error;
  }
  if (error || !root || !ended) {
    throw new ClientError("protocol", "application data is not well-formed XML", { cause: error });
  }
  return root;
}

// ------------------------------------------------------------------ data forms (XEP-0004 / XEP-0128)

/** The fields of the `jabber:x:data` form with this FORM_TYPE among `parent`'s children, or undefined. */
export function formFields(parent: Element, formType: string): Map<string, string[]> | undefined {
  for (const x of parent.getChildren("x", NS.DATA)) {
    const fields = new Map<string, string[]>();
    for (const f of x.getChildren("field")) {
      const v = f.attrs["var"];
      if (v === undefined) continue;
      fields.set(
        v,
        f.getChildren("value").map((val) => val.getText()),
      );
    }
    if (fields.get("FORM_TYPE")?.[0] === formType) return fields;
  }
  return undefined;
}

/** A submitted data form (type 'submit'). */
export function submitForm(formType: string, values: Record<string, string | readonly string[]>): Element {
  const x = xml("x", { xmlns: NS.DATA, type: "submit" }, xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, formType)));
  for (const [k, v] of Object.entries(values)) {
    const list = typeof v === "string" ? [v] : v;
    x.append(xml("field", { var: k }, ...list.map((s) => xml("value", {}, s))));
  }
  return x;
}

/** The status codes of a MUC presence's `<x xmlns='...muc#user'/>`. */
export function mucStatusCodes(presence: Element): Set<number> {
  const out = new Set<number>();
  const x = presence.getChild("x", NS.MUC_USER);
  for (const s of x?.getChildren("status") ?? []) {
    const c = Number(s.attrs["code"]);
    if (Number.isInteger(c)) out.add(c);
  }
  return out;
}
