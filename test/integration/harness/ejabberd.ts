// A real, private ejabberd 23.01 (Debian's package) on loopback for integration tests.
//
//   const ejabberd = await startEjabberd();
//   await ejabberd.createUsers([{ username: "alice", password: "pw" }]);
//   ... connect clients to ejabberd.c2sService, our component to ejabberd.componentService ...
//   await ejabberd.restart();   // same ports, node name and Mnesia spool
//   await ejabberd.stop();      // stops it and removes its temp dir
//
// Each instance lives in its own 0700 temp dir (ejabberd.yml, Mnesia spool,
// logs, Erlang cookie, pid file), owned by user ejabberd when we run as root
// (the beam runs as that user, as ejabberdctl would run it), by the current
// user otherwise. We start the Erlang VM directly, with the arguments
// `ejabberdctl foreground` would use: ejabberdctl stays the VM's shell parent
// (our signals would not reach the VM), its default ctl config
// (/etc/default/ejabberd) sets EJABBERD_CONFIG_PATH over --config, and it
// refuses to start while any other beam runs and a stale name is in epmd.
//
// Erlang distribution (needed to register accounts through ejabberd_auth) uses
// a unique short node name, xmbtest<random>@localhost, a random cookie in
// $HOME/.erlang.cookie with HOME = the temp dir, and loopback only
// (inet_dist_use_interface; ERL_EPMD_ADDRESS for an epmd we start). epmd is a
// shared daemon: it may outlive the tests, which is harmless.
//
// ejabberd listens on 127.0.0.1 only, on ports picked free at start: c2s
// (PLAIN without TLS, passwords stored in plain text) and an ejabberd_service
// listener for the XEP-0114 component. No s2s, no HTTP, no MUC, no TLS.

import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

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
  signalPid,
  sleep,
  stopSystemService,
  waitFor,
} from "./system.js";

export interface StartEjabberdOptions {
  /** The virtual host users log in to. Default "localhost". */
  host?: string;
  /** The domain the ejabberd_service listener accepts for our component. Default "mls.localhost". */
  componentDomain?: string;
  /** Its password (the XEP-0114 secret). Default: random. */
  componentSecret?: string;
  /** ejabberd's loglevel. Default "info" ("debug" logs every stanza). */
  logLevel?: "info" | "debug";
  /**
   * Run ejabberd's own XEP-0033 service (mod_multicast) at "multicast.<host>".
   * `remoteLimit`: addresses per message from senders outside ejabberd's hosts,
   * as a component is (stated in its disco#info; without it, ejabberd's
   * unstated default of 20). `access: "none"` refuses everyone.
   */
  multicast?: boolean | { remoteLimit?: number | "infinite"; access?: "all" | "none" };
  /** Extra top-level YAML appended to ejabberd.yml. */
  extraConfig?: string;
  /** How long a start may take. Default 30 s (an Erlang VM boots in 1-2 s on an idle machine). */
  startTimeoutMs?: number;
}

export type EjabberdUser = XmppUser;

export interface EjabberdHandle extends XmppServerHandle {
  /** The Erlang node, "xmbtest<random>@localhost". */
  readonly nodeName: string;
  /** Mnesia's directory (accounts live here). */
  readonly spoolDir: string;
  /** ejabberd.log and error.log. */
  readonly logDir: string;
  /** Registers an account through ejabberd_auth on the running node (one short-lived Erlang VM). */
  createUser(username: string, password: string): Promise<void>;
  /** Many accounts with one short-lived Erlang VM. */
  createUsers(users: readonly EjabberdUser[]): Promise<void>;
}

export class EjabberdError extends Error {
  override readonly name = "EjabberdError";
}

// ---------------------------------------------------------------------------
// Installation

export interface EjabberdInstallation {
  erl: string;
  ejabberdctl: string;
  /** The directory holding ejabberd-<version>/ebin: the VM's ERL_LIBS. */
  erlLibs: string;
}

const INSTALL_HINT =
  "ejabberd is not installed. The ejabberd integration tests need Debian's ejabberd 23.01: as root run\n" +
  "  DEBIAN_FRONTEND=noninteractive apt-get install -y ejabberd\n" +
  "then stop the system instance it starts (service ejabberd stop, or systemctl disable --now ejabberd).\n" +
  "The tests run their own private ejabberd on free loopback ports.";

let ensured: Promise<EjabberdInstallation> | undefined;

/**
 * Finds ejabberd (ejabberdctl, erl and ejabberd's Erlang application); when
 * missing and we are root, installs Debian's package and stops the system
 * instance the package starts. Not root and missing: throws with what to install.
 */
export function ensureEjabberd(): Promise<EjabberdInstallation> {
  ensured ??= findOrInstall().catch((e: unknown) => {
    ensured = undefined;
    throw e;
  });
  return ensured;
}

const SBIN = ["/usr/sbin", "/sbin"];

function findInstallation(): EjabberdInstallation | undefined {
  const ejabberdctl = findBinary("ejabberdctl", SBIN);
  const erl = findBinary("erl");
  if (!ejabberdctl || !erl) return undefined;
  const erlLibs = findErlLibs(ejabberdctl);
  return erlLibs ? { erl, ejabberdctl, erlLibs } : undefined;
}

/** Where ejabberd's application is: the ERL_LIBS ejabberdctl sets, else the usual places. */
function findErlLibs(ejabberdctl: string): string | undefined {
  const candidates: string[] = [];
  try {
    const m = /^ERL_LIBS=['"]?([^'"\n]+)['"]?$/m.exec(readFileSync(ejabberdctl, "utf8"));
    if (m?.[1]) candidates.push(m[1]);
  } catch {
    // Unreadable: try the usual places.
  }
  candidates.push("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/erlang/lib", "/usr/lib");
  for (const dir of candidates) {
    try {
      if (readdirSync(dir).some((d) => /^ejabberd-\d/.test(d) && existsSync(path.join(dir, d, "ebin", "ejabberd.app")))) return dir;
    } catch {
      // Not there.
    }
  }
  return undefined;
}

async function findOrInstall(): Promise<EjabberdInstallation> {
  let found = findInstallation();
  if (!found) {
    if (!isRoot()) throw new EjabberdError(INSTALL_HINT);
    await aptInstall("ejabberd", (m) => new EjabberdError(m), INSTALL_HINT);
    // The package starts a system-wide ejabberd on 5222/5269/5280...; we want none.
    await stopSystemService("ejabberd");
    found = findInstallation();
    if (!found) throw new EjabberdError(`apt-get installed ejabberd but ejabberdctl, erl or ejabberd's ebin was not found.\n${INSTALL_HINT}`);
  }
  return found;
}

// ---------------------------------------------------------------------------
// Starting

interface RunAs {
  /** Given to spawn() as uid/gid when we are root (the VM runs as user ejabberd). */
  drop: boolean;
  uid: number;
  gid: number;
}

function runAs(): RunAs {
  if (isRoot()) {
    const id = (flag: string) => Number(execFileSync("id", [flag, "ejabberd"], { encoding: "utf8" }).trim());
    try {
      return { drop: true, uid: id("-u"), gid: id("-g") };
    } catch {
      throw new EjabberdError("running as root but there is no 'ejabberd' user (is the Debian ejabberd package installed?)");
    }
  }
  const me = os.userInfo();
  return { drop: false, uid: me.uid, gid: me.gid };
}

/** Starts a private ejabberd and resolves once its c2s and component ports accept connections. */
export async function startEjabberd(options: StartEjabberdOptions = {}): Promise<EjabberdHandle> {
  const install = await ensureEjabberd();
  const who = runAs();
  return startInstance("xmb-ejabberd-", (dir) => new EjabberdInstance(install, who, dir, options));
}

// A clean stop (SIGTERM: init:stop, ejabberd closes its sessions, Mnesia closes its files) takes ~2 s.
const STOP_TIMEOUT_MS = 10_000;
const CTL_TIMEOUT_MS = 30_000;

class PortInUse extends EjabberdError {}

class EjabberdInstance extends ServerInstance<ServerRun> implements EjabberdHandle {
  readonly host: string;
  readonly componentDomain: string;
  readonly componentSecret: string;
  readonly nodeName: string;
  readonly spoolDir: string;
  readonly logDir: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly pidFile: string;
  readonly multicastDomain?: string;

  constructor(
    private readonly install: EjabberdInstallation,
    private readonly who: RunAs,
    dir: string,
    private readonly options: StartEjabberdOptions,
  ) {
    super(dir, "ejabberd", STOP_TIMEOUT_MS);
    // Erlang reads -mnesia dir "..." as a term: no quote or backslash may be in the path.
    if (/["\\\s]/.test(dir)) throw new EjabberdError(`temp dir ${dir} has a quote, backslash or space; set TMPDIR elsewhere`);
    this.host = options.host ?? "localhost";
    this.componentDomain = options.componentDomain ?? "mls.localhost";
    this.componentSecret = options.componentSecret ?? randomBytes(16).toString("hex");
    // Unique per instance, so that parallel test files (one epmd) never collide.
    this.nodeName = `xmbtest${randomBytes(6).toString("hex")}@localhost`;
    this.spoolDir = path.join(dir, "spool");
    this.logDir = path.join(dir, "logs");
    this.configFile = path.join(dir, "ejabberd.yml");
    this.logFile = path.join(this.logDir, "ejabberd.log");
    this.pidFile = path.join(dir, "beam.pid");
    if (options.multicast) this.multicastDomain = `multicast.${this.host}`;
  }

  protected async prepare(): Promise<void> {
    await fs.mkdir(this.spoolDir, { mode: 0o700 });
    await fs.mkdir(this.logDir, { mode: 0o700 });
    // The cookie file must be readable by its owner only, or Erlang refuses it.
    const cookie = path.join(this.dir, ".erlang.cookie");
    await fs.writeFile(cookie, randomBytes(20).toString("hex").toUpperCase(), { mode: 0o400 });
    for (const p of [this.dir, this.spoolDir, this.logDir, cookie]) await this.chown(p);
    // If the test process is killed outright, the watchdog kills the VM whose command line names our node.
    this.guard(this.nodeName, [this.pidFile]);
  }

  protected async pickPorts(): Promise<void> {
    const [c2s, component] = await freePorts(2);
    this.c2sPort = c2s as number;
    this.componentPort = component as number;
  }

  protected isPortInUse(e: unknown): boolean {
    return e instanceof PortInUse;
  }

  protected error(message: string): Error {
    return new EjabberdError(message);
  }

  /** Exit hook: no awaiting here. The VM's helper (erl_child_setup) exits with it. */
  cleanupSync(): void {
    const run = this.run;
    if (run && run.exitInfo === undefined) signalPid(run.child.pid, "SIGKILL");
    this.disarmWatchdog();
    rmSync(this.dir, { recursive: true, force: true });
  }

  createUser(username: string, password: string): Promise<void> {
    return this.createUsers([{ username, password }]);
  }

  async createUsers(users: readonly EjabberdUser[]): Promise<void> {
    this.assertNotStopped("createUsers");
    if (users.length === 0) return;
    // One hidden Erlang node calls ejabberd_auth:try_register on ours for every user
    // (what `ejabberdctl register` does, without one VM per account). The data goes
    // through a file of Erlang terms with strings as byte lists: nothing to escape.
    const bytes = (s: string) => `[${Array.from(Buffer.from(s, "utf8")).join(",")}]`;
    const file = path.join(this.dir, `users-${randomBytes(4).toString("hex")}.eterm`);
    const terms = [`{node, '${this.nodeName}'}.`, `{host, ${bytes(this.host)}}.`, ...users.map((u) => `{user, ${bytes(u.username)}, ${bytes(u.password)}}.`)];
    await fs.writeFile(file, terms.join("\n") + "\n", { mode: 0o600 });
    await this.chown(file);
    const script =
      `{ok, T} = file:consult("${file}"), ` +
      `{node, N} = lists:keyfind(node, 1, T), {host, H} = lists:keyfind(host, 1, T), ` +
      `R = [{U, rpc:call(N, ejabberd_auth, try_register, [list_to_binary(U), list_to_binary(H), list_to_binary(P)], 20000)} || {user, U, P} <- T], ` +
      `Bad = [{unicode:characters_to_list(list_to_binary(U)), E} || {U, E} <- R, E =/= ok], ` +
      `case Bad of [] -> halt(0); _ -> io:format("~tp~n", [Bad]), halt(1) end.`;
    try {
      await execFileP(this.install.erl, [...this.distArgs(`xmbctl${randomBytes(6).toString("hex")}@localhost`), "-hidden", "-eval", script], {
        ...this.spawnIdentity(),
        timeout: CTL_TIMEOUT_MS,
      });
    } catch (e) {
      throw new EjabberdError(`registering ${users.map((u) => u.username).join(", ")} on ${this.nodeName} failed:\n${execOutput(e).trim()}\n${this.logTail(10)}`);
    } finally {
      await fs.rm(file, { force: true });
    }
  }

  // -------------------------------------------------------------------------

  private async chown(p: string): Promise<void> {
    if (this.who.drop) await fs.chown(p, this.who.uid, this.who.gid);
  }

  /** Same user, HOME (for the cookie) and environment for the server VM and the control VMs. */
  private spawnIdentity(): { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number } {
    return {
      cwd: this.dir,
      env: {
        ...process.env,
        HOME: this.dir,
        ERL_LIBS: this.install.erlLibs,
        // Only used if this VM has to start epmd: keep it on loopback.
        ERL_EPMD_ADDRESS: LOOPBACK,
        ERL_CRASH_DUMP: path.join(this.logDir, "erl_crash.dump"),
        EJABBERD_CONFIG_PATH: this.configFile,
        EJABBERD_LOG_PATH: this.logFile,
      },
      ...(this.who.drop ? { uid: this.who.uid, gid: this.who.gid } : {}),
    };
  }

  private distArgs(node: string): string[] {
    return ["-sname", node, "-noshell", "-noinput", "-kernel", "inet_dist_use_interface", "{127,0,0,1}"];
  }

  protected async writeConfig(): Promise<void> {
    const q = (s: string) => JSON.stringify(s); // a JSON string is a YAML double-quoted scalar
    const o = this.options;
    const lines = [
      "# Written by test/integration/harness/ejabberd.ts for one test run.",
      "hosts:",
      `  - ${q(this.host)}`,
      `loglevel: ${o.logLevel ?? "info"}`,
      "# No TLS and no certificates; never reach out for any (ACME) nor to other servers (s2s).",
      "acme:",
      "  auto: false",
      "s2s_access: none",
      "# Plain-text passwords, SASL PLAIN without TLS: cheap logins for tests (never in production).",
      "auth_method: internal",
      "auth_password_format: plain",
      "listen:",
      "  -",
      `    port: ${this.c2sPort}`,
      `    ip: ${q(LOOPBACK)}`,
      "    module: ejabberd_c2s",
      "    starttls: false",
      "  # The component listener, as docs/operators.md tells operators to add it.",
      "  -",
      `    port: ${this.componentPort}`,
      `    ip: ${q(LOOPBACK)}`,
      "    module: ejabberd_service",
      "    hosts:",
      `      ${q(this.componentDomain)}:`,
      `        password: ${q(this.componentSecret)}`,
      "modules:",
      "  mod_disco: {}",
      "  mod_ping: {}",
      "  mod_roster: {}",
      ...(this.multicastDomain ? this.multicastConfig(this.multicastDomain) : []),
      ...(o.extraConfig ? ["", o.extraConfig] : []),
      "",
    ];
    await fs.writeFile(this.configFile, lines.join("\n"), { mode: 0o600 });
    await this.chown(this.configFile);
  }

  /** mod_multicast as docs/operators.md shows it (a component's domain is not one of ejabberd's hosts: 'remote'). */
  private multicastConfig(domain: string): string[] {
    const m = typeof this.options.multicast === "object" ? this.options.multicast : {};
    return [
      "  mod_multicast:",
      `    host: ${JSON.stringify(domain)}`,
      ...(m.access !== undefined ? [`    access: ${m.access}`] : []),
      ...(m.remoteLimit !== undefined ? ["    limits:", "      remote:", `        message: ${m.remoteLimit}`] : []),
    ];
  }

  protected async startProcess(): Promise<void> {
    const logOffset = await fileSize(this.logFile);
    // `ejabberdctl foreground`'s VM, started directly: erl execs erlexec, which execs
    // beam.smp, so child.pid is the VM itself and our signals reach it.
    const args = [
      ...this.distArgs(this.nodeName),
      "+K",
      "true",
      "-env",
      "ERL_CRASH_DUMP_BYTES",
      "0",
      "-mnesia",
      "dir",
      `"${this.spoolDir}"`,
      "-s",
      "ejabberd",
    ];
    const child = spawn(this.install.erl, args, { ...this.spawnIdentity(), stdio: ["ignore", "pipe", "pipe"] });
    const run = this.adopt(child);
    this.run = run;
    if (child.pid !== undefined) await fs.writeFile(this.pidFile, `${child.pid}\n`);
    await this.waitReady(run, logOffset);
  }

  private async waitReady(run: ServerRun, logOffset: number): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const wanted: Array<[string, number]> = [
      ["ejabberd_c2s", this.c2sPort],
      ["ejabberd_service", this.componentPort],
    ];
    for (;;) {
      const log = await readFrom(this.logFile, logOffset);
      // ejabberd logs the listener it could not open, then halts.
      const busy = /Failed to open socket at [^\s]*?:(\d+) for \w+: (?:eaddrinuse|address already in use)/i.exec(log + this.output);
      if (busy) throw new PortInUse(`ejabberd could not bind port ${busy[1]} (in use)\n${this.logTail()}`);
      if (run.exitInfo !== undefined) {
        throw new EjabberdError(`ejabberd ${run.exitInfo} before it was ready (config ${this.configFile})\n${this.logTail()}`);
      }
      const started = log.includes(`is started in the node ${this.nodeName}`);
      const listening = wanted.every(([module, port]) => log.includes(`Start accepting TCP connections at ${LOOPBACK}:${port} for ${module}`));
      if (started && listening) {
        const reachable = await Promise.all(wanted.map(([, port]) => canConnect(port)));
        if (reachable.every(Boolean)) return;
      }
      if (Date.now() > deadline) {
        throw new EjabberdError(
          `ejabberd did not open ports ${wanted.map(([m, p]) => `${m}=${p}`).join(", ")} within ${timeoutMs} ms\n${this.logTail()}`,
        );
      }
      await sleep(25);
    }
  }

  /** Stops the current VM, if any: SIGTERM (a clean init:stop), then SIGKILL after a timeout. */
  protected async terminate(): Promise<void> {
    const run = this.run;
    if (!run) return;
    if (run.exitInfo === undefined) {
      signalPid(run.child.pid, "SIGTERM");
      if (!(await waitFor(run.exited, STOP_TIMEOUT_MS))) {
        signalPid(run.child.pid, "SIGKILL");
        if (!(await waitFor(run.exited, STOP_TIMEOUT_MS))) {
          throw new EjabberdError(`ejabberd (pid ${run.child.pid}) did not die after SIGKILL`);
        }
      }
    }
    this.run = undefined;
    await fs.rm(this.pidFile, { force: true });
  }
}
