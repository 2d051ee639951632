// Structured logging on pino, with secrets kept out of the output.
//
// Three guards, from cheapest to broadest:
//  1. pino `redact` paths for the fields we know (component.secret, password,
//     ...), applied by pino's serializer to log objects and child bindings;
//  2. a `formatters.log` pass that replaces the value of any key whose name
//     looks secret (*secret*, *password*, *privateKey*, *plaintext*, body),
//     at any depth, in the object given to a log call;
//  3. `childLogger()` runs the same pass over child bindings.
// Message strings are not inspected: never interpolate a secret into `msg`.

import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from "pino";

import type { Config } from "./schema.js";

export type { Logger } from "pino";

export const CENSOR = "[redacted]";

/** Exact paths for pino's redaction (fast-redact syntax). */
export const REDACT_PATHS: readonly string[] = [
  "component.secret",
  "config.component.secret",
  ...["secret", "password", "privateKey", "plaintext", "body"].flatMap((k) => [k, `*.${k}`]),
];

/** Key names whose values never reach a log line, whatever object they sit in. */
export const SECRET_KEY_RE = /secret|passw(?:or)?d|private_?key|plaintext|^body$/i;

const MAX_DEPTH = 8;

/** A copy of `value` with the values of secret-looking keys replaced by CENSOR.
 *  Walks plain objects and arrays only; class instances (Error, Uint8Array, ...) pass as they are. */
export function scrubSecrets<T>(value: T): T {
  return scrub(value, 0, new WeakSet()) as T;
}

function scrub(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[circular]";
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return "[deep]";
    seen.add(value);
    const out = value.map((v) => scrub(v, depth + 1, seen));
    seen.delete(value);
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  if (depth >= MAX_DEPTH) return "[deep]";
  seen.add(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY_RE.test(k) && v !== undefined && v !== null ? CENSOR : scrub(v, depth + 1, seen);
  }
  seen.delete(value);
  return out;
}

export interface CreateLoggerOptions {
  /** Where lines go (default: stdout). Anything with write(string). */
  destination?: DestinationStream;
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
  /** Logger name (default "xmpp-mls-bridge"). */
  name?: string;
}

/** The root logger, from the `log` section of the config. */
export function createLogger(log: Config["log"], options: CreateLoggerOptions = {}): Logger {
  const opts: LoggerOptions = {
    name: options.name ?? "xmpp-mls-bridge",
    level: log.level,
    base: { pid: process.pid, ...scrubSecrets(options.base ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: CENSOR },
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => scrubSecrets(obj),
    },
    serializers: {
      err: (e: Error) => scrubSecrets(stdSerializers.err(e)),
    },
  };
  const out: DestinationStream = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(opts, log.format === "pretty" ? prettyStream(out) : out);
}

/** A child logger for one part of the program ("component", "store", "room"...), with
 *  its bindings scrubbed like log objects. */
export function childLogger(parent: Logger, module: string, bindings: Record<string, unknown> = {}): Logger {
  return parent.child({ module, ...scrubSecrets(bindings) });
}

// ---------------------------------------------------------------------------
// "pretty": one readable line per entry, no extra dependency.
//   2025-01-02T03:04:05.678Z INFO  [component] connected server=127.0.0.1:5347

const OMIT = new Set(["time", "level", "msg", "module", "name", "pid", "hostname"]);

/** Formats one pino JSON line. Exported for tests. */
export function formatPrettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith("\n") ? line : line + "\n";
  }
  const level = String(entry["level"] ?? "").toUpperCase().padEnd(5);
  const module = entry["module"] === undefined ? "" : `[${String(entry["module"])}] `;
  const fields = Object.entries(entry)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  const msg = entry["msg"] === undefined ? "" : String(entry["msg"]);
  return `${String(entry["time"] ?? "")} ${level} ${module}${msg}${fields.length ? " " + fields.join(" ") : ""}\n`;
}

function prettyStream(out: DestinationStream): DestinationStream {
  return { write: (line: string) => out.write(formatPrettyLine(line)) };
}
