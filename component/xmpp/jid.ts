// JIDs from the wire: split by @xmpp/jid, then checked against RFC 7622's
// structure before anything else sees them.
//
// @xmpp/jid is lenient (it silently XEP-0106-escapes a localpart holding
// forbidden characters and accepts empty parts), so every part is checked
// here first. Full PRECIS (RFC 8264/8265/8266) is not implemented; what is
// enforced is what keeps addresses unambiguous: NFC, no forbidden localpart
// characters, no whitespace or control characters where RFC 7622 forbids
// them, non-empty parts of at most 1023 bytes, lowercase local and domain
// parts (the case mapping of the UsernameCaseMapped profile and of IDNA).

import { parse as xmppParse } from "@xmpp/jid";

/** A checked, normalised JID. Immutable. */
export interface Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
  /** local@domain, or domain. */
  readonly bare: string;
  /** bare/resource, or bare when there is no resource. */
  readonly full: string;
}

export class JidError extends Error {
  override readonly name = "JidError";
  constructor(
    readonly input: string,
    readonly problem: string,
  ) {
    super(`malformed JID '${input.length > 100 ? input.slice(0, 100) + "…" : input}': ${problem}`);
  }
}

const MAX_PART_BYTES = 1023;
// RFC 7622 §3.3.1: these may not appear in a localpart (plus whitespace and controls).
const LOCAL_FORBIDDEN = /["&'/:<>@\s\p{Cc}]/u;
const DOMAIN_FORBIDDEN = /[@/\s\p{Cc}\\]/u;
const CONTROL = /\p{Cc}/u;
const encoder = new TextEncoder();

function bytes(s: string): number {
  return encoder.encode(s).length;
}

function checkPart(input: string, part: string, what: string): void {
  if (part.length === 0) throw new JidError(input, `empty ${what}`);
  if (bytes(part) > MAX_PART_BYTES) throw new JidError(input, `${what} longer than ${MAX_PART_BYTES} bytes`);
}

/** Parses and checks a JID; throws JidError. */
export function parseJid(input: string): Jid {
  if (typeof input !== "string") throw new JidError(String(input), "not a string");
  const s = input.normalize("NFC");
  // The same split as @xmpp/jid (RFC 7622 §3.1): resource after the first '/',
  // local before the first '@' of what remains.
  const slash = s.indexOf("/");
  const beforeResource = slash === -1 ? s : s.slice(0, slash);
  const rawResource = slash === -1 ? undefined : s.slice(slash + 1);
  const at = beforeResource.indexOf("@");
  const rawLocal = at === -1 ? undefined : beforeResource.slice(0, at);
  let rawDomain = at === -1 ? beforeResource : beforeResource.slice(at + 1);

  if (rawLocal !== undefined) {
    checkPart(input, rawLocal, "localpart");
    if (LOCAL_FORBIDDEN.test(rawLocal)) throw new JidError(input, "forbidden character in localpart");
  }
  // RFC 7622 §3.2: a trailing dot is not part of the domain.
  if (rawDomain.endsWith(".")) rawDomain = rawDomain.slice(0, -1);
  checkPart(input, rawDomain, "domainpart");
  if (DOMAIN_FORBIDDEN.test(rawDomain)) throw new JidError(input, "forbidden character in domainpart");
  if (!rawDomain.startsWith("[") && rawDomain.split(".").some((label) => label.length === 0)) {
    throw new JidError(input, "empty label in domainpart");
  }
  if (rawResource !== undefined) {
    checkPart(input, rawResource, "resourcepart");
    if (CONTROL.test(rawResource)) throw new JidError(input, "control character in resourcepart");
  }

  const canonical = (rawLocal !== undefined ? rawLocal + "@" : "") + rawDomain + (rawResource !== undefined ? "/" + rawResource : "");
  const j = xmppParse(canonical);
  const local = j.local ?? "";
  const domain = j.domain;
  const resource = j.resource ?? "";
  if (local !== (rawLocal ?? "").toLowerCase() || domain !== rawDomain.toLowerCase() || resource !== (rawResource ?? "")) {
    // @xmpp/jid rewrote something our checks let through: refuse rather than guess.
    throw new JidError(input, "not in canonical form");
  }
  const bare = local ? `${local}@${domain}` : domain;
  return Object.freeze({ local, domain, resource, bare, full: resource ? `${bare}/${resource}` : bare });
}

const REMEMBERED = 4096;
const REMEMBERED_MAX_LENGTH = 256;
const remembered = new Map<string, Jid>();

/**
 * parseJid for the addresses every stanza carries ('from' and 'to'), which
 * come again and again: up to 4,096 distinct valid inputs of at most 256
 * characters are kept (a Jid is immutable; the oldest is dropped first, so
 * memory stays at a few MiB whatever peers send), and a stanza pays a lookup
 * instead of the checks. Invalid input is never kept and throws as parseJid.
 */
export function parseJidRemembered(input: string): Jid {
  const known = remembered.get(input);
  if (known !== undefined) return known;
  const jid = parseJid(input);
  if (input.length > REMEMBERED_MAX_LENGTH) return jid;
  if (remembered.size >= REMEMBERED) remembered.delete(remembered.keys().next().value!);
  remembered.set(input, jid);
  return jid;
}

/** parseJid that returns undefined instead of throwing. */
export function tryParseJid(input: string | undefined): Jid | undefined {
  if (input === undefined) return undefined;
  try {
    return parseJid(input);
  } catch {
    return undefined;
  }
}

/** The bare JID of a string that is already a valid JID. */
export function bareOf(jid: string): string {
  const slash = jid.indexOf("/");
  return slash === -1 ? jid : jid.slice(0, slash);
}
