// Every stanza family of the component, registered on one router.
import type { Router } from "../router.js";
import type { HandlerDeps } from "./common.js";
import { registerDisco } from "./disco.js";
import { registerMucAdmin } from "./muc-admin.js";
import { registerMucMessage } from "./muc-message.js";
import { registerMucOwner } from "./muc-owner.js";
import { registerMucPresence } from "./muc-presence.js";
import { registerPing } from "./ping.js";

export { emptyDiscoExtensions, type DiscoExtensions, type HandlerDeps } from "./common.js";

export function registerHandlers(router: Router, deps: HandlerDeps): void {
  registerDisco(router, deps);
  registerPing(router, deps);
  registerMucPresence(router, deps);
  registerMucMessage(router, deps);
  registerMucAdmin(router, deps);
  registerMucOwner(router, deps);
}
