// Minimal JID handling: split, bare, and the checks the SDK needs.
// Normalization is the server's job: the SDK uses the JID the server bound.

export interface ParsedJid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
}

/** Splits "local@domain/resource"; the domain is lower-cased. Throws on an empty domain. */
export function parseJid(jid: string): ParsedJid {
  const slash = jid.indexOf("/");
  const bare = slash >= 0 ? jid.slice(0, slash) : jid;
  const resource = slash >= 0 ? jid.slice(slash + 1) : "";
  const at = bare.lastIndexOf("@");
  const local = at >= 0 ? bare.slice(0, at) : "";
  const domain = (at >= 0 ? bare.slice(at + 1) : bare).toLowerCase();
  if (domain === "" || (at >= 0 && local === "")) throw new TypeError(`not a JID: '${jid}'`);
  return { local, domain, resource };
}

export function isJid(s: string): boolean {
  try {
    parseJid(s);
    return !/\s/.test(s);
  } catch {
    return false;
  }
}

/** The bare JID (local@domain or domain). */
export function bareJid(jid: string): string {
  const j = parseJid(jid);
  return j.local ? `${j.local}@${j.domain}` : j.domain;
}

export function domainOf(jid: string): string {
  return parseJid(jid).domain;
}

export function resourceOf(jid: string): string {
  return parseJid(jid).resource;
}

/** True for "local@domain" without resource (what a credential identity must be). */
export function isBareUserJid(s: string): boolean {
  if (s.length === 0 || s.length > 3071 || /[\s/]/.test(s)) return false;
  const at = s.lastIndexOf("@");
  return at > 0 && at < s.length - 1;
}

/** Bare JIDs compare with the domain case-insensitively (localpart as given by the server). */
export function sameBareJid(a: string, b: string): boolean {
  try {
    return bareJid(a) === bareJid(b);
  } catch {
    return false;
  }
}
