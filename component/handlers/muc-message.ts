// XEP-0045 messages: groupchat to the room (§7.4, through the replaceable
// groupchat handler), subject changes (§8.1), delivery errors bounced by
// occupants' servers (ghosts, §15.5), and refusals for what is not supported.

import { STATUS } from "../rooms/presence.js";
import type { Router } from "../router.js";
import { readErrorStanza } from "../xmpp/error-reply.js";
import { NS } from "../xmpp/ns.js";
import { stanzaError, type StanzaErrorCondition } from "../xmpp/stanza-error.js";
import { roomOf, type HandlerDeps } from "./common.js";

/**
 * Errors that mean the recipient's session is gone (XEP-0045 §15.5.2), plus
 * service-unavailable: RFC 6121 §8.5.3.2.1 makes that the answer to a
 * groupchat message for a full JID that has no session.
 */
const GONE: ReadonlySet<StanzaErrorCondition> = new Set([
  "gone",
  "item-not-found",
  "recipient-unavailable",
  "redirect",
  "remote-server-not-found",
  "remote-server-timeout",
  "service-unavailable",
]);

export function registerMucMessage(router: Router, deps: HandlerDeps): void {
  const { host } = deps;

  router.message({ target: ["room", "occupant"], type: "error" }, async (ctx) => {
    const room = await host.load(roomOf(ctx));
    if (!room?.bySessionJid(ctx.from.full)) return;
    const error = readErrorStanza(ctx.stanza);
    if (!error?.condition || !GONE.has(error.condition)) {
      ctx.log.debug({ room: room.jid, realJid: ctx.from.full, condition: error?.condition }, "message bounced; keeping the session");
      return;
    }
    ctx.log.debug({ room: room.jid, realJid: ctx.from.full, condition: error.condition }, "message bounced: removing the session");
    await host.remove(room, [ctx.from.full], { reason: "disconnect", codes: [STATUS.ERROR], notifySelf: false });
  });

  router.message({ target: "room", type: "groupchat" }, async (ctx) => {
    const room = await host.require(roomOf(ctx));
    const occupant = room.bySessionJid(ctx.from.full);
    const session = occupant?.sessions.get(ctx.from.full);
    if (!occupant || !session) throw stanzaError("not-acceptable", "you are not an occupant of this room");

    const subject = ctx.stanza.getChild("subject");
    if (subject && !ctx.stanza.getChild("body") && !ctx.stanza.getChild("thread")) {
      // §8.1: moderators always; participants when muc#roomconfig_changesubject allows it.
      const role = room.roleOf(occupant);
      if (role !== "moderator" && !(role === "participant" && room.record.config.changeSubject)) {
        throw stanzaError("forbidden", "you may not change the subject of this room");
      }
      await host.setSubject(room, occupant, session, subject.getText(), ctx.stanza.attrs["id"]);
      return;
    }
    await host.groupchat(room, occupant, session, ctx.stanza);
  });

  router.message({ target: "room", type: ["normal", "chat"] }, async (ctx) => {
    await host.require(roomOf(ctx));
    const user = ctx.stanza.getChild("x", NS.MUC_USER);
    if (user?.getChild("invite") || user?.getChild("decline")) {
      throw stanzaError("feature-not-implemented", "mediated invitations are not supported: invite with XEP-0249 or grant membership");
    }
    throw stanzaError("bad-request", "messages to the room must have type='groupchat'");
  });

  router.message({ target: "occupant", type: ["normal", "chat", "groupchat"] }, async (ctx) => {
    await host.require(roomOf(ctx));
    throw stanzaError("feature-not-implemented", "private messages through the room are not supported");
  });
}
