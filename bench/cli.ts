/**
 * Option parsing for the benchmark tools: -h/--help prints the usage, and a
 * bad option is one line on stderr with the usage and exit status 2, never a
 * stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Prints the usage to stdout and exits with status 0 (-h, --help). */
export function printUsage(usage: string): never {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

/** Prints `tool: message` and the usage to stderr and exits with status 2. */
export function usageError(tool: string, message: string, usage: string): never {
  process.stderr.write(`${tool}: ${message}\n${usage}\n`);
  process.exit(2);
}

/** node:util's parseArgs (strict unless `config` says otherwise), with the behaviour above. */
export function parseToolArgs<T extends ParseArgsConfig>(tool: string, usage: string, config: T): ReturnType<typeof parseArgs<T>>["values"] {
  const argv = config.args ?? process.argv.slice(2);
  if (argv.includes("-h") || argv.includes("--help")) printUsage(usage);
  try {
    return parseArgs(config).values;
  } catch (e) {
    return usageError(tool, e instanceof Error ? e.message : String(e), usage);
  }
}
