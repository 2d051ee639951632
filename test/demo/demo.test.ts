// `./run demo` in CI: the demo script (demo/main.ts) runs as its own process,
// once non-interactively (--once: exit 0 after the scripted exchange) and once
// until a signal stops it, as Ctrl-C would.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { canConnect } from "../integration/harness/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface Run {
  readonly out: () => string;
  readonly err: () => string;
  readonly exited: Promise<number | null>;
  readonly pid: number | undefined;
}

function runDemo(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", "demo/main.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString("utf8")));
  child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { out: () => out, err: () => err, exited, pid: child.pid };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const dataDirOf = (out: string) => /data folder: (\S+)/.exec(out)?.[1];
const c2sPortOf = (out: string) => /--server 127\.0\.0\.1:(\d+)/.exec(out)?.[1];

describe("./run demo", () => {
  it("--once: Prosody, component, alice and bob exchange encrypted messages, exit 0, nothing left behind", async () => {
    const run = runDemo(["--once"]);
    const code = await run.exited;
    const out = run.out();
    expect(code, `stdout:\n${out}\nstderr:\n${run.err()}`).toBe(0);
    expect(out).toMatch(/Prosody listening on 127\.0\.0\.1:\d+ \(clients\)/);
    expect(out).toContain("component mls.localhost online");
    expect(out).toMatch(/alice created the group room team@mls\.localhost/);
    expect(out).toMatch(/bob is in team@mls\.localhost via welcome at epoch 1/);
    expect(out).toMatch(/bob decrypted \[epoch \d+, seq \d+\] alice: Hi Bob!/);
    expect(out).toMatch(/alice decrypted \[epoch \d+, seq \d+\] bob: Hi Alice/);
    expect(out).toMatch(/agree on its epoch authenticator/);
    const ready = /ready in ([\d.]+) s/.exec(out);
    expect(ready).not.toBeNull();
    expect(Number(ready![1])).toBeLessThan(30);
    expect(out).not.toContain("Press Ctrl-C"); // --once prints no instructions
    const dir = dataDirOf(out);
    expect(dir).toBeDefined();
    expect(existsSync(dir!)).toBe(false);
  }, 90_000);

  it("runs until SIGTERM after printing the mls-chat instructions, then shuts down cleanly", async () => {
    const run = runDemo([]);
    try {
      await until(() => run.out().includes("Press Ctrl-C"), 60_000, "the instructions");
    } catch (e) {
      process.kill(run.pid!, "SIGKILL");
      throw new Error(`${String(e)}\nstdout:\n${run.out()}\nstderr:\n${run.err()}`);
    }
    const out = run.out();
    const port = c2sPortOf(out);
    expect(port).toBeDefined();
    expect(out).toMatch(/mls-chat --jid carol@localhost --password carol-[0-9a-f]{8} --server 127\.0\.0\.1:\d+ --state \S+ listen team@mls\.localhost/);
    expect(out).toMatch(/mls-chat --jid alice@localhost --password alice-[0-9a-f]{8} .* invite team@mls\.localhost carol@localhost/);
    expect(out).toContain("/invite carol@localhost");
    const dir = dataDirOf(out)!;
    expect(existsSync(path.join(dir, "bridge.sqlite"))).toBe(true);

    process.kill(run.pid!, "SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.out()).toContain("stopped");
    expect(existsSync(dir)).toBe(false);
    expect(await canConnect(Number(port))).toBe(false); // Prosody is gone
  }, 90_000);
});
