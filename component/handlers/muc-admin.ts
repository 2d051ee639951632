// muc#admin (XEP-0045 §8, §9, §10): affiliation lists (get, and set as a
// delta), role lists, and kicks (role none). Affiliation requests are
// all-or-nothing: every item is checked before anything is written.

import { AFFILIATIONS, type Affiliation, type AffiliationChange } from "../../mapping/store/index.js";
import { checkAffiliationChange, checkKick, checkListAccess, roleFor } from "../rooms/permissions.js";
import { STATUS } from "../rooms/presence.js";
import type { Occupant, Room } from "../rooms/room.js";
import type { Router, StanzaContext } from "../router.js";
import { JidError, parseJid } from "../xmpp/jid.js";
import { NS } from "../xmpp/ns.js";
import { stanzaError } from "../xmpp/stanza-error.js";
import { xml, type Element } from "../xmpp/xml.js";
import { reasonOf, roomOf, type HandlerDeps } from "./common.js";

const ROLES = ["moderator", "participant", "visitor", "none"] as const;

interface AffiliationItem {
  bareJid: string;
  affiliation: Affiliation;
  reason?: string;
}

export function registerMucAdmin(router: Router, deps: HandlerDeps): void {
  const { host } = deps;

  router.iq({ type: "get", ns: NS.MUC_ADMIN, name: "query", target: "room" }, async (ctx) => {
    const room = await host.require(roomOf(ctx));
    const items = (ctx.payload as Element).getChildren("item");
    if (items.length !== 1) throw stanzaError("bad-request", "ask for one list: <item affiliation='...'/> or <item role='...'/>");
    const item = items[0] as Element;
    const affiliation = item.attrs["affiliation"];
    const role = item.attrs["role"];
    if (affiliation !== undefined && role === undefined) return affiliationList(ctx, room, affiliation);
    if (role !== undefined && affiliation === undefined) return roleList(ctx, room, role);
    throw stanzaError("bad-request", "ask for one list: <item affiliation='...'/> or <item role='...'/>");
  });

  router.iq({ type: "set", ns: NS.MUC_ADMIN, name: "query", target: "room" }, async (ctx) => {
    const room = await host.require(roomOf(ctx));
    const items = (ctx.payload as Element).getChildren("item");
    if (items.length === 0) throw stanzaError("bad-request", "no <item/>");
    const roleItems = items.filter((i) => i.attrs["role"] !== undefined);
    const affItems = items.filter((i) => i.attrs["affiliation"] !== undefined);
    if (items.some((i) => i.attrs["role"] !== undefined && i.attrs["affiliation"] !== undefined)) {
      throw stanzaError("bad-request", "an item changes a role or an affiliation, not both (§7.9 bizrules iq 4)");
    }
    if (roleItems.length + affItems.length !== items.length) throw stanzaError("bad-request", "every item needs a 'role' or an 'affiliation'");
    if (roleItems.length > 0 && affItems.length > 0) throw stanzaError("bad-request", "do not mix role and affiliation changes in one request");
    if (roleItems.length > 0) await kick(ctx, deps, room, roleItems);
    else await changeAffiliations(ctx, deps, room, affItems);
  });
}

// --- get -------------------------------------------------------------------

function affiliationList(ctx: StanzaContext, room: Room, list: string): Element {
  if (!(AFFILIATIONS as readonly string[]).includes(list) || list === "none") {
    throw stanzaError("bad-request", `no '${list}' list: ask for owner, admin, member or outcast`);
  }
  const refusal = checkListAccess(list as Affiliation, room.affiliationOf(ctx.from.bare), room.record.config.whois);
  if (refusal) throw refusal;
  const query = xml("query", { xmlns: NS.MUC_ADMIN });
  for (const a of room.listAffiliations(list as Affiliation)) {
    const attrs: Record<string, string> = { affiliation: a.affiliation, jid: a.bareJid };
    const present = room.occupantsOf(a.bareJid)[0];
    if (present && a.affiliation !== "outcast") attrs["nick"] = present.nick;
    const item = xml("item", attrs);
    if (a.reason !== undefined) item.append(xml("reason", {}, a.reason));
    query.append(item);
  }
  return query;
}

function roleList(ctx: StanzaContext, room: Room, role: string): Element {
  if (!(ROLES as readonly string[]).includes(role) || role === "none") throw stanzaError("bad-request", `no '${role}' list`);
  if (actorRole(room, ctx) !== "moderator") throw stanzaError("forbidden", "only moderators may read role lists");
  // §7.9 bizrules iq 5: nick, role, affiliation and the full JID (moderators may see it).
  const query = xml("query", { xmlns: NS.MUC_ADMIN });
  for (const o of room.occupants) {
    if (room.roleOf(o) !== role) continue;
    query.append(xml("item", { nick: o.nick, role, affiliation: room.affiliationOf(o.bareJid), jid: o.primary }));
  }
  return query;
}

// --- set: affiliations -------------------------------------------------------

function parseAffiliationItem(room: Room, item: Element): AffiliationItem {
  const affiliation = item.attrs["affiliation"] as string;
  if (!(AFFILIATIONS as readonly string[]).includes(affiliation)) throw stanzaError("bad-request", `unknown affiliation '${affiliation}'`);
  let bareJid: string;
  const jid = item.attrs["jid"];
  const nick = item.attrs["nick"];
  if (jid !== undefined) {
    try {
      bareJid = parseJid(jid).bare; // §10.3: a full JID stands for its bare JID
    } catch (e) {
      throw stanzaError("jid-malformed", e instanceof JidError ? e.message : `malformed JID '${jid}'`);
    }
  } else if (nick !== undefined) {
    const occupant = room.byNickname(nick);
    if (!occupant) throw stanzaError("item-not-found", `no occupant with the nickname '${nick}'`);
    bareJid = occupant.bareJid;
  } else {
    throw stanzaError("bad-request", "an affiliation item needs a 'jid'");
  }
  const reason = reasonOf(item);
  return { bareJid, affiliation: affiliation as Affiliation, ...(reason !== undefined ? { reason } : {}) };
}

async function changeAffiliations(ctx: StanzaContext, { host }: HandlerDeps, room: Room, elements: Element[]): Promise<void> {
  const actor = ctx.from.bare;
  const actorAffiliation = room.affiliationOf(actor);
  const items = elements.map((e) => parseAffiliationItem(room, e));

  // All checks first: nothing is written unless every item is allowed (§9.2).
  const owners = new Set(room.owners);
  for (const item of items) {
    const from = room.affiliationRecord(item.bareJid)?.affiliation ?? "none";
    const refusal = checkAffiliationChange(actorAffiliation, actor, item.bareJid, from, item.affiliation);
    if (refusal) throw refusal;
    if (item.affiliation === "owner") owners.add(item.bareJid);
    else owners.delete(item.bareJid);
  }
  if (owners.size === 0) throw stanzaError("conflict", "a room needs at least one owner (§10.6)");

  const changes: AffiliationChange[] = items.map((i) => ({ ...i, actor }));
  const applied = await host.setAffiliations(room, changes);
  await ctx.reply();

  const actorNick = room.occupantsOf(actor)[0]?.nick;
  const actorRef = { bareJid: actor, ...(actorNick !== undefined ? { nick: actorNick } : {}) };
  for (const { previous, record } of applied) {
    const occupants = room.occupantsOf(record.bareJid);
    const sessions = occupants.flatMap((o) => [...o.sessions.keys()]);
    const reasonText = record.reason;
    const common = { actor: actorRef, notifySelf: true, ...(reasonText !== undefined ? { reasonText } : {}) };
    if (record.affiliation === "outcast") {
      // §9.1: banned occupants are removed with 301.
      await host.remove(room, sessions, { ...common, reason: "ban", codes: [STATUS.BANNED] });
    } else if (room.membersOnly && record.affiliation === "none") {
      // §9.4: losing membership of a members-only room removes the occupant, with 321 only.
      await host.remove(room, sessions, { ...common, reason: "affiliation", codes: [STATUS.AFFILIATION_CHANGE] });
    } else if (occupants.length > 0) {
      for (const o of occupants) await host.broadcastPresence(room, o);
    } else if (room.membersOnly && previous === "none" && record.affiliation !== "none") {
      await host.invite(room, record.bareJid, actor, record.reason);
    }
  }
}

// --- set: kick ----------------------------------------------------------------

/** The requester's role: as an occupant, or from their affiliation when not in the room (admins and owners may act from outside). */
function actorRole(room: Room, ctx: StanzaContext) {
  const occupant = room.bySessionJid(ctx.from.full) ?? room.occupantsOf(ctx.from.bare)[0];
  return occupant ? room.roleOf(occupant) : roleFor(room.affiliationOf(ctx.from.bare));
}

async function kick(ctx: StanzaContext, { host }: HandlerDeps, room: Room, elements: Element[]): Promise<void> {
  const actor = ctx.from.bare;
  const role = actorRole(room, ctx);
  const actorAffiliation = room.affiliationOf(actor);
  const targets: Array<{ occupant: Occupant; reason?: string }> = [];
  for (const item of elements) {
    if (item.attrs["role"] !== "none") {
      throw stanzaError("feature-not-implemented", "rooms are unmoderated: only role='none' (kick) can be set; roles follow affiliations");
    }
    const nick = item.attrs["nick"];
    if (nick === undefined) throw stanzaError("bad-request", "a role item needs a 'nick'");
    const occupant = room.byNickname(nick);
    if (!occupant) throw stanzaError("item-not-found", `no occupant with the nickname '${nick}'`);
    const refusal = checkKick(role, actorAffiliation, actor, room.affiliationOf(occupant.bareJid), occupant.bareJid);
    if (refusal) throw refusal;
    const reason = reasonOf(item);
    targets.push({ occupant, ...(reason !== undefined ? { reason } : {}) });
  }
  const actorNick = room.occupantsOf(actor)[0]?.nick;
  const actorRef = { bareJid: actor, ...(actorNick !== undefined ? { nick: actorNick } : {}) };
  for (const { occupant, reason } of targets) {
    // §8.2: the kicked occupant first, then the moderator's result, then the others.
    await host.remove(room, [...occupant.sessions.keys()], {
      reason: "kick",
      codes: [STATUS.KICKED],
      actor: actorRef,
      notifySelf: true,
      ...(reason !== undefined ? { reasonText: reason } : {}),
      between: async () => {
        if (!ctx.replied) await ctx.reply();
      },
    });
  }
}
