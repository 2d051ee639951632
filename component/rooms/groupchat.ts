// The default groupchat handler: plain messages relayed to every occupant
// (XEP-0045 §7.4), stamped with a XEP-0359 stanza-id by the room. The MLS
// layer replaces it with RoomHost.setGroupchatHandler().

import { NS } from "../xmpp/ns.js";
import { cloneElement, xml, type Element } from "../xmpp/xml.js";
import type { GroupchatContext } from "./host.js";

/**
 * Relays the message with the sender's occupant JID as 'from', the client's
 * 'id' kept (§7.4, muc#stable_id; one generated if it had none), its children
 * kept (origin-id included, XEP-0359 §3.3), minus any stanza-id claiming to
 * be by this room (XEP-0359 §5: the room removes those), plus the room's own
 * stanza-id. A message with no child element at all is dropped.
 */
export async function relayPlainGroupchat(ctx: GroupchatContext): Promise<void> {
  const room = ctx.room.jid;
  const children = ctx.stanza
    .getChildElements()
    .filter((c) => !(c.name === "stanza-id" && c.getNS() === NS.SID && c.attrs["by"] === room))
    .filter((c) => !(c.name === "x" && c.getNS() === NS.MUC_USER));
  if (children.length === 0) {
    ctx.log.debug({ room, from: ctx.sender.realJid }, "empty groupchat message dropped");
    return;
  }
  const id = ctx.stanza.attrs["id"] ?? ctx.newId();
  const stanzaId = ctx.newId();
  await ctx.fanOut((r): Element =>
    xml(
      "message",
      { from: ctx.sender.occupantJid, to: r.realJid, type: "groupchat", id },
      ...children.map(cloneElement),
      xml("stanza-id", { xmlns: NS.SID, by: room, id: stanzaId }),
    ),
  );
}
