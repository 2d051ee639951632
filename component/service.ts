// The component's stanza side, without the network: the room host, the
// router and every handler, wired. main.ts connects it to the XMPP server;
// tests drive it with a fake `send`.

import type { Logger } from "../config/index.js";
import type { RoomKind, Store } from "../mapping/store/index.js";
import { emptyDiscoExtensions, registerHandlers, type DiscoExtensions } from "./handlers/index.js";
import { KeyedLock } from "./locks.js";
import { RoomHost } from "./rooms/host.js";
import { Router } from "./router.js";
import type { Element } from "./xmpp/xml.js";

export interface ServiceOptions {
  domain: string;
  defaultKind: RoomKind;
  store: Store;
  /** Sends a stanza to the server; rejects when offline. */
  send: (stanza: Element) => Promise<void>;
  logger: Logger;
  /** The service's name in disco#info. Default "MLS rooms". */
  serviceName?: string;
  now?: () => number;
  newId?: () => string;
}

export interface Service {
  readonly host: RoomHost;
  readonly router: Router;
  /** Extra disco#info features and forms (for the MLS layer). */
  readonly disco: DiscoExtensions;
  /** Handles one stanza from the server; never rejects. */
  dispatch(stanza: Element): Promise<void>;
}

export function createService(options: ServiceOptions): Service {
  const { domain, logger } = options;
  const locks = new KeyedLock();
  const host = new RoomHost({
    domain,
    store: options.store,
    send: options.send,
    logger,
    defaultKind: options.defaultKind,
    locks,
    ...(options.now ? { now: options.now } : {}),
    ...(options.newId ? { newId: options.newId } : {}),
  });
  const router = new Router({ domain, send: options.send, logger, locks });
  const disco = emptyDiscoExtensions();
  registerHandlers(router, { host, domain, logger, disco, serviceName: options.serviceName ?? "MLS rooms" });
  return { host, router, disco, dispatch: (stanza) => router.dispatch(stanza) };
}
