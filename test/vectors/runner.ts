/**
 * Conformance runner: verifies every entry of the official MLS test vectors.
 *   npm run vectors -- [--dir DIR] [--provider native|noble] [--json] [--only FILE,...]
 * Exits 1 when any entry fails or is skipped, 2 on usage errors.
 */
import { parseArgs } from "node:util";
import { VECTOR_FILES } from "./checks/index.js";
import { MissingVectorsError, vectorsDir } from "./load.js";
import { PROVIDERS, type ProviderName } from "./providers.js";
import { runVectorFile, type FileResult } from "./run-file.js";

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        dir: { type: "string" },
        provider: { type: "string", default: "native" },
        json: { type: "boolean", default: false },
        only: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`vectors: ${(e as Error).message}`);
    return 2;
  }
  if (args.help) {
    console.log("usage: npm run vectors -- [--dir DIR] [--provider native|noble] [--json] [--only FILE,...]");
    return 0;
  }
  const providerName = args.provider as string;
  if (!(providerName in PROVIDERS)) {
    console.error(`vectors: unknown provider "${providerName}" (native or noble)`);
    return 2;
  }
  const provider = PROVIDERS[providerName as ProviderName];
  const dir = vectorsDir(args.dir);
  const only = args.only === undefined ? undefined : new Set((args.only as string).split(","));
  const unknown = [...(only ?? [])].filter((f) => !(VECTOR_FILES as readonly string[]).includes(f));
  if (unknown.length > 0) {
    console.error(`vectors: unknown file(s) ${unknown.join(", ")}`);
    return 2;
  }
  const results: FileResult[] = [];
  try {
    for (const file of VECTOR_FILES) if (!only || only.has(file)) results.push(await runVectorFile(file, provider, dir));
  } catch (e) {
    if (e instanceof MissingVectorsError) {
      console.error(`vectors: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const bad = results.some((r) => r.failed > 0 || r.skipped > 0);
  if (args.json) {
    const files = results.map(({ file, entries, passed, failed, skipped }) => ({ file, entries, passed, failed, skipped }));
    console.log(JSON.stringify({ files, provider: providerName }));
  } else {
    console.log(`MLS test vectors in ${dir}, provider ${providerName}`);
    console.log(`${"file".padEnd(40)} ${"entries".padStart(7)} ${"passed".padStart(7)} ${"failed".padStart(7)} ${"skipped".padStart(7)}`);
    for (const r of results) {
      console.log(
        `${r.file.padEnd(40)} ${String(r.entries).padStart(7)} ${String(r.passed).padStart(7)} ${String(r.failed).padStart(7)} ${String(r.skipped).padStart(7)}`,
      );
      for (const f of r.failures.slice(0, 5)) console.log(`    entry ${f.index}: ${f.error}`);
      if (r.failures.length > 5) console.log(`    ... ${r.failures.length - 5} more failures`);
    }
    console.log(bad ? "FAILED" : "all entries passed");
  }
  return bad ? 1 : 0;
}

process.exitCode = await main();
