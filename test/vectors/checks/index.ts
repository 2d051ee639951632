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

/** Each file's verifier, loaded lazily (so one broken module does not hide the others). */
const LOADERS: Record<VectorFile, () => Promise<{ default: VectorCheck }>> = {
  "crypto-basics.json": () => import("./crypto-basics.js"),
  "deserialization.json": () => import("./deserialization.js"),
  "key-schedule.json": () => import("./key-schedule.js"),
  "message-protection.json": () => import("./message-protection.js"),
  "messages.json": () => import("./messages.js"),
  "passive-client-handling-commit.json": () => import("./passive-client-handling-commit.js"),
  "passive-client-random.json": () => import("./passive-client-random.js"),
  "passive-client-welcome.json": () => import("./passive-client-welcome.js"),
  "psk_secret.json": () => import("./psk_secret.js"),
  "secret-tree.json": () => import("./secret-tree.js"),
  "transcript-hashes.json": () => import("./transcript-hashes.js"),
  "tree-math.json": () => import("./tree-math.js"),
  "tree-operations.json": () => import("./tree-operations.js"),
  "tree-validation.json": () => import("./tree-validation.js"),
  "treekem.json": () => import("./treekem.js"),
  "welcome.json": () => import("./welcome.js"),
};

export async function loadCheck(file: VectorFile): Promise<VectorCheck> {
  return (await LOADERS[file]()).default;
}
