// XEP-0199 ping, for the service and its rooms, and XEP-0410 self-ping: a
// ping to an occupant JID is answered by the room itself, with a result when
// the sender is that occupant and not-acceptable when it is not.

import { nickKey } from "../rooms/room.js";
import type { Router } from "../router.js";
import { NS } from "../xmpp/ns.js";
import { stanzaError } from "../xmpp/stanza-error.js";
import type { HandlerDeps } from "./common.js";

export function registerPing(router: Router, { host }: HandlerDeps): void {
  router.iq({ type: "get", ns: NS.PING, name: "ping", target: "service" }, async () => undefined);

  router.iq({ type: "get", ns: NS.PING, name: "ping", target: "room" }, async (ctx) => {
    if (ctx.target.kind === "room") await host.require(ctx.target.room);
  });

  router.iq({ type: "get", ns: NS.PING, name: "ping", target: "occupant" }, async (ctx) => {
    if (ctx.target.kind !== "occupant") return;
    const room = await host.require(ctx.target.room);
    const occupant = room.bySessionJid(ctx.from.full);
    if (!occupant || nickKey(occupant.nick) !== nickKey(ctx.target.nick)) {
      throw stanzaError("not-acceptable", "you are not this occupant");
    }
  });
}
