// The component's configuration: one zod schema, one table of defaults.
//
// Every setting has a default here except `component.secret`, which an
// operator must set (the XEP-0114 handshake secret shared with the XMPP
// server) unless `demo` is on. Loading in layers (file < env < flags) lives
// in load.ts; the list of env vars and flags in options.ts; the prose for
// operators in docs/configuration.md.

import { z } from "zod";

/** pino's level names, most to least severe, plus "silent". */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** "group": members-only, membership = affiliation list (the WhatsApp model).
 *  "channel": open, membership follows occupancy (the IRC model). */
export const ROOM_KINDS = ["group", "channel"] as const;
export type RoomKind = (typeof ROOM_KINDS)[number];

/** Words that mean "no HTTP listener" in `http.listen`. */
export const OFF_WORDS = ["off", "none", "disabled", "false"] as const;

/** Documented defaults. `--help`, docs/configuration.md and the schema all read these. */
export const DEFAULTS = {
  demo: false,
  component: {
    domain: "mls.localhost",
    server: "127.0.0.1:5347",
    reconnect: { initialDelayMs: 1_000, maxDelayMs: 60_000 },
    multicast: null as string | null,
  },
  store: { path: "./data/xmpp-mls-bridge.sqlite" },
  log: { level: "info" as LogLevel, format: "json" as LogFormat },
  http: { listen: "127.0.0.1:9470" as string | null },
  mls: { cipherSuite: 1, keyPackageLowWater: 10, maxEpochLag: 2 },
  rooms: { defaultKind: "group" as RoomKind, occupancyGraceSeconds: 60 },
  limits: { maxStanzaBytes: 256 * 1024, maxMessageBytes: 128 * 1024, maxMessagesPerCatchUp: 500, keyPackagesPerDevice: 100, retentionDays: 30 },
} as const;

export interface HostPort {
  host: string;
  port: number;
}

const HOST_PORT_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/;

/** Parses "host:port" or "[v6]:port". Returns undefined when malformed or the port is out of range. */
export function tryParseHostPort(value: string, allowPortZero = false): HostPort | undefined {
  const m = HOST_PORT_RE.exec(value);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65_535 || (port === 0 && !allowPortZero)) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Parses a host:port that the schema already validated (throws otherwise). */
export function parseHostPort(value: string): HostPort {
  const hp = tryParseHostPort(value, true);
  if (!hp) throw new Error(`not a host:port: '${value}'`);
  return hp;
}

// An XMPP domainpart as operators write it: lowercase DNS labels, no JID punctuation.
const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

const int = (min: number, max: number, what = "an integer") =>
  z.int({ error: `expected ${what}` }).min(min, { error: `expected ${what} >= ${min}` }).max(max, {
    error: `expected ${what} <= ${max}`,
  });

const hostPort = (allowPortZero: boolean, expected: string) =>
  z
    .string({ error: expected })
    .refine((s) => HOST_PORT_RE.test(s), { error: expected, abort: true })
    .refine((s) => tryParseHostPort(s, allowPortZero) !== undefined, {
      error: `expected a port from ${allowPortZero ? 0 : 1} to 65535`,
    });

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.join(", ")}` });

const MULTICAST_EXPECTED = "expected the multicast service's domain (like multicast.example.org) or off";

export const ConfigSchema = z
  .strictObject({
    /** Demo mode: no secret needed; meant for `./run demo` and local trials only. */
    demo: z.boolean({ error: "expected true or false" }).default(DEFAULTS.demo),
    component: z
      .strictObject({
        /** The component's JID domain, as named in the server's `Component "<domain>"` block. */
        domain: z
          .string({ error: "expected a domain name" })
          .regex(DOMAIN_RE, { error: "expected a lowercase domain name like mls.example.org" })
          .default(DEFAULTS.component.domain),
        /** XEP-0114 handshake secret (the server's `component_secret`). */
        secret: z.string({ error: "expected a string" }).min(1, { error: "must not be empty" }).optional(),
        /** The XMPP server's component port. */
        server: hostPort(false, "expected host:port").default(DEFAULTS.component.server),
        /** Reconnect backoff after losing the server: doubles from initial up to max, with jitter. */
        reconnect: z
          .strictObject({
            initialDelayMs: int(10, 3_600_000, "milliseconds").default(DEFAULTS.component.reconnect.initialDelayMs),
            maxDelayMs: int(10, 3_600_000, "milliseconds").default(DEFAULTS.component.reconnect.maxDelayMs),
          })
          .prefault({}),
        /**
         * An XEP-0033 multicast service on the server (component/prosody/mod_mls_multicast.lua, ejabberd's mod_multicast)
         * that makes the fan-out copies; null = one stanza per device.
         */
        multicast: z
          .preprocess(
            (v) => (v === false || (typeof v === "string" && (OFF_WORDS as readonly string[]).includes(v.toLowerCase())) ? null : v),
            z.union([z.null(), z.string().regex(DOMAIN_RE, { error: MULTICAST_EXPECTED })], { error: MULTICAST_EXPECTED }),
          )
          .default(DEFAULTS.component.multicast),
      })
      .prefault({}),
    store: z
      .strictObject({
        /** SQLite database file (":memory:" for tests). Relative paths are resolved by the loader. */
        path: z.string({ error: "expected a file path" }).min(1, { error: "must not be empty" }).default(DEFAULTS.store.path),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: oneOf(LOG_LEVELS).default(DEFAULTS.log.level),
        format: oneOf(LOG_FORMATS).default(DEFAULTS.log.format),
      })
      .prefault({}),
    http: z
      .strictObject({
        /** Health check and Prometheus metrics over HTTP; null = no listener. */
        listen: z
          .preprocess(
            (v) =>
              v === false || (typeof v === "string" && (OFF_WORDS as readonly string[]).includes(v.toLowerCase()))
                ? null
                : v,
            z.union([z.null(), hostPort(true, "expected host:port or off")], { error: "expected host:port or off" }),
          )
          .default(DEFAULTS.http.listen),
      })
      .prefault({}),
    mls: z
      .strictObject({
        /** RFC 9420 §17.1 cipher suite of the component's external-sender key and new groups. */
        cipherSuite: int(1, 0xffff, "a cipher suite number").default(DEFAULTS.mls.cipherSuite),
        /** Ask a device for more KeyPackages when it has fewer unclaimed ones than this. */
        keyPackageLowWater: int(0, 10_000).default(DEFAULTS.mls.keyPackageLowWater),
        /** How many epochs an application message may lag behind the current one (docs/protocol.md §7.5). */
        maxEpochLag: int(0, 100).default(DEFAULTS.mls.maxEpochLag),
      })
      .prefault({}),
    rooms: z
      .strictObject({
        /** Kind of a room created without an explicit configuration. */
        defaultKind: oneOf(ROOM_KINDS).default(DEFAULTS.rooms.defaultKind),
        /** Channel rooms: how long an MLS device stays in the group after its occupant left. */
        occupancyGraceSeconds: int(0, 86_400, "seconds").default(DEFAULTS.rooms.occupancyGraceSeconds),
      })
      .prefault({}),
    limits: z
      .strictObject({
        /** Largest stanza the component accepts (bytes). Keep <= the server's own limit. */
        maxStanzaBytes: int(1024, 64 * 1024 * 1024, "bytes").default(DEFAULTS.limits.maxStanzaBytes),
        /** Largest decoded application MLSMessage (bytes). */
        maxMessageBytes: int(256, 64 * 1024 * 1024, "bytes").default(DEFAULTS.limits.maxMessageBytes),
        /** Stored messages sent to a returning device per catch-up request (it pages for more). */
        maxMessagesPerCatchUp: int(1, 100_000).default(DEFAULTS.limits.maxMessagesPerCatchUp),
        /** Unclaimed KeyPackages kept per device; uploads beyond this are refused. */
        keyPackagesPerDevice: int(1, 10_000).default(DEFAULTS.limits.keyPackagesPerDevice),
        /** How long the room log keeps entries for offline devices (days; 0 = forever). */
        retentionDays: int(0, 36_500, "days").default(DEFAULTS.limits.retentionDays),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (!c.demo && c.component.secret === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["component", "secret"],
        message:
          "required: set --secret-file, XMB_SECRET_FILE, XMB_SECRET or component.secret in the config file (or --demo for a local trial)",
      });
    }
    if (c.component.reconnect.maxDelayMs < c.component.reconnect.initialDelayMs) {
      ctx.addIssue({
        code: "custom",
        path: ["component", "reconnect", "maxDelayMs"],
        message: `must be >= component.reconnect.initialDelayMs (${c.component.reconnect.initialDelayMs})`,
      });
    }
  });

/** The validated, effective configuration. */
export type Config = z.output<typeof ConfigSchema>;
/** What a config file (or a test) may give: every field optional. */
export type ConfigInput = z.input<typeof ConfigSchema>;
