// A real, private Prosody 0.12 on loopback for integration tests.
//
//   const prosody = await startProsody({ muc: true });
//   await prosody.createUser("alice", "pw");
//   ... connect clients to prosody.c2sService, our component to prosody.componentService ...
//   await prosody.restart();   // same ports, same data
//   await prosody.stop();      // kills it and removes its temp dir
//
// Each instance lives in its own 0700 temp dir (config, data, log, pid file),
// owned by user prosody when we run as root (Prosody refuses to run as root;
// we start it through runuser), by the current user otherwise. It listens on
// 127.0.0.1 only, on ports picked free at start: c2s (PLAIN allowed without
// TLS, accounts stored in plain text) and the XEP-0114 component port; s2s is
// off unless asked; no HTTP, no TLS, no registration over the wire unless asked.

import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { canConnect, freePorts, LOOPBACK } from "./ports.js";
import type { XmppServerHandle, XmppUser } from "./server.js";
import { ServerInstance, startInstance, type ServerRun } from "./server-instance.js";
import {
  aptInstall,
  execFileP,
  execOutput,
  fileSize,
  findBinary,
  isRoot,
  readFrom,
  readPidSync,
  signalPid,
  sleep,
  stopSystemService,
  waitFor,
} from "./system.js";

/** The project's Prosody module (XEP-0033 multicast for the bridge). */
export const MULTICAST_MODULE = fileURLToPath(new URL("../../../component/prosody/mod_mls_multicast.lua", import.meta.url));

export interface StartProsodyOptions {
  /** The VirtualHost users log in to. Default "localhost". */
  host?: string;
  /** Domain of the `Component` block for our XEP-0114 component. Default "mls.localhost". */
  componentDomain?: string;
  /** Its `component_secret`. Default: random. */
  componentSecret?: string;
  /** Add Prosody's own MUC service: true = "conference.<host>", or the domain to use. */
  muc?: boolean | string;
  /**
   * Add the project's XEP-0033 multicast service (component/prosody/mod_mls_multicast.lua),
   * trusting the bridge's component: true = "multicast.<host>", or the domain to use.
   */
  multicast?: boolean | string;
  /** The components the multicast service trusts. Default: the bridge's component only. */
  multicastTrusted?: readonly string[];
  /** The multicast service's `multicast_write_at_once` (copies written as routed). Default: the module's default (true). */
  multicastWriteAtOnce?: boolean;
  /** Enable s2s on a free loopback port (no TLS, dialback). Default false: no s2s listener. */
  s2s?: boolean;
  /** Allow in-band registration (XEP-0077). Default false. */
  allowRegistration?: boolean;
  /** More modules for modules_enabled (only ones that need no network). */
  modules?: readonly string[];
  /** Prosody's log level. Default "info" ("debug" logs every stanza: slower, but useful when a test fails). */
  logLevel?: "debug" | "info";
  /** Extra Lua for the global section (before the VirtualHost). */
  extraConfig?: string;
  /** How long a start may take. Default 15 s. */
  startTimeoutMs?: number;
}

/** An account on the private Prosody. */
export type ProsodyUser = XmppUser;

/** A private Prosody: the common server handle (server.ts) and what is Prosody's own. */
export interface ProsodyHandle extends XmppServerHandle {
  readonly mucDomain?: string;
  readonly s2sPort?: number;
  /** The data dir, inside `dir`. */
  readonly dataDir: string;
  /** Registers an account with `prosodyctl register` against this instance's config. */
  createUser(username: string, password: string): Promise<void>;
  /** Many accounts at once, written straight into the data dir (no process per user).
   *  Usernames must be lowercase [a-z0-9._-]. */
  createUsers(users: readonly ProsodyUser[]): Promise<void>;
}

export class ProsodyError extends Error {
  override readonly name = "ProsodyError";
}

// ---------------------------------------------------------------------------
// Installation

export interface ProsodyInstallation {
  prosody: string;
  prosodyctl: string;
}

const INSTALL_HINT =
  "Prosody is not installed. The integration tests need Debian's Prosody 0.12: as root run\n" +
  "  DEBIAN_FRONTEND=noninteractive apt-get install -y prosody\n" +
  "then stop the system instance it starts (service prosody stop, or systemctl disable --now prosody).\n" +
  "The tests run their own private Prosody on free loopback ports.";

let ensured: Promise<ProsodyInstallation> | undefined;

/**
 * Finds the prosody binary; when missing and we are root, installs Debian's
 * package and stops the system instance the package starts. Not root and
 * missing: throws with what to install.
 */
export function ensureProsody(): Promise<ProsodyInstallation> {
  ensured ??= findOrInstall().catch((e: unknown) => {
    ensured = undefined;
    throw e;
  });
  return ensured;
}

async function findOrInstall(): Promise<ProsodyInstallation> {
  let prosody = findBinary("prosody");
  if (!prosody) {
    if (!isRoot()) throw new ProsodyError(INSTALL_HINT);
    await aptInstall("prosody", (m) => new ProsodyError(m), INSTALL_HINT);
    await stopSystemProsody();
    prosody = findBinary("prosody");
    if (!prosody) throw new ProsodyError(`apt-get installed prosody but no prosody binary was found.\n${INSTALL_HINT}`);
  }
  const prosodyctl = findBinary("prosodyctl") ?? path.join(path.dirname(prosody), "prosodyctl");
  return { prosody, prosodyctl };
}

/** The Debian package starts a system-wide Prosody on 5222/5269; we want none. */
function stopSystemProsody(): Promise<void> {
  return stopSystemService("prosody");
}

// ---------------------------------------------------------------------------
// Starting

interface RunAs {
  /** Run through runuser as this user (we are root), or directly (we are not). */
  user: string;
  viaRunuser: boolean;
  uid: number;
  gid: number;
}

function runAs(): RunAs {
  if (isRoot()) {
    const id = (flag: string) => Number(execFileSync("id", [flag, "prosody"], { encoding: "utf8" }).trim());
    try {
      return { user: "prosody", viaRunuser: true, uid: id("-u"), gid: id("-g") };
    } catch {
      throw new ProsodyError("running as root but there is no 'prosody' user (is the Debian prosody package installed?)");
    }
  }
  const me = os.userInfo();
  return { user: me.username, viaRunuser: false, uid: me.uid, gid: me.gid };
}

/** Starts a private Prosody and resolves once its c2s and component ports accept connections. */
export async function startProsody(options: StartProsodyOptions = {}): Promise<ProsodyHandle> {
  const install = await ensureProsody();
  const who = runAs();
  return startInstance("xmb-prosody-", (dir) => new ProsodyInstance(install, who, dir, options));
}

const STOP_TIMEOUT_MS = 5_000;

class PortInUse extends ProsodyError {}

interface Run extends ServerRun {
  /** Prosody's own pid when it runs under runuser. */
  realPid?: number;
}

class ProsodyInstance extends ServerInstance<Run> implements ProsodyHandle {
  readonly host: string;
  readonly componentDomain: string;
  readonly componentSecret: string;
  readonly mucDomain?: string;
  readonly multicastDomain?: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly pidFile: string;
  readonly runnerPidFile: string;
  s2sPort?: number;

  constructor(
    private readonly install: ProsodyInstallation,
    private readonly who: RunAs,
    dir: string,
    private readonly options: StartProsodyOptions,
  ) {
    super(dir, "Prosody", STOP_TIMEOUT_MS);
    this.host = options.host ?? "localhost";
    this.componentDomain = options.componentDomain ?? "mls.localhost";
    this.componentSecret = options.componentSecret ?? randomBytes(16).toString("hex");
    if (options.muc) this.mucDomain = typeof options.muc === "string" ? options.muc : `conference.${this.host}`;
    if (options.multicast) this.multicastDomain = typeof options.multicast === "string" ? options.multicast : `multicast.${this.host}`;
    this.dataDir = path.join(dir, "data");
    this.configFile = path.join(dir, "prosody.cfg.lua");
    this.logFile = path.join(dir, "prosody.log");
    this.pidFile = path.join(dir, "prosody.pid");
    this.runnerPidFile = path.join(dir, "runner.pid");
  }

  protected async prepare(): Promise<void> {
    await fs.mkdir(this.dataDir, { mode: 0o700 });
    await fs.mkdir(path.join(this.dir, "certs"), { mode: 0o700 }); // silences certmanager; there are no certs
    this.guard(this.configFile, [this.pidFile, this.runnerPidFile]);
  }

  protected async pickPorts(): Promise<void> {
    const [c2s, component, s2s] = await freePorts(this.options.s2s ? 3 : 2);
    this.c2sPort = c2s as number;
    this.componentPort = component as number;
    if (this.options.s2s) this.s2sPort = s2s as number;
  }

  protected override signalTarget(run: Run): number | undefined {
    return run.realPid ?? run.child.pid;
  }

  protected isPortInUse(e: unknown): boolean {
    return e instanceof PortInUse;
  }

  protected error(message: string): Error {
    return new ProsodyError(message);
  }

  /** Exit hook: no awaiting here. */
  cleanupSync(): void {
    const run = this.run;
    if (run && run.exitInfo === undefined) {
      const pid = run.realPid ?? (this.who.viaRunuser ? readPidSync(this.pidFile) : run.child.pid);
      if (pid !== undefined) {
        signalPid(pid, "SIGKILL");
        signalPid(run.child.pid, "SIGKILL");
      } else {
        // Prosody's pid unknown (still starting): runuser passes SIGTERM on to it.
        signalPid(run.child.pid, "SIGTERM");
      }
    }
    this.disarmWatchdog();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async createUser(username: string, password: string): Promise<void> {
    this.assertNotStopped("createUser");
    const ctl = [this.install.prosodyctl, "--config", this.configFile, "register", username, this.host, password];
    const [cmd, args] = this.who.viaRunuser ? ["runuser", ["-u", this.who.user, "--", ...ctl]] : [ctl[0] as string, ctl.slice(1)];
    try {
      await execFileP(cmd, args, { timeout: 30_000 });
    } catch (e) {
      throw new ProsodyError(`prosodyctl register ${username} ${this.host} failed:\n${execOutput(e).trim()}`);
    }
  }

  async createUsers(users: readonly ProsodyUser[]): Promise<void> {
    this.assertNotStopped("createUsers");
    // The layout of Prosody's internal storage (util/datamanager.lua) with
    // authentication = "internal_plain": <data>/<host>/accounts/<user>.dat,
    // every non-alphanumeric byte of host and user written as %xx.
    const hostDir = path.join(this.dataDir, prosodyEncode(this.host));
    const accounts = path.join(hostDir, "accounts");
    await fs.mkdir(accounts, { recursive: true, mode: 0o750 });
    await this.chown(hostDir);
    await this.chown(accounts);
    for (const { username, password } of users) {
      if (!/^[a-z0-9._-]+$/.test(username)) {
        throw new ProsodyError(`createUsers: '${username}' is not a simple lowercase username; use createUser()`);
      }
      const file = path.join(accounts, `${prosodyEncode(username)}.dat`);
      await fs.writeFile(file, `return {\n\t["password"] = ${luaString(password)};\n};\n`, { mode: 0o640 });
      await this.chown(file);
    }
  }

  // -------------------------------------------------------------------------

  private async chown(p: string): Promise<void> {
    if (this.who.viaRunuser) await fs.chown(p, this.who.uid, this.who.gid);
  }

  protected async writeConfig(): Promise<void> {
    const q = luaString;
    const o = this.options;
    const modules = ["roster", "saslauth", "disco", "ping", ...(o.allowRegistration ? ["register"] : []), ...(o.modules ?? [])];
    const lines = [
      "-- Written by test/integration/harness/prosody.ts for one test run.",
      `prosody_user = ${q(this.who.user)}`,
      `pidfile = ${q(this.pidFile)}`,
      `data_path = ${q(this.dataDir)}`,
      `certificates = ${q(path.join(this.dir, "certs"))}`,
      "daemonize = false",
      `log = { { levels = { min = ${q(o.logLevel ?? "info")} }, to = "file", filename = ${q(this.logFile)} } }`,
      "",
      "-- Loopback only, on ports picked for this run.",
      `interfaces = { ${q(LOOPBACK)} }`,
      `local_interfaces = { ${q(LOOPBACK)} }`,
      `c2s_ports = { ${this.c2sPort} }`,
      `c2s_interfaces = { ${q(LOOPBACK)} }`,
      "c2s_direct_tls_ports = { }",
      "legacy_ssl_ports = { }",
      `component_ports = { ${this.componentPort} }`,
      `component_interfaces = { ${q(LOOPBACK)} }`,
      ...(this.s2sPort !== undefined
        ? [
            `s2s_ports = { ${this.s2sPort} }`,
            `s2s_interfaces = { ${q(LOOPBACK)} }`,
            "s2s_require_encryption = false",
            "s2s_secure_auth = false",
            "modules_disabled = { }",
          ]
        : ['modules_disabled = { "s2s" }']),
      "",
      "-- Plain-text passwords, SASL PLAIN without TLS: cheap logins for tests (never in production).",
      `modules_enabled = { ${modules.map(q).join(", ")} }`,
      "c2s_require_encryption = false",
      "allow_unencrypted_plain_auth = true",
      'authentication = "internal_plain"',
      'storage = "internal"',
      `allow_registration = ${o.allowRegistration ? "true" : "false"}`,
      ...(this.multicastDomain ? [`plugin_paths = { ${q(path.join(this.dir, "plugins"))} }`] : []),
      ...(o.extraConfig ? ["", o.extraConfig] : []),
      "",
      `VirtualHost ${q(this.host)}`,
      "",
      `Component ${q(this.componentDomain)}`,
      `  component_secret = ${q(this.componentSecret)}`,
      ...(this.mucDomain
        ? ["", `Component ${q(this.mucDomain)} "muc"`, "  muc_room_locking = false", "  restrict_room_creation = false"]
        : []),
      ...(this.multicastDomain
        ? [
            "",
            `Component ${q(this.multicastDomain)} "mls_multicast"`,
            `  multicast_trusted_components = { ${(o.multicastTrusted ?? [this.componentDomain]).map(q).join(", ")} }`,
            ...(o.multicastWriteAtOnce === undefined ? [] : [`  multicast_write_at_once = ${o.multicastWriteAtOnce ? "true" : "false"}`]),
          ]
        : []),
      "",
    ];
    if (this.multicastDomain) {
      // A copy the prosody user can read, whatever the checkout's permissions.
      const plugins = path.join(this.dir, "plugins");
      await fs.mkdir(plugins, { recursive: true });
      await fs.copyFile(MULTICAST_MODULE, path.join(plugins, "mod_mls_multicast.lua"));
      await this.chown(plugins);
      await this.chown(path.join(plugins, "mod_mls_multicast.lua"));
    }
    await fs.writeFile(this.configFile, lines.join("\n"), { mode: 0o600 });
    await this.chown(this.dir);
    await this.chown(this.dataDir);
    await this.chown(path.join(this.dir, "certs"));
    await this.chown(this.configFile);
  }

  protected async startProcess(): Promise<void> {
    await fs.rm(this.pidFile, { force: true });
    const logOffset = await fileSize(this.logFile);
    const argv = [this.install.prosody, "--config", this.configFile, "-F"];
    const child = this.who.viaRunuser
      ? spawn("runuser", ["-u", this.who.user, "--", ...argv], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const run: Run = this.adopt(child);
    this.run = run;
    if (child.pid !== undefined) await fs.writeFile(this.runnerPidFile, `${child.pid}\n`);

    await this.waitReady(run, logOffset);
    run.realPid = child.pid;
    if (this.who.viaRunuser) {
      // mod_posix writes the pid file while starting; give it a moment if needed.
      let pid = readPidSync(this.pidFile);
      for (let i = 0; pid === undefined && i < 50; i++) {
        await sleep(20);
        pid = readPidSync(this.pidFile);
      }
      if (pid === undefined) throw new ProsodyError(`Prosody wrote no pid file at ${this.pidFile}\n${this.logTail()}`);
      run.realPid = pid;
    }
  }

  private async waitReady(run: Run, logOffset: number): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    const wanted: Array<[string, number]> = [
      ["c2s", this.c2sPort],
      ["component", this.componentPort],
      ...(this.s2sPort !== undefined ? [["s2s", this.s2sPort] as [string, number]] : []),
    ];
    for (;;) {
      if (run.exitInfo !== undefined) {
        throw new ProsodyError(`Prosody ${run.exitInfo} before it was ready (config ${this.configFile})\n${this.logTail()}`);
      }
      const log = await readFrom(this.logFile, logOffset);
      const busy = /Failed to open server port (\d+)/.exec(log);
      if (busy) {
        throw new PortInUse(`Prosody could not bind port ${busy[1]} (in use)\n${this.logTail()}`);
      }
      const activated = wanted.every(([service, port]) => log.includes(`Activated service '${service}' on [${LOOPBACK}]:${port}`));
      if (activated) {
        const reachable = await Promise.all(wanted.map(([, port]) => canConnect(port)));
        if (reachable.every(Boolean)) return;
      }
      if (Date.now() > deadline) {
        throw new ProsodyError(
          `Prosody did not open ports ${wanted.map(([s, p]) => `${s}=${p}`).join(", ")} within ${timeoutMs} ms\n${this.logTail()}`,
        );
      }
      await sleep(20);
    }
  }

  /**
   * Stops the current process, if any: SIGTERM, then SIGKILL after a timeout.
   * Once Prosody logs "Shutdown complete" (sessions closed, storage flushed) it
   * can still linger ~1 s while client sockets drain; we SIGKILL it then, which
   * keeps restart() near 100 ms.
   */
  protected async terminate(): Promise<void> {
    const run = this.run;
    if (!run) return;
    if (run.exitInfo === undefined) {
      const logOffset = await fileSize(this.logFile);
      // Prosody itself when we know its pid; runuser forwards SIGTERM otherwise.
      signalPid(run.realPid ?? run.child.pid, "SIGTERM");
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (run.exitInfo === undefined && Date.now() < deadline) {
        if ((await readFrom(this.logFile, logOffset)).includes("Shutdown complete")) {
          await waitFor(run.exited, 50);
          break;
        }
        await waitFor(run.exited, 20);
      }
      if (run.exitInfo === undefined) {
        signalPid(run.realPid, "SIGKILL");
        signalPid(run.child.pid, "SIGKILL");
        if (!(await waitFor(run.exited, STOP_TIMEOUT_MS))) {
          throw new ProsodyError(`Prosody (pid ${this.pid}) did not die after SIGKILL`);
        }
      }
    }
    this.run = undefined;
    await fs.rm(this.pidFile, { force: true });
    await fs.rm(this.runnerPidFile, { force: true });
  }
}

// ---------------------------------------------------------------------------
// Encoding helpers

/** util/datamanager.lua's encode(): every non-alphanumeric byte as %xx. */
function prosodyEncode(s: string): string {
  return Array.from(Buffer.from(s, "utf8"))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9]/.test(c) ? c : `%${b.toString(16).padStart(2, "0")}`;
    })
    .join("");
}

/** A Lua double-quoted string literal. */
function luaString(s: string): string {
  let out = '"';
  for (const b of Buffer.from(s, "utf8")) {
    if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += "\\\\";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${b.toString().padStart(3, "0")}`;
  }
  return out + '"';
}
