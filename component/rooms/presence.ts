// Stanzas the room sends (XEP-0045 §7, §8, §9, §10): builders only, no state.

import type { Affiliation } from "../../mapping/store/index.js";
import { NS } from "../xmpp/ns.js";
import { cloneElement, xml, type Element } from "../xmpp/xml.js";
import type { Role } from "./events.js";

/** XEP-0045 §15 status codes used here. */
export const STATUS = {
  NON_ANONYMOUS: 100,
  CONFIG_CHANGED: 104,
  SELF: 110,
  CREATED: 201,
  BANNED: 301,
  KICKED: 307,
  AFFILIATION_CHANGE: 321,
  MEMBERS_ONLY: 322,
  SHUTDOWN: 332,
  ERROR: 333,
} as const;

export interface MucItem {
  affiliation: Affiliation;
  role: Role;
  /** Real full JID, when the recipient may see it. */
  jid?: string;
  actor?: { nick?: string; jid?: string };
  reason?: string;
}

/** <x xmlns='http://jabber.org/protocol/muc#user'> with one item, status codes in ascending order, and extras. */
export function mucUserX(item: MucItem, codes: readonly number[] = [], extra: readonly Element[] = []): Element {
  const itemAttrs: Record<string, string> = { affiliation: item.affiliation, role: item.role };
  if (item.jid !== undefined) itemAttrs["jid"] = item.jid;
  const itemEl = xml("item", itemAttrs);
  if (item.actor) {
    const a: Record<string, string> = {};
    if (item.actor.nick !== undefined) a["nick"] = item.actor.nick;
    if (item.actor.jid !== undefined) a["jid"] = item.actor.jid;
    itemEl.append(xml("actor", a));
  }
  if (item.reason !== undefined) itemEl.append(xml("reason", {}, item.reason));
  const x = xml("x", { xmlns: NS.MUC_USER }, itemEl);
  for (const code of [...new Set(codes)].sort((a, b) => a - b)) x.append(xml("status", { code: String(code) }));
  for (const e of extra) x.append(e);
  return x;
}

export interface PresenceSpec {
  from: string;
  to: string;
  type?: "unavailable";
  id?: string;
  /** Reflected presence children (show, status, ...); cloned. */
  payload?: readonly Element[];
  /** The occupant's MLS device id, echoed as <device xmlns='urn:xmpp:mls:0' id='...'/>. */
  mlsDevice?: string;
  x: Element;
}

export function presence(spec: PresenceSpec): Element {
  const attrs: Record<string, string> = { from: spec.from, to: spec.to };
  if (spec.type) attrs["type"] = spec.type;
  if (spec.id !== undefined) attrs["id"] = spec.id;
  const p = xml("presence", attrs);
  for (const child of spec.payload ?? []) p.append(cloneElement(child));
  p.append(spec.x);
  if (spec.mlsDevice !== undefined) p.append(xml("device", { xmlns: NS.MLS, id: spec.mlsDevice }));
  return p;
}

/** The subject message sent after a join (§7.2.15) or on a change (§8.1). */
export function subjectMessage(spec: { from: string; to: string; id: string; subject: string; stamp?: number; room: string }): Element {
  const m = xml("message", { from: spec.from, to: spec.to, type: "groupchat", id: spec.id }, xml("subject", {}, spec.subject));
  if (spec.stamp !== undefined) m.append(xml("delay", { xmlns: NS.DELAY, from: spec.room, stamp: new Date(spec.stamp).toISOString() }));
  return m;
}

/** A room status message (§10.2.1: code 104 after a configuration change). */
export function statusMessage(spec: { from: string; to: string; id: string; codes: readonly number[] }): Element {
  const x = xml("x", { xmlns: NS.MUC_USER });
  for (const code of spec.codes) x.append(xml("status", { code: String(code) }));
  return xml("message", { from: spec.from, to: spec.to, type: "groupchat", id: spec.id }, x);
}

/** The <destroy/> element of §10.9. */
export function destroyElement(alternate?: string, reason?: string): Element {
  const d = xml("destroy", alternate !== undefined ? { jid: alternate } : {});
  if (reason !== undefined) d.append(xml("reason", {}, reason));
  return d;
}

/** The invitation sent to a new member of a members-only room (§9.3 / §9.5, mediated-invitation form). */
export function invitation(spec: { room: string; to: string; id: string; from: string; reason?: string }): Element {
  const invite = xml("invite", { from: spec.from });
  if (spec.reason !== undefined) invite.append(xml("reason", {}, spec.reason));
  return xml("message", { from: spec.room, to: spec.to, id: spec.id }, xml("x", { xmlns: NS.MUC_USER }, invite));
}

/**
 * Presence children reflected to the room (§7.7 bizrules presence 6-8): the
 * MUC elements are the service's to generate, and the MLS <device/> is the
 * one bound at join, so both are left out of what the client sent.
 */
export function reflectedPayload(stanza: Element): Element[] {
  return stanza
    .getChildElements()
    .filter((c) => {
      const ns = c.getNS();
      if (c.name === "x" && (ns === NS.MUC || ns === NS.MUC_USER)) return false;
      if (c.name === "device" && ns === NS.MLS) return false;
      if (c.name === "error") return false;
      return true;
    })
    .map(cloneElement);
}
