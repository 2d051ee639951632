// Starts the component (component/main.ts startComponent) in a child process
// for the benchmark, and talks to it over IPC: memory after GC, CPU time, stop.

import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import type { ProsodyHandle } from "../../test/integration/harness/index.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface MemReport {
  gc: boolean;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  cachedMlsRooms: number;
  cachedRooms: number;
}

export interface ComponentProcess {
  readonly pid: number;
  /** The fan-out path once online: "available" (through mod_mls_multicast), "unavailable" or "off" (one stanza per device). */
  readonly multicast: string;
  mem(): Promise<MemReport>;
  /** CPU time (user + system) in ms since the process started. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

export async function startComponentProcess(o: {
  prosody: ProsodyHandle;
  storePath: string;
  /** Write a V8 CPU profile (.cpuprofile) into this folder at exit. */
  cpuProfileDir?: string | undefined;
  logLevel?: string;
  /** Fan out through Prosody's mod_mls_multicast when it runs (default true). */
  multicast?: boolean;
}): Promise<ComponentProcess> {
  const p = o.prosody;
  const config = {
    component: {
      domain: p.componentDomain,
      secret: p.componentSecret,
      server: `127.0.0.1:${p.componentPort}`,
      multicast: o.multicast === false ? null : (p.multicastDomain ?? null),
    },
    store: { path: o.storePath },
    log: { level: o.logLevel ?? "warn", format: "pretty" },
    http: { listen: "off" },
    rooms: { defaultKind: "group" },
  };
  const execArgv = ["--import", "tsx", "--expose-gc"];
  if (o.cpuProfileDir) execArgv.push("--cpu-prof", `--cpu-prof-dir=${o.cpuProfileDir}`);
  const child: ChildProcess = fork(path.join(HERE, "component-proc.ts"), [], {
    execArgv,
    env: { ...process.env, BENCH_COMPONENT_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let nextId = 0;
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  let multicast = "off";
  const online = new Promise<number>((resolve, reject) => {
    child.on("message", (m: { type: string; id?: number; pid?: number; multicast?: string }) => {
      if (m.type === "online") {
        multicast = m.multicast ?? "off";
        resolve(m.pid!);
      }
      else if (m.type === "reply" && m.id !== undefined) {
        waiting.get(m.id)?.(m as Record<string, unknown>);
        waiting.delete(m.id);
      }
    });
    child.once("exit", (code) => reject(new Error(`the component process exited (code ${code}) before it was online`)));
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const pid = await online;
  const ask = <T>(type: string): Promise<T> => {
    if (exited) return Promise.reject(new Error("the component process is gone"));
    const id = ++nextId;
    return new Promise<T>((resolve) => {
      waiting.set(id, (m) => resolve(m as T));
      child.send({ type, id });
    });
  };
  return {
    pid,
    multicast,
    mem: () => ask<MemReport>("mem"),
    cpuMs: async () => {
      const c = await ask<{ user: number; system: number }>("cpu");
      return (c.user + c.system) / 1000;
    },
    stop: async () => {
      if (!exited) {
        child.send({ type: "stop", id: ++nextId });
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exit;
        clearTimeout(t);
      }
      process.removeListener("exit", killOnExit);
    },
  };
}

/** CPU time (user + system, ms) of a process, from /proc (Linux). */
export function procCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // Fields after the command name "(...)": state is field 3; utime 14, stime 15 (1-based).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(rest[11]) + Number(rest[12]);
    return (ticks * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** RSS of a process in bytes, from /proc (Linux). */
export function procRss(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? NaN : Number(kb) * 1024;
  } catch {
    return NaN;
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;
