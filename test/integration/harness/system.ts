// What the server harnesses (prosody.ts, ejabberd.ts) share: finding and
// installing a Debian package, stopping the system service it starts, and
// small process and file helpers.

import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

export const execFileP = promisify(execFile);

export function findBinary(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = ["/usr/bin", ...extraDirs, ...(process.env["PATH"] ?? "").split(path.delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export function execOutput(e: unknown): string {
  const x = e as { stdout?: string; stderr?: string; message?: string };
  return [x.stdout, x.stderr, x.message].filter(Boolean).join("\n");
}

/**
 * `apt-get install -y <pkg>`; on a fresh image without package lists, one
 * `apt-get update` and a retry. `fail` builds the error to throw.
 */
export async function aptInstall(pkg: string, fail: (message: string) => Error, hint: string): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    execFileP("apt-get", ["-o", "DPkg::Lock::Timeout=300", "install", "-y", pkg], {
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
  try {
    await install();
  } catch (e) {
    const out = execOutput(e);
    if (!/Unable to locate package|has no installation candidate|Failed to fetch|404\s+Not Found/i.test(out)) {
      throw fail(`apt-get install -y ${pkg} failed:\n${out.slice(-2000)}\n\n${hint}`);
    }
    // No package lists yet (fresh image): update once and retry.
    try {
      await execFileP("apt-get", ["-o", "DPkg::Lock::Timeout=300", "update"], { env, maxBuffer: 16 * 1024 * 1024 });
      await install();
    } catch (e2) {
      throw fail(`apt-get update && apt-get install -y ${pkg} failed:\n${execOutput(e2).slice(-2000)}`);
    }
  }
}

/** Debian's server packages start a system-wide instance on the standard ports; the tests want none. */
export async function stopSystemService(name: string): Promise<void> {
  const quiet = async (cmd: string, args: string[]) => {
    try {
      await execFileP(cmd, args, { timeout: 60_000 });
    } catch {
      // Not there, not running, or no init system: fine.
    }
  };
  if (existsSync("/run/systemd/system")) await quiet("systemctl", ["disable", "--now", name]);
  await quiet("service", [name, "stop"]);
  await quiet("update-rc.d", [name, "disable"]);
}

export function signalPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** True when `p` settled within `ms`. */
export async function waitFor(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}

/** The file's text from byte `offset` on ("" when missing). */
export async function readFrom(file: string, offset: number): Promise<string> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, "r");
    const { size } = await handle.stat();
    if (size <= offset) return "";
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead).toString("utf8");
  } catch {
    return "";
  } finally {
    await handle?.close();
  }
}

export function readTail(file: string): string {
  // Sync on purpose: used while building error messages.
  const buf = readFileSync(file);
  return buf.subarray(Math.max(0, buf.length - 65_536)).toString("utf8");
}

export function readPidSync(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
