// Loading the configuration in layers, lowest first:
//
//   defaults (schema.ts)  <  config file (JSON)  <  environment (XMB_*)  <  command-line flags
//
// The config file is JSON: no TOML/YAML parser is among the project's
// dependencies and JSON.parse needs none. Everything here is pure apart from
// reading the named config and secret files (injectable for tests): no
// process.exit, no printing. Problems are thrown as one ConfigError naming
// every bad field and where its value came from.

import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, CommanderError, Option } from "commander";
import type { z } from "zod";

import { ConfigError, type ConfigProblem } from "./errors.js";
import { CONFIG_FILE_ENV, OPTIONS, SECRET_FILE_ENV, coerce, defaultText, getPath, type OptionSpec } from "./options.js";
import { ConfigSchema, type Config } from "./schema.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadOptions {
  /** Base for relative paths given in env or flags (default: process.cwd()). */
  cwd?: string;
  /** Reads the config and secret files (default: fs.readFileSync as UTF-8). */
  readFile?: (file: string) => string;
  /** Shown by --version; without it there is no --version flag. */
  version?: string;
  /** Program name in --help (default "xmpp-mls-bridge"). */
  programName?: string;
}

export type CliResult =
  | { action: "run"; config: Config; sources: ReadonlyMap<string, string> }
  | { action: "print-config"; config: Config; sources: ReadonlyMap<string, string>; text: string }
  | { action: "help"; text: string }
  | { action: "version"; text: string };

export const REDACTED = "[redacted]";

/**
 * The effective configuration from `argv` (the user's arguments only, i.e.
 * process.argv.slice(2)) and `env`. Throws ConfigError; never exits.
 */
export function loadConfig(argv: readonly string[], env: Env, options: LoadOptions = {}): Config {
  const result = parseCli(argv, env, options);
  if (result.action === "help" || result.action === "version") {
    throw new ConfigError("cli_usage", [{ path: "", message: `--${result.action} given: use parseCli to handle it` }]);
  }
  return result.config;
}

/** What the entry point calls: decides between run, --print-config, --help and --version. */
export function parseCli(argv: readonly string[], env: Env, options: LoadOptions = {}): CliResult {
  const { program, flags, output } = buildProgram(options);
  try {
    program.parse([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help") {
        return { action: "help", text: output.out };
      }
      if (e.code === "commander.version") return { action: "version", text: output.out };
      const message = (output.err || e.message).trim().replace(/^error: /, "");
      throw new ConfigError("cli_usage", [{ path: "", message: `${message} (see --help)` }]);
    }
    throw e;
  }

  const flagValues = new Map<string, string | boolean>();
  for (const [name, opt] of flags) {
    const v: unknown = program.getOptionValue(opt.attributeName());
    if (typeof v === "string" || typeof v === "boolean") flagValues.set(name, v);
  }
  const { config, sources } = resolveConfig(flagValues, env, options);
  if (flagValues.get("print-config") === true) {
    return { action: "print-config", config, sources, text: formatConfig(config) + "\n" };
  }
  return { action: "run", config, sources };
}

/** The `--help` text (without running anything). */
export function helpText(options: LoadOptions = {}): string {
  const r = parseCli(["--help"], {}, options);
  return r.action === "help" ? r.text : "";
}

/** A copy of the config that is safe to print or log. */
export function redactConfig(config: Config): Config {
  const component = { ...config.component };
  if (component.secret !== undefined) component.secret = REDACTED;
  return { ...config, component };
}

/** JSON of the effective config, secret redacted: the output of --print-config. */
export function formatConfig(config: Config): string {
  return JSON.stringify(redactConfig(config), null, 2);
}

// ---------------------------------------------------------------------------
// Command line

function flagText(spec: { flag: string; valueName?: string | undefined }): string {
  return spec.valueName ? `--${spec.flag} <${spec.valueName}>` : `--${spec.flag}`;
}

function buildProgram(options: LoadOptions) {
  const output = { out: "", err: "" };
  const flags = new Map<string, Option>();
  const program = new Command(options.programName ?? "xmpp-mls-bridge")
    .description(
      "MLS (RFC 9420) end-to-end encrypted group chat for XMPP, as an XEP-0114 component.\n" +
        "Settings come from defaults < config file < environment < flags.",
    )
    .helpOption("-h, --help", "show this help and exit")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void (output.out += s),
      writeErr: (s) => void (output.err += s),
      outputError: (s, write) => write(s),
    });

  const add = (name: string, opt: Option) => {
    flags.set(name, opt);
    program.addOption(opt);
  };
  add("config", new Option("-c, --config <file>", `JSON config file (env: ${CONFIG_FILE_ENV})`));
  for (const spec of OPTIONS) {
    if (!spec.flag) continue;
    const def = spec.key === "component.secret" ? "required unless --demo" : `default: ${defaultText(spec.key)}`;
    add(spec.flag, new Option(flagText({ flag: spec.flag, valueName: spec.valueName }), `${spec.description} (${def}; env: ${spec.env})`));
    if (spec.key === "component.secret") {
      add("secret-file", new Option("--secret-file <path>", `read the component secret from this file (env: ${SECRET_FILE_ENV})`));
    }
  }
  add("print-config", new Option("--print-config", "print the effective configuration (secret redacted) and exit"));
  if (options.version !== undefined) program.version(options.version, "-V, --version", "print the version and exit");

  const envOnly = OPTIONS.filter((s) => !s.flag);
  const width = Math.max(...envOnly.map((s) => s.env.length));
  program.addHelpText(
    "after",
    "\nSettings without a flag (environment variable, or the key in the config file):\n" +
      envOnly
        .map((s) => `  ${s.env.padEnd(width)}  ${s.key}: ${s.description} (default: ${defaultText(s.key)})`)
        .join("\n") +
      "\n\nAn empty environment variable counts as unset. See docs/configuration.md.\n",
  );
  return { program, flags, output };
}

// ---------------------------------------------------------------------------
// Layers

interface Layer {
  /** "config file /x.json", "env", "flags": for messages about the layer as a whole. */
  name: string;
  /** Base directory for relative paths given in this layer. */
  baseDir: string;
  /** Setting key -> [value, source label]. */
  values: Map<string, [unknown, string]>;
  /** Secret file named in this layer, with its source label. */
  secretFile?: [string, string];
}

function resolveConfig(
  flagValues: ReadonlyMap<string, string | boolean>,
  env: Env,
  options: LoadOptions,
): { config: Config; sources: Map<string, string> } {
  const cwd = options.cwd ?? process.cwd();
  const readFile = options.readFile ?? ((f: string) => readFileSync(f, "utf8"));

  const layers: Layer[] = [];
  const configFlag = flagValues.get("config");
  const configEnv = nonEmpty(env[CONFIG_FILE_ENV]);
  if (typeof configFlag === "string") {
    layers.push(fileLayer(path.resolve(cwd, configFlag), "--config", readFile));
  } else if (configEnv !== undefined) {
    layers.push(fileLayer(path.resolve(cwd, configEnv), `env ${CONFIG_FILE_ENV}`, readFile));
  }
  layers.push(envLayer(env, cwd));
  layers.push(flagLayer(flagValues, cwd));

  const raw: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  const storeBase: { dir: string } = { dir: cwd };
  const problems: ConfigProblem[] = [];

  // The secret may be given as a value or as a file in any layer; only the
  // winning layer's file is read, so a stale secretFile below an override is harmless.
  let secretFile: { file: string; source: string } | undefined;
  for (const layer of layers) {
    const secret = layer.values.get("component.secret");
    if (layer.secretFile && secret) {
      problems.push({
        path: "component.secret",
        source: layer.name,
        message: `component.secret: set both directly (${secret[1]}) and as a file (${layer.secretFile[1]}); use one`,
      });
      continue;
    }
    for (const [key, [value, source]] of layer.values) {
      setPath(raw, key, value);
      sources.set(key, source);
      if (key === "store.path") storeBase.dir = layer.baseDir;
      if (key === "component.secret") secretFile = undefined;
    }
    if (layer.secretFile) {
      const [file, source] = layer.secretFile;
      secretFile = { file: path.resolve(layer.baseDir, file), source };
    }
  }
  if (secretFile) {
    const { file, source } = secretFile;
    try {
      setPath(raw, "component.secret", readFile(file).replace(/\r?\n$/, ""));
      sources.set("component.secret", `${source} (${file})`);
    } catch (e) {
      problems.push({
        path: "component.secret",
        source,
        message: `component.secretFile: cannot read '${file}': ${errorText(e)} (from ${source})`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError("config_file", problems);

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError("config_invalid", describeIssues(parsed.error.issues, raw, sources));

  const config = parsed.data;
  const store = config.store.path;
  if (store !== ":memory:" && !path.isAbsolute(store)) config.store.path = path.resolve(storeBase.dir, store);
  return { config, sources };
}

function fileLayer(file: string, via: string, readFile: (f: string) => string): Layer {
  const label = `config file ${file}`;
  let text: string;
  try {
    text = readFile(file);
  } catch (e) {
    throw new ConfigError("config_file", [
      { path: "", source: via, message: `config file '${file}' (from ${via}): cannot read: ${errorText(e)}` },
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError("config_file", [
      { path: "", source: label, message: `config file '${file}': invalid JSON: ${errorText(e)}` },
    ]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError("config_file", [
      { path: "", source: label, message: `config file '${file}': expected a JSON object at the top level` },
    ]);
  }
  const layer: Layer = { name: label, baseDir: path.dirname(file), values: new Map() };
  const component = (data as Record<string, unknown>)["component"];
  if (component !== null && typeof component === "object" && !Array.isArray(component) && "secretFile" in component) {
    const { secretFile, ...rest } = component as Record<string, unknown>;
    (data as Record<string, unknown>)["component"] = rest;
    if (typeof secretFile !== "string" || secretFile === "") {
      throw new ConfigError("config_file", [
        { path: "component.secretFile", source: label, message: `component.secretFile: expected a file path (from ${label})` },
      ]);
    }
    layer.secretFile = [secretFile, label];
  }
  for (const [key, value] of leaves(data as Record<string, unknown>)) layer.values.set(key, [value, label]);
  return layer;
}

function envLayer(env: Env, cwd: string): Layer {
  const layer: Layer = { name: "environment", baseDir: cwd, values: new Map() };
  for (const spec of OPTIONS) {
    const v = nonEmpty(env[spec.env]);
    if (v !== undefined) layer.values.set(spec.key, [coerce(spec.kind, v), `env ${spec.env}`]);
  }
  const secretFile = nonEmpty(env[SECRET_FILE_ENV]);
  if (secretFile !== undefined) layer.secretFile = [secretFile, `env ${SECRET_FILE_ENV}`];
  return layer;
}

function flagLayer(flagValues: ReadonlyMap<string, string | boolean>, cwd: string): Layer {
  const layer: Layer = { name: "command line", baseDir: cwd, values: new Map() };
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    if (!spec.flag) continue;
    const v = flagValues.get(spec.flag);
    if (v !== undefined) layer.values.set(spec.key, [coerce(spec.kind, v), flagText({ flag: spec.flag })]);
  }
  const secretFile = flagValues.get("secret-file");
  if (typeof secretFile === "string") layer.secretFile = [secretFile, "--secret-file"];
  return layer;
}

// ---------------------------------------------------------------------------
// Messages

function describeIssues(issues: readonly z.core.$ZodIssue[], raw: unknown, sources: ReadonlyMap<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const at = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const full = at ? `${at}.${key}` : key;
        const source = sourceOf(full, sources) ?? "config file";
        problems.push({ path: full, source, message: `${full}: unknown setting (from ${source})` });
      }
      continue;
    }
    const value = getPath(raw, at);
    const source = sourceOf(at, sources);
    let message = `${at || "(config)"}: ${issue.message}`;
    if (value !== undefined) message += `, got ${show(value)}`;
    if (source !== undefined) message += ` (from ${source})`;
    else if (value === undefined && issue.code !== "custom") message += " (missing)";
    problems.push(source === undefined ? { path: at, message } : { path: at, source, message });
  }
  return problems;
}

/** The source of a key, or of the nearest enclosing key that was set as a whole. */
function sourceOf(key: string, sources: ReadonlyMap<string, string>): string | undefined {
  for (let k = key; k !== ""; k = k.includes(".") ? k.slice(0, k.lastIndexOf(".")) : "") {
    const s = sources.get(k);
    if (s !== undefined) return s;
  }
  return undefined;
}

function show(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  const json = JSON.stringify(value);
  return json.length > 60 ? json.slice(0, 57) + "..." : json;
}

// ---------------------------------------------------------------------------
// Small helpers

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Leaf paths of a JSON object; arrays and null count as leaves. */
function* leaves(obj: Record<string, unknown>, prefix = ""): Generator<[string, unknown]> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) yield* leaves(v as Record<string, unknown>, key);
    else yield [key, v];
  }
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (next === null || typeof next !== "object" || Array.isArray(next)) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}
