// muc#owner (XEP-0045 §10): the room configuration form and room destruction.
//
// The form is the standard muc#roomconfig one; the room's kind is derived
// from muc#roomconfig_membersonly (1 = group, 0 = channel), as
// docs/protocol.md §6.10 says. Values this service does not support are
// refused with not-acceptable; malformed ones with bad-request.

import type { RoomKind } from "../../mapping/store/index.js";
import type { RoomSettings } from "../rooms/events.js";
import { checkOwner } from "../rooms/permissions.js";
import { STATUS } from "../rooms/presence.js";
import type { Room } from "../rooms/room.js";
import type { Router, StanzaContext } from "../router.js";
import { buildForm, formTypeField, parseBoolean, parseForm, type FormField } from "../xmpp/dataform.js";
import { JidError, parseJid } from "../xmpp/jid.js";
import { NS } from "../xmpp/ns.js";
import { stanzaError } from "../xmpp/stanza-error.js";
import { xml, type Element } from "../xmpp/xml.js";
import { reasonOf, roomOf, type HandlerDeps } from "./common.js";

export const ROOMCONFIG = {
  NAME: "muc#roomconfig_roomname",
  DESC: "muc#roomconfig_roomdesc",
  PERSISTENT: "muc#roomconfig_persistentroom",
  PUBLIC: "muc#roomconfig_publicroom",
  MEMBERS_ONLY: "muc#roomconfig_membersonly",
  CHANGE_SUBJECT: "muc#roomconfig_changesubject",
  WHOIS: "muc#roomconfig_whois",
  MODERATED: "muc#roomconfig_moderatedroom",
  PASSWORD_PROTECTED: "muc#roomconfig_passwordprotectedroom",
} as const;

const bool = (b: boolean) => (b ? "1" : "0");

/** The configuration form with the room's current values (§10.2). */
export function configForm(room: Room): Element {
  const s = room.settings;
  const fields: FormField[] = [
    formTypeField(NS.MUC_ROOMCONFIG),
    { var: ROOMCONFIG.NAME, type: "text-single", label: "Room name", values: [s.name] },
    { var: ROOMCONFIG.DESC, type: "text-single", label: "Description", values: [s.config.description] },
    {
      var: ROOMCONFIG.MEMBERS_ONLY,
      type: "boolean",
      label: "Members only (a group: its MLS members are the affiliated users' devices; otherwise a channel: its occupants')",
      values: [bool(s.kind === "group")],
    },
    { var: ROOMCONFIG.PERSISTENT, type: "boolean", label: "Persistent (group rooms always are)", values: [bool(s.persistent)] },
    { var: ROOMCONFIG.PUBLIC, type: "boolean", label: "Listed in the room directory (channels)", values: [bool(s.config.publicRoom)] },
    { var: ROOMCONFIG.CHANGE_SUBJECT, type: "boolean", label: "Participants may change the subject", values: [bool(s.config.changeSubject)] },
    {
      var: ROOMCONFIG.WHOIS,
      type: "list-single",
      label: "Who may discover real JIDs (MLS credentials carry them, so: anyone)",
      values: [s.config.whois],
      options: [{ label: "Anyone", value: "anyone" }],
    },
  ];
  return buildForm("form", fields, { title: `Configuration of ${room.jid}` });
}

function single(fields: Map<string, string[]>, name: string): string | undefined {
  const v = fields.get(name);
  if (v === undefined) return undefined;
  if (v.length > 1) throw stanzaError("bad-request", `field '${name}' takes one value`);
  return v[0] ?? "";
}

function boolField(fields: Map<string, string[]>, name: string): boolean | undefined {
  const raw = single(fields, name);
  if (raw === undefined) return undefined;
  const b = parseBoolean(raw);
  if (b === undefined) throw stanzaError("bad-request", `field '${name}' is boolean: 1 or 0`);
  return b;
}

/** The settings a submitted form asks for (unlisted fields keep their value). */
export function settingsFromForm(current: RoomSettings, fields: Map<string, string[]>): RoomSettings {
  const formType = single(fields, "FORM_TYPE");
  if (formType !== undefined && formType !== NS.MUC_ROOMCONFIG) throw stanzaError("bad-request", `FORM_TYPE must be ${NS.MUC_ROOMCONFIG}`);
  if (boolField(fields, ROOMCONFIG.MODERATED) === true) throw stanzaError("not-acceptable", "moderated rooms are not supported");
  if (boolField(fields, ROOMCONFIG.PASSWORD_PROTECTED) === true) throw stanzaError("not-acceptable", "password-protected rooms are not supported");
  const whois = single(fields, ROOMCONFIG.WHOIS);
  if (whois !== undefined && whois !== "anyone") {
    if (whois === "moderators") {
      throw stanzaError("not-acceptable", "rooms are non-anonymous: MLS credentials show every member's JID anyway");
    }
    throw stanzaError("bad-request", `'${whois}' is not a value of ${ROOMCONFIG.WHOIS}`);
  }
  const membersOnly = boolField(fields, ROOMCONFIG.MEMBERS_ONLY);
  const kind: RoomKind = membersOnly === undefined ? current.kind : membersOnly ? "group" : "channel";
  let persistent = boolField(fields, ROOMCONFIG.PERSISTENT) ?? current.persistent;
  if (kind === "group") {
    if (boolField(fields, ROOMCONFIG.PERSISTENT) === false) throw stanzaError("not-acceptable", "group (members-only) rooms are always persistent");
    persistent = true;
  }
  return {
    kind,
    persistent,
    name: single(fields, ROOMCONFIG.NAME) ?? current.name,
    config: {
      description: single(fields, ROOMCONFIG.DESC) ?? current.config.description,
      changeSubject: boolField(fields, ROOMCONFIG.CHANGE_SUBJECT) ?? current.config.changeSubject,
      publicRoom: boolField(fields, ROOMCONFIG.PUBLIC) ?? current.config.publicRoom,
      whois: "anyone",
    },
  };
}

export function registerMucOwner(router: Router, deps: HandlerDeps): void {
  const { host } = deps;

  router.iq({ type: "get", ns: NS.MUC_OWNER, name: "query", target: "room" }, async (ctx) => {
    const room = await host.require(roomOf(ctx));
    const refusal = checkOwner(room.affiliationOf(ctx.from.bare));
    if (refusal) throw refusal;
    return xml("query", { xmlns: NS.MUC_OWNER }, configForm(room));
  });

  router.iq({ type: "set", ns: NS.MUC_OWNER, name: "query", target: "room" }, async (ctx) => {
    const room = await host.require(roomOf(ctx));
    const refusal = checkOwner(room.affiliationOf(ctx.from.bare));
    if (refusal) throw refusal;
    const children = (ctx.payload as Element).getChildElements();
    const destroy = children.find((c) => c.name === "destroy");
    const form = children.find((c) => c.name === "x" && c.getNS() === NS.DATA);
    if (children.length !== 1 || (!destroy && !form)) {
      throw stanzaError("bad-request", "send one <x xmlns='jabber:x:data'/> or one <destroy/>");
    }
    if (destroy) await destroyRoom(ctx, deps, room, destroy);
    else await configure(ctx, deps, room, form as Element);
  });
}

async function configure(ctx: StanzaContext, { host }: HandlerDeps, room: Room, x: Element): Promise<void> {
  const form = parseForm(x);
  if (form.type === "cancel") return; // rooms are created unlocked: nothing to cancel (§10.1.4)
  if (form.type !== "submit") throw stanzaError("bad-request", "the form's type must be 'submit' or 'cancel'");
  if (form.fields.size === 0) return; // an instant room (§10.1.2): keep the defaults
  const after = settingsFromForm(room.settings, form.fields);
  const { before, changed } = await host.updateSettings(room, after, ctx.from.bare);
  await ctx.reply();
  if (!changed) return;
  if (before.kind === "channel" && after.kind === "group") {
    // §10.2: non-members leave a room that becomes members-only, with 322.
    const outsiders = room.occupants.filter((o) => room.affiliationOf(o.bareJid) === "none").flatMap((o) => [...o.sessions.keys()]);
    await host.remove(room, outsiders, { reason: "members-only", codes: [STATUS.MEMBERS_ONLY], notifySelf: true });
  }
  await host.notifyConfigChange(room);
}

async function destroyRoom(ctx: StanzaContext, { host }: HandlerDeps, room: Room, destroy: Element): Promise<void> {
  let alternateVenue: string | undefined;
  const alt = destroy.attrs["jid"];
  if (alt !== undefined) {
    try {
      alternateVenue = parseJid(alt).full;
    } catch (e) {
      throw stanzaError("jid-malformed", e instanceof JidError ? e.message : "malformed alternate venue");
    }
  }
  const reason = reasonOf(destroy);
  await host.destroy(room, {
    cause: "owner",
    actor: ctx.from.bare,
    ...(reason !== undefined ? { reason } : {}),
    ...(alternateVenue !== undefined ? { alternateVenue } : {}),
    between: () => ctx.reply(),
  });
}
