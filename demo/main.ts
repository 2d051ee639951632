// `./run demo`: a private Prosody on loopback, the component on its embedded
// SQLite store, and two scripted members (alice, bob) who create a group
// room and exchange end-to-end encrypted messages. Then it prints how to join
// with `mls-chat` (as carol) and keeps running until Ctrl-C.
//
//   node --import tsx demo/main.ts [--once] [--keep] [--data DIR] [-v]
//
//   --once      exit (code 0) right after the scripted exchange (CI, test/demo)
//   --keep      keep the data folder (component store, client states, logs) at exit
//   --data DIR  put the data there instead of a fresh temp folder (implies --keep)
//   -v          component log at debug level (it goes to DATA/component.log)
//
// Environment: XMB_DEMO_ONCE=1 is the same as --once.
//
// Prosody comes from the integration-test harness (test/integration/harness):
// a generated config in a 0700 temp dir, loopback ports picked free, accounts
// in plain text and SASL PLAIN without TLS. Never a production setup.
//
// Nothing secret is printed: passwords of the throw-away demo accounts yes,
// keys and epoch secrets never.

import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { pino } from "pino";

import { MlsClient } from "../client/client.js";
import type { ClientError } from "../client/errors.js";
import type { MemberDevice } from "../client/types.js";
import { startComponent, type RunningComponent } from "../component/main.js";
import { ConfigSchema, createLogger } from "../config/index.js";
import { freePorts, startProsody, type ProsodyHandle } from "../test/integration/harness/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export interface DemoOptions {
  once: boolean;
  keep: boolean;
  dataDir: string | undefined;
  verbose: boolean;
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): DemoOptions | "help" {
  const o: DemoOptions = { once: env["XMB_DEMO_ONCE"] === "1", keep: false, dataDir: undefined, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--once") o.once = true;
    else if (a === "--keep") o.keep = true;
    else if (a === "-v" || a === "--verbose") o.verbose = true;
    else if (a === "--data" && argv[i + 1] !== undefined) {
      o.dataDir = path.resolve(argv[++i]!);
      o.keep = true;
    } else if (a === "-h" || a === "--help") return "help";
    else throw new Error(`unknown argument '${a}' (try --help)`);
  }
  return o;
}

const HELP = `usage: ./run demo [--once] [--keep] [--data DIR] [-v]

Starts a private Prosody on loopback, the xmpp-mls-bridge component and two
scripted members (alice and bob) who create an MLS-encrypted group room and
chat; then prints how to join with mls-chat, and runs until Ctrl-C.

  --once      exit after the scripted exchange (code 0)
  --keep      keep the data folder at exit (component store, client states, logs)
  --data DIR  use DIR for the data (created if missing; implies --keep)
  -v          component log at debug level (written to DATA/component.log)
`;

// ---------------------------------------------------------------------------
// Output

const color = process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined;
const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const dim = paint("2");
const bold = paint("1");
const who: Record<string, (s: string) => string> = { alice: paint("35"), bob: paint("36"), carol: paint("33") };
const nameOf = (jid: string) => {
  const local = jid.split("@")[0] ?? jid;
  return (who[local] ?? ((s: string) => s))(local);
};

const t0 = performance.now();
function say(line: string): void {
  const secs = ((performance.now() - t0) / 1000).toFixed(1).padStart(5);
  process.stdout.write(`${dim(`[${secs}s]`)} ${line}\n`);
}
const short = (device: string) => device.slice(0, 6);
const devicesText = (ds: readonly MemberDevice[]) => ds.map((d) => `${nameOf(d.jid)}/${short(d.device)}`).join(", ");

// ---------------------------------------------------------------------------

interface Member {
  readonly name: string;
  readonly jid: string;
  readonly c: MlsClient;
}

class Demo {
  private prosody: ProsodyHandle | undefined;
  private component: RunningComponent | undefined;
  private readonly members: Member[] = [];
  private readonly dataDir: string;
  private readonly room: string;
  private readonly passwords = new Map<string, string>();
  private stopping: Promise<void> | undefined;
  private readonly errors: string[] = [];
  /** Texts each member decrypted (the script waits on them). */
  private readonly received = new Map<Member, string[]>();

  constructor(private readonly o: DemoOptions) {
    if (o.dataDir) {
      mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
      this.dataDir = o.dataDir;
    } else {
      this.dataDir = mkdtempSync(path.join(tmpdir(), "xmb-demo-"));
    }
    // A fresh room name per run, so that a reused --data folder does not collide.
    this.room = o.dataDir ? `team-${randomBytes(2).toString("hex")}@mls.localhost` : "team@mls.localhost";
    for (const u of ["alice", "bob", "carol"]) this.passwords.set(u, `${u}-${randomBytes(4).toString("hex")}`);
  }

  async run(): Promise<void> {
    process.stdout.write(`${bold("xmpp-mls-bridge demo")}: a private Prosody, the component, and two members chatting over MLS\n`);
    process.stdout.write(dim(`data folder: ${this.dataDir} (${this.o.keep ? "kept" : "removed"} at exit)\n`));

    // 1. Prosody, with its own signal hooks handed over to us (we stop in order:
    //    clients, component, Prosody). Its exit hook and watchdog stay as a safety net.
    const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
    this.prosody = await startProsody({ componentDomain: "mls.localhost", multicast: true });
    for (const s of SIGNALS) for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
    const p = this.prosody;
    say(`Prosody listening on 127.0.0.1:${p.c2sPort} (clients) and 127.0.0.1:${p.componentPort} (components), host ${p.host}`);
    await p.createUsers([...this.passwords].map(([username, password]) => ({ username, password })));
    say(`accounts created: ${[...this.passwords.keys()].map((u) => `${u}@${p.host}`).join(", ")}`);

    // 2. The component on its SQLite store, with /health and /metrics on a free port.
    const [httpPort] = await freePorts(1);
    const config = ConfigSchema.parse({
      component: {
        domain: p.componentDomain,
        secret: p.componentSecret,
        server: `127.0.0.1:${p.componentPort}`,
        multicast: p.multicastDomain ?? null, // docs/operators.md#multicast
      },
      store: { path: path.join(this.dataDir, "bridge.sqlite") },
      log: { level: this.o.verbose ? "debug" : "info", format: "pretty" },
      http: { listen: `127.0.0.1:${httpPort}` },
      rooms: { defaultKind: "group" },
    });
    const logFile = path.join(this.dataDir, "component.log");
    const logger = createLogger(config.log, { destination: pino.destination({ dest: logFile, sync: true, mkdir: true }) });
    this.component = await startComponent(config, { logger });
    await this.component.connection.waitOnline(15_000);
    say(`component ${p.componentDomain} online; store ${config.store.path}; log ${logFile}; health http://127.0.0.1:${httpPort}/health`);

    // 3. Two members, each one device with its own state folder.
    const alice = await this.open("alice");
    const bob = await this.open("bob");

    // 4. The scripted exchange.
    const room = this.room;
    await alice.c.createRoom(room, { kind: "group" });
    say(`${nameOf(alice.jid)} created the group room ${bold(room)} and bound it to a new MLS group (epoch ${alice.c.epochOf(room)})`);
    const inv = await alice.c.invite(room, bob.jid);
    say(
      `${nameOf(alice.jid)} made ${nameOf(bob.jid)} a member: the component proposed adding ` +
        `${inv.devices.map((d) => `${nameOf(d.jid)}/${short(d.device)}`).join(", ") || "no device"}; the commit is accepted, alice is at epoch ${alice.c.epochOf(room)}`,
    );
    await bob.c.join(room);
    await this.send(alice, "Hi Bob! This message is end-to-end encrypted with MLS; the component only sees ciphertext.");
    await this.waitFor(() => this.read(bob, "Hi Bob!"), "bob reads alice's message");
    await this.send(bob, "Hi Alice, I read it. Epoch keys never leave our devices.");
    await this.waitFor(() => this.read(alice, "Hi Alice"), "alice reads bob's message");
    await this.send(alice, "Let's wait for Carol.");
    await this.waitFor(() => this.read(bob, "Let's wait"), "bob reads the last message");
    await this.waitFor(() => alice.c.epochOf(room) === bob.c.epochOf(room), "alice and bob at the same epoch");
    const ea = alice.c.epochAuthenticator(room);
    const eb = bob.c.epochAuthenticator(room);
    const same = ea !== undefined && eb !== undefined && Buffer.from(ea).equals(Buffer.from(eb));
    say(
      `alice and bob are both at epoch ${alice.c.epochOf(room)} and ${same ? "agree" : "DO NOT agree"} on its epoch authenticator ` +
        dim("(compared locally, not printed)"),
    );
    if (!same) throw new Error("alice and bob disagree on the epoch authenticator");
    if (this.errors.length > 0) throw new Error(`errors during the scripted exchange:\n  ${this.errors.join("\n  ")}`);
    say(bold(`ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`));

    if (this.o.once) return;
    this.instructions();
    this.interactive(alice);
    // bob answers whoever else writes, so that a newcomer sees a reply.
    bob.c.on("message", (m) => {
      if (m.from === alice.jid || m.from === bob.jid || m.delayed) return;
      void bob.c.send(m.room, `Hi ${m.from.split("@")[0]}, bob here: I read "${m.text.slice(0, 60)}".`).catch(() => undefined);
    });
    await new Promise<void>(() => undefined); // until a signal stops the process
  }

  private async open(name: string): Promise<Member> {
    const p = this.prosody!;
    const jid = `${name}@${p.host}`;
    const stateDir = path.join(this.dataDir, name);
    const c = await MlsClient.open({
      jid,
      password: this.passwords.get(name)!,
      service: p.c2sService,
      stateDir,
      mlsService: p.componentDomain,
      commitDelayMs: 200,
      welcomeWaitMs: 5_000,
      gapTimeoutMs: 1_000,
    });
    const m: Member = { name, jid, c };
    this.members.push(m);
    const texts: string[] = [];
    this.received.set(m, texts);
    c.on("message", (e) => texts.push(e.text));
    const me = nameOf(jid);
    c.on("joined", (e) => say(`${me} is in ${e.room} via ${e.via} at epoch ${e.epoch}; devices: ${devicesText(e.members)}`));
    c.on("membership", (e) => {
      const changes = [
        ...e.added.map((d) => `+${nameOf(d.jid)}/${short(d.device)}`),
        ...e.removed.map((d) => `-${nameOf(d.jid)}/${short(d.device)}`),
      ];
      const by = e.by ? `${nameOf(e.by.jid)}'s` : "an external";
      say(dim(`${name} sees epoch ${e.epoch}: ${by} commit${changes.length ? ` ${changes.join(" ")}` : " (key update)"}`));
    });
    c.on("message", (e) => {
      if (e.from === jid) return;
      say(`${me} decrypted ${dim(`[epoch ${e.epoch}, seq ${e.seq}${e.delayed ? ", delayed" : ""}]`)} ${nameOf(e.from)}: ${e.text}`);
    });
    c.on("removed", (e) => say(`${me} was removed from ${e.room}`));
    c.on("warning", (w) => say(dim(`${name}: warning (${w.kind}): ${w.message}`)));
    c.on("error", (e: ClientError) => {
      if (this.stopping) return;
      this.errors.push(`${name}: ${e.code}: ${e.message}`);
      say(`${name}: error ${e.code}: ${e.message}`);
    });
    say(`${me} online as ${jid}, device ${short(c.deviceId)}, KeyPackages published ${dim(`(state: ${stateDir})`)}`);
    return m;
  }

  private async send(m: Member, text: string): Promise<void> {
    say(`${nameOf(m.jid)} says: ${text}`);
    const r = await m.c.send(this.room, text);
    const entry = await this.component!.store.getEntry(this.room, BigInt(r.seq));
    say(
      dim(`${m.name}'s message accepted by the component as seq ${r.seq} (epoch ${r.epoch}); it stored ${entry?.payload.length ?? "?"} bytes of ciphertext`),
    );
  }

  private read(m: Member, prefix: string): boolean {
    return (this.received.get(m) ?? []).some((t) => t.startsWith(prefix));
  }

  private async waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private instructions(): void {
    const p = this.prosody!;
    const server = `127.0.0.1:${p.c2sPort}`;
    const rel = path.relative(process.cwd(), path.join(ROOT, "bin", "mls-chat"));
    const bin = rel.startsWith(".") ? rel : `./${rel}`;
    const state = (n: string) => path.join(this.dataDir, "cli", n);
    const cmd = (user: string, rest: string) =>
      `${bin} --jid ${user}@${p.host} --password ${this.passwords.get(user)} --server ${server} --state ${state(user)} ${rest}`;
    const carol = `carol@${p.host}`;
    const lines = [
      "",
      bold("Join the room yourself with mls-chat, as carol (in another terminal):"),
      "",
      dim("  # 1. carol connects, publishes KeyPackages and waits for an invitation, then prints messages"),
      `  ${cmd("carol", `listen ${this.room}`)}`,
      "",
      dim("  # 2. alice invites carol: type this line here, in the demo's terminal (what you type is sent as alice)"),
      `  /invite ${carol}`,
      dim("  #    or from the command line, as a second device of alice:"),
      `  ${cmd("alice", `invite ${this.room} ${carol}`)}`,
      "",
      dim("  # 3. carol writes while `listen` runs: a state folder is one device used by one process, so this is a"),
      dim("  #    second device of carol (the room adds it by itself: carol is a member now)"),
      `  ${cmd("carol", `send ${this.room} "Hello from carol"`).replace(state("carol"), state("carol-2"))}`,
      `  ${cmd("carol", `members ${this.room}`).replace(state("carol"), state("carol-2"))}`,
      "",
      dim("  bob answers what others write; lines typed here are sent by alice; /members lists the room's devices."),
      `  Accounts: ${[...this.passwords].map(([u, pw]) => `${u}@${p.host} / ${pw}`).join(", ")}`,
      `  Prosody c2s ${server} (SASL PLAIN without TLS, loopback only), component port 127.0.0.1:${p.componentPort}`,
      "",
      bold("Press Ctrl-C to stop everything."),
      "",
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }

  /** Lines typed in the terminal are sent by alice; /invite JID and /members are commands. */
  private interactive(alice: Member): void {
    if (!process.stdin.isTTY) return;
    const rl = createInterface({ input: process.stdin, terminal: false });
    rl.on("line", (raw) => {
      const line = raw.trim();
      if (line === "") return;
      const run = async () => {
        if (line.startsWith("/invite ")) {
          const jid = line.slice("/invite ".length).trim();
          say(`alice invites ${jid} ...`);
          const r = await alice.c.invite(this.room, jid);
          say(
            r.devices.length > 0
              ? `${nameOf(jid)} is a member; devices added: ${r.devices.map((d) => short(d.device)).join(", ")} (epoch ${alice.c.epochOf(this.room)})`
              : `${jid} is a member; no device with KeyPackages yet: it is added when it connects (e.g. mls-chat listen)`,
          );
        } else if (line === "/members") {
          const m = await alice.c.members(this.room);
          say(`${this.room} at epoch ${m.epoch}: ${devicesText(m.devices)}`);
        } else if (line.startsWith("/")) {
          say("commands: /invite JID, /members; anything else is sent as alice");
        } else {
          await this.send(alice, line);
        }
      };
      run().catch((e: unknown) => say(`failed: ${e instanceof Error ? e.message : String(e)}`));
    });
    this.closeInput = () => rl.close();
  }

  private closeInput: () => void = () => undefined;

  /** Stops clients, then the component, then Prosody; removes the data folder unless kept. Idempotent. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      this.closeInput();
      const step = async (what: string, fn: () => Promise<unknown>, ms = 10_000) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("timed out")), ms)))]);
        } catch (e) {
          process.stderr.write(`demo: stopping ${what}: ${e instanceof Error ? e.message : String(e)}\n`);
        } finally {
          clearTimeout(timer);
        }
      };
      for (const m of this.members) await step(m.name, () => m.c.close());
      if (this.component) await step("the component", () => this.component!.stop());
      if (this.prosody) await step("Prosody", () => this.prosody!.stop());
      if (!this.o.keep) rmSync(this.dataDir, { recursive: true, force: true });
    })());
  }

  get dataFolder(): string {
    return this.dataDir;
  }
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  let options: DemoOptions | "help";
  try {
    options = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  const demo = new Demo(options);
  let signalled = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signalled++;
    if (signalled > 1) {
      // A second Ctrl-C: leave now (the harness's exit hook still kills Prosody).
      process.stderr.write(`demo: ${signal} again, exiting now\n`);
      process.exit(130);
    }
    process.stdout.write(`\n${dim(`${signal}: stopping clients, component and Prosody ...`)}\n`);
    void demo.stop().then(() => {
      process.stdout.write(dim(`stopped${options.keep ? `; data kept in ${demo.dataFolder}` : ""}\n`));
      process.exit(0);
    });
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    await demo.run();
  } catch (e) {
    if (signalled > 0) return new Promise<number>(() => undefined); // stopping: the signal handler exits
    process.stderr.write(`demo: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    await demo.stop();
    return 1;
  }
  await demo.stop();
  process.stdout.write(dim(`stopped${options.keep ? `; data kept in ${demo.dataFolder}` : ""}\n`));
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`demo: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
