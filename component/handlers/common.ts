// What every handler file gets, and small helpers they share.

import type { Logger } from "../../config/index.js";
import type { RoomHost } from "../rooms/host.js";
import type { Room } from "../rooms/room.js";
import type { StanzaContext } from "../router.js";
import type { Element } from "../xmpp/xml.js";

/** Extra disco#info content contributed by other layers (e.g. the MLS service and room info forms). */
export interface DiscoExtensions {
  /** Extra features of the service. */
  serviceFeatures: string[];
  /** Extra XEP-0128 forms for the service's disco#info. */
  serviceForms: Array<() => Element[] | Promise<Element[]>>;
  /** Extra features of every room. */
  roomFeatures: string[];
  /** Extra XEP-0128 forms for a room's disco#info. */
  roomForms: Array<(room: Room) => Element[] | Promise<Element[]>>;
}

export function emptyDiscoExtensions(): DiscoExtensions {
  return { serviceFeatures: [], serviceForms: [], roomFeatures: [], roomForms: [] };
}

export interface HandlerDeps {
  host: RoomHost;
  domain: string;
  logger: Logger;
  disco: DiscoExtensions;
  /** The service's name in disco#info. */
  serviceName: string;
}

/** The bare room JID a stanza is addressed to (room or occupant target). */
export function roomOf(ctx: StanzaContext): string {
  if (ctx.target.kind === "service") throw new Error("not addressed to a room");
  return ctx.target.room;
}

/** The text of the <reason/> child, if any. */
export function reasonOf(el: Element): string | undefined {
  const r = el.getChild("reason");
  return r ? r.getText() : undefined;
}
