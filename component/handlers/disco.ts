// XEP-0030 service discovery for the service and its rooms (XEP-0045 §6).
//
// Group rooms are hidden: only users affiliated with them (or in them) learn
// that they exist, through disco#info and disco#items alike; others get
// item-not-found (docs/protocol.md §5.2). Channels are visible to everyone
// and listed when public.

import type { Room } from "../rooms/room.js";
import type { Router, StanzaContext } from "../router.js";
import { buildForm, formTypeField } from "../xmpp/dataform.js";
import { NS } from "../xmpp/ns.js";
import { stanzaError } from "../xmpp/stanza-error.js";
import { xml, type Element } from "../xmpp/xml.js";
import { roomOf, type HandlerDeps } from "./common.js";

/** Features of the service itself. */
export const SERVICE_FEATURES = [NS.DISCO_INFO, NS.DISCO_ITEMS, NS.MUC, NS.MUC_STABLE_ID, NS.SID, NS.PING, NS.MLS] as const;

/** May `ctx.from` learn about this room? */
function visible(room: Room, ctx: StanzaContext): boolean {
  if (room.record.kind === "channel") return true;
  const affiliation = room.affiliationOf(ctx.from.bare);
  return affiliation === "owner" || affiliation === "admin" || affiliation === "member" || room.bySessionJid(ctx.from.full) !== undefined;
}

async function visibleRoom(ctx: StanzaContext, deps: HandlerDeps): Promise<Room> {
  const room = await deps.host.load(roomOf(ctx));
  if (!room || !visible(room, ctx)) throw stanzaError("item-not-found", "no such room");
  return room;
}

export function roomFeatures(room: Room): string[] {
  const r = room.record;
  return [
    NS.DISCO_INFO,
    NS.MUC,
    NS.MUC_STABLE_ID,
    NS.MUC_SELF_PING,
    NS.SID,
    NS.MLS,
    r.kind === "group" ? "muc_membersonly" : "muc_open",
    r.persistent ? "muc_persistent" : "muc_temporary",
    r.config.whois === "anyone" ? "muc_nonanonymous" : "muc_semianonymous",
    r.kind === "channel" && r.config.publicRoom ? "muc_public" : "muc_hidden",
    "muc_unmoderated",
    "muc_unsecured",
  ];
}

/** The muc#roominfo form (§6.4, XEP-0128). */
export function roomInfoForm(room: Room): Element {
  const r = room.record;
  return buildForm("result", [
    formTypeField(NS.MUC_ROOMINFO),
    { var: "muc#roomconfig_roomname", label: "Name", values: [r.name] },
    { var: "muc#roominfo_description", label: "Description", values: [r.config.description] },
    { var: "muc#roominfo_subject", label: "Subject", values: [r.subject] },
    { var: "muc#roomconfig_changesubject", label: "Participants may change the subject", values: [r.config.changeSubject ? "1" : "0"] },
    { var: "muc#roominfo_occupants", label: "Number of occupants", values: [String(room.occupantCount)] },
  ]);
}

function feature(v: string): Element {
  return xml("feature", { var: v });
}

export function registerDisco(router: Router, deps: HandlerDeps): void {
  const { host, disco } = deps;

  router.iq({ type: "get", ns: NS.DISCO_INFO, name: "query", target: "service" }, async (ctx) => {
    if (ctx.payload?.attrs["node"] !== undefined) throw stanzaError("item-not-found", "no such node");
    const query = xml("query", { xmlns: NS.DISCO_INFO }, xml("identity", { category: "conference", type: "text", name: deps.serviceName }));
    for (const f of new Set([...SERVICE_FEATURES, ...disco.serviceFeatures])) query.append(feature(f));
    for (const forms of disco.serviceForms) for (const form of await forms()) query.append(form);
    return query;
  });

  router.iq({ type: "get", ns: NS.DISCO_ITEMS, name: "query", target: "service" }, async (ctx) => {
    if (ctx.payload?.attrs["node"] !== undefined) throw stanzaError("item-not-found", "no such node");
    const query = xml("query", { xmlns: NS.DISCO_ITEMS });
    for (const r of await host.listVisibleRooms(ctx.from.bare)) {
      query.append(xml("item", { jid: r.jid, name: r.name || (r.jid.split("@")[0] as string) }));
    }
    return query;
  });

  router.iq({ type: "get", ns: NS.DISCO_INFO, name: "query", target: "room" }, async (ctx) => {
    const room = await visibleRoom(ctx, deps);
    const node = ctx.payload?.attrs["node"];
    if (node === NS.MUC_TRAFFIC) throw stanzaError("service-unavailable", "the room passes all namespaces through (§17.1.1)");
    if (node !== undefined) throw stanzaError("item-not-found", "no such node");
    const name = room.record.name || (room.jid.split("@")[0] as string);
    const query = xml("query", { xmlns: NS.DISCO_INFO }, xml("identity", { category: "conference", type: "text", name }));
    for (const f of new Set([...roomFeatures(room), ...disco.roomFeatures])) query.append(feature(f));
    query.append(roomInfoForm(room));
    for (const forms of disco.roomForms) for (const form of await forms(room)) query.append(form);
    return query;
  });

  router.iq({ type: "get", ns: NS.DISCO_ITEMS, name: "query", target: "room" }, async (ctx) => {
    await visibleRoom(ctx, deps);
    if (ctx.payload?.attrs["node"] !== undefined) throw stanzaError("item-not-found", "no such node");
    return xml("query", { xmlns: NS.DISCO_ITEMS }); // occupants are not listed (§6.5: private by default)
  });

  // §6.6: disco to an occupant JID.
  for (const ns of [NS.DISCO_INFO, NS.DISCO_ITEMS]) {
    router.iq({ type: "get", ns, name: "query", target: "occupant" }, async (ctx) => {
      const room = await host.load(roomOf(ctx));
      if (!room?.bySessionJid(ctx.from.full)) throw stanzaError("bad-request", "only occupants may query occupant JIDs");
      throw stanzaError("service-unavailable", "queries are not passed on to occupants");
    });
  }
}
