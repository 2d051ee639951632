// XEP-0045 presence: entering (§7.2), presence updates (§7.7), exiting
// (§7.14), and presence errors bounced by occupants' servers (ghosts, §15.5).

import { mucUserX, presence, reflectedPayload, STATUS } from "../rooms/presence.js";
import { nickKey, type Room } from "../rooms/room.js";
import type { Router, StanzaContext } from "../router.js";
import { NS } from "../xmpp/ns.js";
import { stanzaError } from "../xmpp/stanza-error.js";
import type { Element } from "../xmpp/xml.js";
import { roomOf, type HandlerDeps } from "./common.js";

/** docs/protocol.md §3: a device id is 1 to 64 characters of [A-Za-z0-9_-]. */
const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** XEP-0045 §15.1: no empty or invisible nicks. */
const INVISIBLE = /^[\s\p{Cf}\p{Zs}\p{Cc}]*$/u;

function mucX(stanza: Element): Element | undefined {
  return stanza.getChild("x", NS.MUC);
}

/** The MLS device id of a join presence, if it carries <device xmlns='urn:xmpp:mls:0'/>. */
export function mlsDeviceOf(stanza: Element): string | undefined {
  const device = stanza.getChild("device", NS.MLS);
  if (!device) return undefined;
  const id = device.attrs["id"];
  if (typeof id !== "string" || !DEVICE_ID.test(id)) {
    throw stanzaError("bad-request", "the MLS device id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'");
  }
  return id;
}

export function registerMucPresence(router: Router, deps: HandlerDeps): void {
  const { host } = deps;

  // The occupant's server bounced our presence: the session is gone.
  router.presence({ target: ["room", "occupant"], type: "error" }, async (ctx) => {
    const room = await host.load(roomOf(ctx));
    if (!room?.bySessionJid(ctx.from.full)) return;
    ctx.log.debug({ room: room.jid, realJid: ctx.from.full }, "presence bounced: removing the session");
    await host.remove(room, [ctx.from.full], { reason: "disconnect", codes: [STATUS.ERROR], notifySelf: false });
  });

  // Joining needs a nick (§7.2.1).
  router.presence({ target: "room", type: "available", match: (ctx) => mucX(ctx.stanza) !== undefined }, async () => {
    throw stanzaError("jid-malformed", "no nickname: join with presence to room@service/nick");
  });

  router.presence({ target: "occupant", type: "unavailable" }, async (ctx) => {
    const room = await host.load(roomOf(ctx));
    if (!room?.bySessionJid(ctx.from.full)) return; // §7.14 bizrules: silently ignore
    await host.remove(room, [ctx.from.full], {
      reason: "leave",
      codes: [],
      notifySelf: true,
      payload: reflectedPayload(ctx.stanza),
      ...(ctx.id !== undefined ? { selfId: ctx.id } : {}),
    });
  });

  router.presence({ target: "occupant", type: "available" }, async (ctx) => {
    if (ctx.target.kind !== "occupant") return;
    const { nick } = ctx.target;
    const room = await host.load(ctx.target.room);
    const occupant = room?.bySessionJid(ctx.from.full);
    const session = occupant?.sessions.get(ctx.from.full);
    if (room && occupant && session) {
      if (nickKey(nick) !== nickKey(occupant.nick)) {
        throw stanzaError("not-acceptable", "changing nickname is not supported: leave and join again");
      }
      if (mucX(ctx.stanza)) await host.resync(room, occupant, session, ctx.stanza);
      else await host.updatePresence(room, occupant, session, ctx.stanza);
      return;
    }
    if (!mucX(ctx.stanza)) {
      await notAnOccupant(ctx);
      return;
    }
    await join(ctx, deps, room, nick);
  });
}

/** §7.2.1 / §7.2.3: a presence without <x/> from a non-occupant gets an explicit kick (110, 307, 333). */
async function notAnOccupant(ctx: StanzaContext): Promise<void> {
  await ctx.send(
    presence({
      from: ctx.to.full,
      to: ctx.from.full,
      type: "unavailable",
      x: mucUserX({ affiliation: "none", role: "none", reason: "You are not in the room." }, [STATUS.SELF, STATUS.KICKED, STATUS.ERROR]),
    }),
  );
}

async function join(ctx: StanzaContext, { host }: HandlerDeps, existing: Room | undefined, nick: string): Promise<void> {
  if (INVISIBLE.test(nick)) throw stanzaError("jid-malformed", "the nickname is empty or invisible");
  const mlsDevice = mlsDeviceOf(ctx.stanza);
  const roomJid = roomOf(ctx);
  const affiliation = existing ? existing.affiliationOf(ctx.from.bare) : "owner";
  if (existing) {
    if (affiliation === "outcast") throw stanzaError("forbidden", "you are banned from this room");
    if (existing.membersOnly && affiliation === "none") throw stanzaError("registration-required", "this room is members-only");
    const holder = existing.byNickname(nick);
    if (holder && holder.bareJid !== ctx.from.bare) throw stanzaError("conflict", "this nickname is in use");
  }
  await host.hooks.beforeJoin?.({
    room: roomJid,
    roomExists: existing !== undefined,
    nick,
    realJid: ctx.from.full,
    bareJid: ctx.from.bare,
    affiliation,
    ...(mlsDevice !== undefined ? { mlsDevice } : {}),
    stanza: ctx.stanza,
  });
  const room = existing ?? (await host.create(roomJid, ctx.from));
  // The occupant keeps the nick as first written; later sessions match it case-insensitively.
  const shownNick = room.byNickname(nick)?.nick ?? nick;
  await host.enter(room, {
    nick: shownNick,
    realJid: ctx.from,
    ...(mlsDevice !== undefined ? { mlsDevice } : {}),
    stanza: ctx.stanza,
    created: existing === undefined,
  });
}
