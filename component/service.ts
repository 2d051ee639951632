// The component's stanza side, without the network: the room host, the
// router and every handler, wired. main.ts connects it to the XMPP server;
// tests drive it with a fake `send`.

import type { Logger } from "../config/index.js";
import { DEFAULT_DS_OPTIONS, DeliveryService } from "../mapping/ds/service.js";
import { DEFAULT_KEY_PACKAGE_LIMITS } from "../mapping/ds/key-package-check.js";
import type { RoomKind, Store } from "../mapping/store/index.js";
import type { CryptoProvider } from "../mls/node.js";
import { MlsLayer } from "./mls/layer.js";
import { Occupancy } from "./mls/occupancy.js";
import { emptyDiscoExtensions, registerHandlers, type DiscoExtensions } from "./handlers/index.js";
import { KeyedLock } from "../mapping/keyed-lock.js";
import { RoomHost } from "./rooms/host.js";
import { Router } from "./router.js";
import type { Multicast } from "./multicast.js";
import type { Element } from "./xmpp/xml.js";

export interface ServiceOptions {
  domain: string;
  defaultKind: RoomKind;
  store: Store;
  /** Sends a stanza to the server; rejects when offline. */
  send: (stanza: Element) => Promise<void>;
  /**
   * Sends serialized stanzas (each with its 'from') in one write; rejects when
   * offline. Used for the MLS fan-out when given; otherwise `send` is used.
   */
  sendRaw?: (xml: string) => Promise<void>;
  /** An XEP-0033 multicast service for the MLS fan-out (with sendRaw). */
  multicast?: Multicast;
  logger: Logger;
  /** The service's name in disco#info. Default "MLS rooms". */
  serviceName?: string;
  now?: () => number;
  newId?: () => string;
  /** The MLS side (docs/protocol.md). Without it the service is a plain XEP-0045 host (for tests of that layer). */
  mls?: MlsServiceOptions;
}

export interface MlsServiceOptions {
  provider: CryptoProvider;
  cipherSuite: number;
  maxEpochLag: number;
  keyPackageLowWater: number;
  keyPackagesPerDevice: number;
  occupancyGraceSeconds: number;
  maxStanzaBytes: number;
  maxMessageBytes: number;
  maxMessagesPerCatchUp: number;
  retentionDays: number;
}

export interface Service {
  readonly host: RoomHost;
  readonly router: Router;
  /** Extra disco#info features and forms (for the MLS layer). */
  readonly disco: DiscoExtensions;
  /** The Delivery Service and the MLS stanza layer (absent in a plain XEP-0045 service). */
  readonly ds: DeliveryService | undefined;
  readonly mls: MlsLayer | undefined;
  /** Loads persistent state (the DS key, temporary rooms): call once before dispatching. */
  start(): Promise<void>;
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
  const m = options.mls;
  if (m === undefined) {
    return { host, router, disco, ds: undefined, mls: undefined, start: () => host.start(), dispatch: (stanza) => router.dispatch(stanza) };
  }
  const now = options.now ?? Date.now;
  const occupancy = new Occupancy(m.occupancyGraceSeconds * 1000, now);
  const ds = new DeliveryService(options.store, occupancy, {
    ...DEFAULT_DS_OPTIONS,
    domain,
    provider: m.provider,
    cipherSuite: m.cipherSuite,
    maxEpochLag: m.maxEpochLag,
    maxCatchUp: m.maxMessagesPerCatchUp,
    maxKeyPackages: m.keyPackagesPerDevice,
    keyPackageLowWater: m.keyPackageLowWater,
    now,
    ...(options.newId ? { newId: options.newId } : {}),
  });
  const mls = new MlsLayer({
    domain,
    host,
    router,
    disco,
    ds,
    occupancy,
    store: options.store,
    send: options.send,
    ...(options.sendRaw ? { sendRaw: options.sendRaw } : {}),
    ...(options.multicast ? { multicast: options.multicast } : {}),
    logger,
    limits: {
      maxStanzaBytes: m.maxStanzaBytes,
      maxMessageBytes: m.maxMessageBytes,
      maxKeyPackages: m.keyPackagesPerDevice,
      maxKeyPackageBytes: DEFAULT_KEY_PACKAGE_LIMITS.maxBytes,
      maxKeyPackageLifetime: DEFAULT_KEY_PACKAGE_LIMITS.maxLifetimeSeconds,
      keyPackageLowWater: m.keyPackageLowWater,
      maxEpochLag: m.maxEpochLag,
      occupancyGraceSeconds: m.occupancyGraceSeconds,
      maxCatchUp: m.maxMessagesPerCatchUp,
      retentionSeconds: m.retentionDays * 86400,
    },
  });
  mls.register();
  return {
    host,
    router,
    disco,
    ds,
    mls,
    start: async () => {
      await ds.start();
      await host.start();
    },
    dispatch: (stanza) => router.dispatch(stanza),
  };
}
