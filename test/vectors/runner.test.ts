// The conformance runner as a user runs it: a process, its output and its exit code.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { vectorsDir } from "./load.js";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "vectors-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function runner(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ["--import", "tsx", "test/vectors/runner.ts", ...args], { cwd: root });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

it("reports an entry whose expected value was altered as failed, and exits non-zero", async () => {
  cpSync(vectorsDir(), tmp, { recursive: true });
  const file = join(tmp, "tree-math.json");
  const data = JSON.parse(readFileSync(file, "utf8")) as { root: number }[];
  data[3]!.root += 2;
  writeFileSync(file, JSON.stringify(data));
  const r = await runner(["--dir", tmp, "--json", "--only", "tree-math.json,deserialization.json"]);
  expect(r.code).toBe(1);
  const out = JSON.parse(r.stdout) as { files: { file: string; entries: number; passed: number; failed: number; skipped: number }[]; provider: string };
  expect(out.provider).toBe("native");
  expect(out.files).toEqual([
    { file: "deserialization.json", entries: 14, passed: 14, failed: 0, skipped: 0 },
    { file: "tree-math.json", entries: 10, passed: 9, failed: 1, skipped: 0 },
  ]);
}, 120_000);

it("passes unaltered files with exit code 0, and says clearly when the vectors are missing", async () => {
  const ok = await runner(["--only", "tree-math.json,messages.json", "--provider", "noble"]);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/all entries passed/);
  const missing = await runner(["--dir", join(tmp, "nowhere"), "--only", "tree-math.json"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/MLS_TEST_VECTORS/);
  const usage = await runner(["--provider", "openssl"]);
  expect(usage.code).toBe(2);
}, 120_000);
