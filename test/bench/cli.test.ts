// The benchmark tools as a user starts them: -h prints the usage, and a bad
// option is one line and the usage on stderr with exit status 2, never a
// stack trace (bench/cli.ts). Nothing is measured here.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

async function tool(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ["--import", "tsx", script, ...args], { cwd: root, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const TOOLS: [script: string, name: string, bad: string[], why: RegExp][] = [
  ["bench/mls/run.ts", "bench:mls", ["--sizes", "3"], /--sizes takes integers >= 8/],
  ["bench/mls/profile.ts", "profile", ["--op", "nope"], /unknown op nope/],
  ["bench/crypto/run.ts", "bench:crypto", ["--suites", "9"], /--suites the suite numbers 1 to 7/],
  ["bench/room/run.ts", "bench:room", ["--members", "x"], /--members needs an integer >= 2/],
];

describe.each(TOOLS)("%s", (script, name, bad, why) => {
  it("prints its usage for -h and exits 0", async () => {
    const r = await tool(script, ["-h"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: /);
  }, 90_000);

  it("rejects an unknown option and a bad value with one line and the usage, status 2", async () => {
    for (const [args, message] of [
      [["--no-such-option"], /Unknown option '--no-such-option'|unknown option --no-such-option/],
      [bad, why],
    ] as const) {
      const r = await tool(script, [...args]);
      expect(r.code).toBe(2);
      const [first, second] = r.stderr.split("\n");
      expect(first).toMatch(new RegExp(`^${name}: `));
      expect(first).toMatch(message);
      expect(second).toMatch(/^usage: /);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).toBe("");
    }
  }, 90_000);
});
