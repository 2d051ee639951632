// The entry point: config -> logger -> store -> service -> connection.
//
//   tsx component/main.ts --domain mls.example.org --secret-file /etc/xmb/secret
//   node dist/component/main.js ...   (after `npm run build`)
//
// Exit status: 0 after a clean shutdown (SIGINT/SIGTERM) or --help/--version/
// --print-config; 2 for a configuration error; 1 for a failure at start.

import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { ConfigError, createLogger, parseCli, parseHostPort, redactConfig, type Config, type Env, type Logger } from "../config/index.js";
import { openSqliteStore, type Store } from "../mapping/store/index.js";
import { ComponentConnection, type EntityFactory } from "./connection.js";
import { createService, type Service } from "./service.js";
import { createMetrics, serveHttp } from "./http.js";
import { Multicast } from "./multicast.js";
import type { Server } from "node:http";
import { nativeProvider } from "../mls/node.js";

export interface StartOptions {
  logger?: Logger;
  /** An open store to use instead of opening config.store.path (tests). */
  store?: Store;
  /** For tests: how the XMPP connection is made. */
  createEntity?: EntityFactory;
  /** For tests of the XEP-0045 layer alone: no MLS layer (plain rooms). */
  withoutMls?: boolean;
}

export interface RunningComponent {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: Store;
  readonly connection: ComponentConnection;
  readonly service: Service;
  /** The XEP-0033 fan-out path, when `component.multicast` is set. */
  readonly multicast: Multicast | undefined;
  /** Tells occupants (332), closes the stream, waits for running stanzas, closes the store. Idempotent. */
  stop(): Promise<void>;
}

/** The component secret, or the fixed demo secret in demo mode. */
function secretOf(config: Config, logger: Logger): string {
  if (config.component.secret !== undefined) return config.component.secret;
  if (config.demo) {
    logger.warn("demo mode without a component secret: using the secret 'demo' (never in production)");
    return "demo";
  }
  throw new ConfigError("config_invalid", [{ path: "component.secret", message: "component.secret: required" }]);
}

/** Starts the component from a validated configuration. Resolves once started (not necessarily online). */
export async function startComponent(config: Config, options: StartOptions = {}): Promise<RunningComponent> {
  const logger = options.logger ?? createLogger(config.log);
  const secret = secretOf(config, logger);
  let store = options.store;
  if (!store) {
    if (config.store.path !== ":memory:") await mkdir(path.dirname(config.store.path), { recursive: true });
    store = await openSqliteStore(config.store.path);
    logger.info({ module: "store", path: config.store.path, schemaVersion: store.schemaVersion }, "store open");
  }
  const openStore = store;

  const connection = new ComponentConnection({
    server: config.component.server,
    domain: config.component.domain,
    secret,
    reconnect: config.component.reconnect,
    logger,
    ...(options.createEntity ? { createEntity: options.createEntity } : {}),
  });
  // The fan-out goes through the server's multicast service when one is configured and answers (component/multicast.ts).
  const multicast =
    config.component.multicast === null
      ? undefined
      : new Multicast({
          service: config.component.multicast,
          domain: config.component.domain,
          send: (stanza) => connection.send(stanza),
          sendRaw: (xml) => connection.sendRaw(xml),
          logger,
        });
  const service = createService({
    domain: config.component.domain,
    defaultKind: config.rooms.defaultKind,
    store: openStore,
    send: (stanza) => connection.send(stanza),
    sendRaw: (xml) => connection.sendRaw(xml),
    ...(multicast ? { multicast } : {}),
    logger,
    mls: options.withoutMls ? undefined : {
      provider: nativeProvider,
      cipherSuite: config.mls.cipherSuite,
      maxEpochLag: config.mls.maxEpochLag,
      keyPackageLowWater: config.mls.keyPackageLowWater,
      keyPackagesPerDevice: config.limits.keyPackagesPerDevice,
      occupancyGraceSeconds: config.rooms.occupancyGraceSeconds,
      maxStanzaBytes: config.limits.maxStanzaBytes,
      maxMessageBytes: config.limits.maxMessageBytes,
      maxMessagesPerCatchUp: config.limits.maxMessagesPerCatchUp,
      retentionDays: config.limits.retentionDays,
    },
  });
  await service.start();

  const metrics = createMetrics();
  let http: Server | undefined;
  if (config.http.listen !== null) {
    const served = await serveHttp(parseHostPort(config.http.listen), metrics, () => connection.online);
    http = served.server;
    logger.info({ module: "http", port: served.port }, "health and metrics served");
  }
  connection.on("online", () => {
    metrics.connected.set(1);
    void multicast?.probe();
  });
  connection.on("offline", () => {
    metrics.connected.set(0);
    multicast?.offline();
  });
  service.mls?.observe(metrics);
  // Housekeeping: expired KeyPackages and log entries past retention.
  const housekeeping = setInterval(() => {
    service.ds?.housekeeping(config.limits.retentionDays).catch((err: unknown) => logger.warn({ err }, "housekeeping failed"));
  }, 3_600_000);
  housekeeping.unref();

  const running = new Set<Promise<void>>();
  connection.on("stanza", (stanza) => {
    metrics.stanzas.inc({ kind: stanza.name });
    if (multicast?.intercept(stanza)) return;
    const p = service.dispatch(stanza).finally(() => running.delete(p));
    running.add(p);
  });
  connection.start();
  logger.info({ config: redactConfig(config) }, "component started");

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info("stopping");
      // Accepted messages first: their writes, then their fan-out (while still connected).
      await Promise.race([
        (async () => {
          await service.ds?.drainWrites();
          await service.mls?.idle();
        })(),
        new Promise((r) => setTimeout(r, 5_000)),
      ]);
      if (connection.online) await service.host.shutdown().catch((err: unknown) => logger.warn({ err }, "shutdown notices failed"));
      clearInterval(housekeeping);
      service.mls?.stop();
      await connection.stop();
      await Promise.race([Promise.allSettled([...running]), new Promise((r) => setTimeout(r, 5_000))]);
      await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
      await service.ds?.drainWrites(); // messages accepted by handlers that were still running
      await service.ds?.flushCursors(); // delivery cursors are written behind (DeliveryService.delivered)
      await openStore.close();
      logger.info("stopped");
    })());

  return { config, logger, store: openStore, connection, service, multicast, stop };
}

function packageVersion(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i += 1) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "xmpp-mls-bridge") return pkg.version;
    } catch {
      // not here: go up
    }
    dir = path.dirname(dir);
  }
  return undefined;
}

/** Runs the component until SIGINT/SIGTERM. Returns the exit status. */
export async function main(argv: readonly string[] = process.argv.slice(2), env: Env = process.env): Promise<number> {
  let config: Config;
  try {
    const version = packageVersion();
    const cli = parseCli(argv, env, version !== undefined ? { version } : {});
    if (cli.action !== "run") {
      process.stdout.write(cli.text);
      return 0;
    }
    config = cli.config;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`xmpp-mls-bridge: ${e.problems.map((p) => p.message).join("\nxmpp-mls-bridge: ")}\n`);
      return 2;
    }
    throw e;
  }

  const logger = createLogger(config.log);
  let component: RunningComponent;
  try {
    component = await startComponent(config, { logger });
  } catch (err) {
    logger.fatal({ err }, "cannot start");
    return 1;
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        logger.warn({ signal }, "second signal: exiting now");
        resolve(1);
        return;
      }
      logger.info({ signal }, "signal received");
      component.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, "unclean shutdown");
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`xmpp-mls-bridge: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
