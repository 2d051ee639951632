import type { CryptoProvider } from "../../mls/crypto/provider.js";
import { loadCheck, type VectorFile } from "./checks/index.js";
import { loadVectorFile } from "./load.js";

export interface FileResult {
  file: string;
  entries: number;
  passed: number;
  failed: number;
  skipped: number;
  failures: { index: number; error: string }[];
}

/** Verifies every entry of one vector file; nothing is skipped. */
export async function runVectorFile(file: VectorFile, provider: CryptoProvider, dir?: string): Promise<FileResult> {
  const entries = loadVectorFile(file, dir);
  const result: FileResult = { file, entries: entries.length, passed: 0, failed: 0, skipped: 0, failures: [] };
  let check;
  try {
    check = await loadCheck(file);
  } catch (e) {
    result.failed = entries.length;
    result.failures.push({ index: -1, error: `no verifier: ${String(e)}` });
    return result;
  }
  entries.forEach((entry, index) => {
    try {
      check.check(entry, provider);
      result.passed++;
    } catch (e) {
      result.failed++;
      result.failures.push({ index, error: e instanceof Error ? e.message : String(e) });
    }
  });
  return result;
}
