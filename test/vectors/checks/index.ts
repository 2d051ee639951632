import type { VectorCheck } from "./types.js";

/** The 16 official vector files, each with its verifier. */
export const VECTOR_FILES = [
  "crypto-basics.json",
  "deserialization.json",
  "key-schedule.json",
  "message-protection.json",
  "messages.json",
  "passive-client-handling-commit.json",
  "passive-client-random.json",
  "passive-client-welcome.json",
  "psk_secret.json",
  "secret-tree.json",
  "transcript-hashes.json",
  "tree-math.json",
  "tree-operations.json",
  "tree-validation.json",
  "treekem.json",
  "welcome.json",
] as const;

export type VectorFile = (typeof VECTOR_FILES)[number];

/** Loads the verifier of one file (lazily, so one broken module does not hide the others). */
export async function loadCheck(file: VectorFile): Promise<VectorCheck> {
  const mod = (await import(`./${file.replace(/\.json$/, "")}.js`)) as { default: VectorCheck };
  return mod.default;
}
