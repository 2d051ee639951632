import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Where the official MLS test vectors are: $MLS_TEST_VECTORS, else ../shared/mls-test-vectors. */
export function vectorsDir(override?: string): string {
  return resolve(override ?? process.env["MLS_TEST_VECTORS"] ?? join(projectRoot, "..", "shared", "mls-test-vectors"));
}

export class MissingVectorsError extends Error {}

/** Reads one vector file as an array of entries; a clear error when the folder or file is missing. */
export function loadVectorFile(file: string, dir = vectorsDir()): unknown[] {
  const path = join(dir, file);
  if (!existsSync(path)) {
    throw new MissingVectorsError(
      `MLS test vector file not found: ${path}. Set MLS_TEST_VECTORS to the folder holding the ` +
        `official MLS interop test vectors (default ../shared/mls-test-vectors beside the checkout).`,
    );
  }
  const data: unknown = JSON.parse(readFileSync(path, "utf8"));
  return Array.isArray(data) ? data : [data];
}
