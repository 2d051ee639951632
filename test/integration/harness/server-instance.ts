// The life cycle a private XMPP server of the harness shares, whichever it is
// (prosody.ts, ejabberd.ts): ports picked and retried when taken between the
// pick and the bind, restart and kill keeping ports and data, stop removing
// the temp dir, and cleanup when the test process exits or is killed. Each
// server supplies its config, how it starts and stops, and which pid takes
// signals.

import type { ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { startWatchdog, trackForCleanup } from "./cleanup.js";
import { LOOPBACK } from "./ports.js";
import { readTail, signalPid, waitFor } from "./system.js";

/** Signals after which the server is gone: kill() waits for its exit. */
const FATAL_SIGNALS = new Set<NodeJS.Signals>(["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT"]);
/** Starts with fresh ports when a port was taken between picking and binding it. */
const PORT_ATTEMPTS = 3;

export interface ServerRun {
  child: ChildProcess;
  exited: Promise<void>;
  exitInfo?: string;
}

export abstract class ServerInstance<R extends ServerRun> {
  c2sPort = 0;
  componentPort = 0;
  protected run: R | undefined;
  /** The server's stdout and stderr (the last 16 KiB), for failure messages. */
  protected output = "";
  protected stopped = false;
  private untrack: (() => void) | undefined;
  private watchdog: { disarm(): void } | undefined;

  constructor(
    readonly dir: string,
    /** "Prosody", "ejabberd": for messages. */
    protected readonly serverName: string,
    protected readonly stopTimeoutMs: number,
  ) {}

  abstract readonly logFile: string;
  /** Directories and files made once, before the first start; then guard(). */
  protected abstract prepare(): Promise<void>;
  /** Picks free ports for this attempt (at least c2sPort and componentPort). */
  protected abstract pickPorts(): Promise<void>;
  protected abstract writeConfig(): Promise<void>;
  /** Starts the process; rejects with a port-in-use error (isPortInUse) when a port was taken. */
  protected abstract startProcess(): Promise<void>;
  /** Stops the process if it runs and clears `run`. */
  protected abstract terminate(): Promise<void>;
  protected abstract isPortInUse(e: unknown): boolean;
  protected abstract error(message: string): Error;
  /** Exit hook: no awaiting here (see cleanup.ts). */
  abstract cleanupSync(): void;

  /**
   * Takes a just-spawned server process as this instance's run: records how
   * it ended, keeps the tail of its output, and lets a forgotten stop() not
   * keep the test process alive (the exit hook kills the server).
   */
  protected adopt(child: ChildProcess): ServerRun {
    const run: ServerRun = {
      child,
      exited: new Promise<void>((resolve) => {
        child.once("exit", (code, signal) => {
          run.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
          resolve();
        });
        child.once("error", (err) => {
          run.exitInfo = `could not start: ${err.message}`;
          resolve();
        });
      }),
    };
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString("utf8")).slice(-16_384);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.unref();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    return run;
  }

  get c2sService(): string {
    return `xmpp://${LOOPBACK}:${this.c2sPort}`;
  }

  get componentService(): string {
    return `xmpp://${LOOPBACK}:${this.componentPort}`;
  }

  get pid(): number | undefined {
    return this.run ? this.signalTarget(this.run) : undefined;
  }

  get running(): boolean {
    return this.run !== undefined && this.run.exitInfo === undefined;
  }

  async firstStart(): Promise<void> {
    await this.prepare();
    for (let attempt = 1; ; attempt++) {
      await this.pickPorts();
      await this.writeConfig();
      try {
        await this.startProcess();
        return;
      } catch (e) {
        await this.terminate();
        if (!this.isPortInUse(e) || attempt >= PORT_ATTEMPTS) throw e;
      }
    }
  }

  async restart(): Promise<void> {
    this.assertNotStopped("restart");
    await this.terminate();
    await this.startProcess();
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.assertNotStopped("kill");
    const run = this.run;
    if (!run || run.exitInfo !== undefined) return;
    signalPid(this.signalTarget(run), signal);
    if (FATAL_SIGNALS.has(signal)) {
      if (!(await waitFor(run.exited, this.stopTimeoutMs))) {
        signalPid(run.child.pid, "SIGKILL");
        await run.exited;
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.terminate();
    this.watchdog?.disarm();
    this.untrack?.();
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  logTail(lines = 40): string {
    let log = "";
    try {
      log = readTail(this.logFile);
    } catch {
      log = "(no log file)";
    }
    const take = (s: string) => s.split("\n").filter(Boolean).slice(-lines).join("\n");
    const out = take(this.output);
    return `--- ${this.logFile} (last ${lines} lines) ---\n${take(log)}` + (out ? `\n--- ${this.serverName.toLowerCase()} stdout/stderr ---\n${out}` : "");
  }

  /** The pid signals go to (default: the child process). */
  protected signalTarget(run: R): number | undefined {
    return run.child.pid;
  }

  /**
   * Cleanup if the test process exits (cleanupSync) or is killed outright (a
   * watchdog kills processes whose command line has `marker`, and those in
   * `pidFiles`).
   */
  protected guard(marker: string, pidFiles: readonly string[]): void {
    this.untrack = trackForCleanup(this);
    this.watchdog = startWatchdog(this.dir, marker, pidFiles);
  }

  protected disarmWatchdog(): void {
    this.watchdog?.disarm();
  }

  protected assertNotStopped(what: string): void {
    if (this.stopped) throw this.error(`${what}() after stop(): this ${this.serverName} instance is gone`);
  }
}

/** Makes the instance in a fresh private temp dir and starts it; on failure, cleans it all up. */
export async function startInstance<T extends ServerInstance<ServerRun>>(prefix: string, make: (dir: string) => T): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o700);
  const instance = make(dir);
  try {
    await instance.firstStart();
  } catch (e) {
    await instance.stop();
    throw e;
  }
  return instance;
}
