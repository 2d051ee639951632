// Where each setting can come from: its environment variable and, for the
// settings an operator changes often, a command-line flag. One table, read by
// the loader, by `--help` and by the documentation test.

import { DEFAULTS, LOG_FORMATS, LOG_LEVELS, ROOM_KINDS } from "./schema.js";

/** How a string from the environment or a flag becomes a config value. */
export type ValueKind = "string" | "int" | "bool" | "orOff";

export interface OptionSpec {
  /** Dotted path in the config object, e.g. "component.server". */
  key: string;
  /** Environment variable, always set. */
  env: string;
  /** Long flag without the dashes, when there is one. */
  flag?: string;
  /** Placeholder shown in `--help` for the flag's value ("" for a boolean flag). */
  valueName?: string;
  kind: ValueKind;
  description: string;
}

/** Input-only settings: they feed another setting and are not part of the effective config. */
export const CONFIG_FILE_ENV = "XMB_CONFIG";
export const SECRET_FILE_ENV = "XMB_SECRET_FILE";

export const OPTIONS: readonly OptionSpec[] = [
  { key: "demo", env: "XMB_DEMO", flag: "demo", valueName: "", kind: "bool",
    description: "demo mode: no component secret required (local trials only)" },
  { key: "component.domain", env: "XMB_DOMAIN", flag: "domain", valueName: "domain", kind: "string",
    description: "the component's domain, as in the server's Component block" },
  { key: "component.secret", env: "XMB_SECRET", flag: "secret", valueName: "secret", kind: "string",
    description: "XEP-0114 component secret (prefer --secret-file: flags are visible in ps)" },
  { key: "component.server", env: "XMB_SERVER", flag: "server", valueName: "host:port", kind: "string",
    description: "the XMPP server's component port" },
  { key: "component.reconnect.initialDelayMs", env: "XMB_RECONNECT_INITIAL_MS", kind: "int",
    description: "first reconnect delay after losing the server (ms)" },
  { key: "component.reconnect.maxDelayMs", env: "XMB_RECONNECT_MAX_MS", kind: "int",
    description: "largest reconnect delay (ms); the delay doubles up to it" },
  { key: "component.multicast", env: "XMB_MULTICAST", flag: "multicast", valueName: "domain|off", kind: "orOff",
    description: "XEP-0033 multicast service that copies the fan-out (mod_mls_multicast, ejabberd's mod_multicast), or off" },
  { key: "store.path", env: "XMB_DB", flag: "db", valueName: "path", kind: "string",
    description: "SQLite database file" },
  { key: "log.level", env: "XMB_LOG_LEVEL", flag: "log-level", valueName: "level", kind: "string",
    description: `log level: ${LOG_LEVELS.join("|")}` },
  { key: "log.format", env: "XMB_LOG_FORMAT", flag: "log-format", valueName: "format", kind: "string",
    description: `log format: ${LOG_FORMATS.join("|")}` },
  { key: "http.listen", env: "XMB_HTTP_LISTEN", flag: "http-listen", valueName: "host:port|off", kind: "orOff",
    description: "health and metrics HTTP listener, or off" },
  { key: "mls.cipherSuite", env: "XMB_CIPHER_SUITE", kind: "int",
    description: "MLS cipher suite (RFC 9420 §17.1) of the component's key and new groups" },
  { key: "mls.keyPackageLowWater", env: "XMB_KEY_PACKAGE_LOW_WATER", kind: "int",
    description: "ask a device for KeyPackages when it has fewer unclaimed ones" },
  { key: "mls.maxEpochLag", env: "XMB_MAX_EPOCH_LAG", kind: "int",
    description: "epochs an application message may lag behind the current one" },
  { key: "rooms.defaultKind", env: "XMB_ROOMS_DEFAULT_KIND", kind: "string",
    description: `kind of a new room: ${ROOM_KINDS.join("|")} (group = members-only, channel = open)` },
  { key: "rooms.occupancyGraceSeconds", env: "XMB_ROOMS_OCCUPANCY_GRACE_SECONDS", kind: "int",
    description: "channel rooms: seconds a device stays in the MLS group after leaving" },
  { key: "limits.maxStanzaBytes", env: "XMB_MAX_STANZA_BYTES", kind: "int",
    description: "largest accepted stanza (bytes)" },
  { key: "limits.maxMessageBytes", env: "XMB_MAX_MESSAGE_BYTES", kind: "int",
    description: "largest accepted application message (decoded bytes)" },
  { key: "limits.maxMessagesPerCatchUp", env: "XMB_MAX_MESSAGES_PER_CATCH_UP", kind: "int",
    description: "stored messages sent per catch-up page" },
  { key: "limits.keyPackagesPerDevice", env: "XMB_KEY_PACKAGES_PER_DEVICE", kind: "int",
    description: "unclaimed KeyPackages kept per device" },
  { key: "limits.retentionDays", env: "XMB_RETENTION_DAYS", kind: "int",
    description: "days the room log keeps entries for offline devices (0 = forever)" },
];

/** Reads a dotted path out of a nested object. */
export function getPath(obj: unknown, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The documented default of a setting, as text for `--help` and the docs. */
export function defaultText(key: string): string {
  const v = getPath(DEFAULTS, key);
  if (v === undefined) return "none";
  if (v === null) return "off";
  return String(v);
}

/** Turns an env or flag string into the JSON value the schema expects. Malformed input is
 *  returned unchanged so that the schema reports it with its field name and source. */
export function coerce(kind: ValueKind, raw: string | boolean): unknown {
  if (typeof raw === "boolean") return raw;
  const s = raw.trim();
  switch (kind) {
    case "string":
      return raw;
    case "int":
      return /^-?\d+$/.test(s) ? Number(s) : raw;
    case "bool": {
      const l = s.toLowerCase();
      if (["1", "true", "yes", "on"].includes(l)) return true;
      if (["0", "false", "no", "off"].includes(l)) return false;
      return raw;
    }
    case "orOff":
      return s; // "off" and friends are handled by the schema
  }
}
