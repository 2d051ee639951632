// mls-chat: a command-line client of urn:xmpp:mls:0 rooms, on the client SDK.
//
//   mls-chat --jid JID --password PW [--server HOST:PORT] [--state DIR] COMMAND
//
// Exit codes: 0 success, 1 protocol or server error, 2 usage error, 3 timeout.
// See `mls-chat --help` and client/README.md for what each command waits for.

import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { Logger } from "pino";

import { createLogger } from "../config/logger.js";
import { MlsClient, type MlsClientOptions } from "./client.js";
import { isClientError } from "./errors.js";
import { bareJid, domainOf, isBareUserJid, isJid } from "./jid.js";
import type { MessageEvent } from "./types.js";

export const EXIT = { ok: 0, error: 1, usage: 2, timeout: 3 } as const;

export type CliCommand =
  | { readonly name: "create"; readonly room: string; readonly open: boolean }
  | { readonly name: "invite" | "remove" | "ban"; readonly room: string; readonly jid: string }
  | { readonly name: "send"; readonly room: string; readonly text: string }
  | { readonly name: "members"; readonly room: string; readonly json: boolean }
  | { readonly name: "listen"; readonly room: string; readonly json: boolean; readonly count: number | undefined }
  | { readonly name: "subject"; readonly room: string; readonly text: string }
  | { readonly name: "destroy"; readonly room: string; readonly reason: string | undefined; readonly alternate: string | undefined };

export interface CliInvocation {
  readonly jid: string;
  readonly password: string;
  /** xmpp://host:port, or undefined (DNS SRV of the JID's domain). */
  readonly service: string | undefined;
  readonly stateDir: string;
  readonly mechanism: string | undefined;
  readonly verbosity: number;
  /** Seconds; undefined = no limit. */
  readonly timeout: number | undefined;
  readonly command: CliCommand;
}

export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

export interface CliDeps extends Partial<CliIo> {
  /** Replaces MlsClient.open (tests). */
  readonly open?: (o: MlsClientOptions) => Promise<MlsClient>;
  /** Merged into the client options (tests: a transport, short timers). */
  readonly clientOptions?: Partial<MlsClientOptions>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly homedir?: string;
  /** Aborts a running command (the bin script wires SIGINT/SIGTERM to it); listen then exits 0. */
  readonly signal?: AbortSignal;
  /** Local time zone formatting of [HH:MM] (tests pin it). */
  readonly formatTime?: (d: Date) => string;
}

class UsageError extends Error {}

/** Default time limits of the commands, in seconds (listen: none). */
const DEFAULT_TIMEOUT = 60;

const HELP_AFTER = `
ROOM is a full room JID (room@mls.example.org); JID a bare user JID.

What each command waits for before exiting 0:
  create   the room is created, configured (members-only group room, or open
           channel with --open) and its MLS group is bound by the service.
  invite   the member affiliation is set, and the service's Add proposals for
           the user's devices (those that published KeyPackages) are committed
           and the commit is accepted by the service. If no Add is proposed
           within 3 s (the user has no device with KeyPackages yet), it exits
           0 after the affiliation is set; the user's devices are added when
           they publish KeyPackages or join by external commit.
  remove   the affiliation is revoked and the commit removing every device of
  ban      the user is accepted (ban also makes the user an outcast).
  send     the message is accepted by the service: its reflection with the
           room's seq and stanza-id came back. Prints "sent ID seq=N epoch=E".
  members  prints the room's devices from this device's MLS group state and
           the affiliation lists (when readable).
  listen   joins (waiting for an invitation when the account is not a member
           yet), then prints each received message, one line per message:
           "[HH:MM] from@domain: text", or with --json one JSON object
           {"room","from","id","epoch","text"}. Stops after --count N
           messages (exit 0), on --timeout S (exit 3), on SIGINT (exit 0),
           when this device is removed or the room destroyed (exit 1).
  subject  the room reflected the new subject back (moderators only, unless
           the room lets participants change it; "" clears it). The subject
           is plain MUC metadata, NOT encrypted: the service reads it.
  destroy  the service destroyed the room (owners only; the occupants are
           told, with --reason) and this device deleted its state for it.

Every command first connects and publishes KeyPackages when this device has
fewer than the service's low-water mark (and always keeps a last-resort one).
The state directory (default ~/.local/share/mls-chat/<jid>) holds this
device's private keys and group secrets: keep it private (it is created 0700,
client.sqlite 0600). One state directory is one device.

Exit codes: 0 success, 1 protocol or server error, 2 usage error, 3 timeout.
The password may also be given in the environment variable MLS_CHAT_PASSWORD.`;

function positiveInt(v: string): number {
  if (!/^[1-9][0-9]*$/.test(v)) throw new InvalidArgumentError("must be a positive integer");
  return Number(v);
}

function seconds(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || !(n > 0)) throw new InvalidArgumentError("must be a positive number of seconds");
  return n;
}

function roomJid(v: string): string {
  if (!isJid(v) || v.includes("/") || !isBareUserJid(bareJid(v))) throw new InvalidArgumentError("must be a room JID (room@service)");
  return bareJid(v);
}

function userJid(v: string): string {
  if (!isJid(v) || v.includes("/") || !isBareUserJid(bareJid(v))) throw new InvalidArgumentError("must be a bare user JID (user@domain)");
  return bareJid(v);
}

/** HOST:PORT (IPv6 in brackets) -> xmpp://HOST:PORT. */
export function serverToService(v: string): string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s/]+):([0-9]{1,5})$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new InvalidArgumentError("must be HOST:PORT");
  return `xmpp://${m[1]}:${m[2]}`;
}

/** The default state directory of an account. */
export function defaultStateDir(jid: string, home: string = homedir()): string {
  return join(home, ".local", "share", "mls-chat", bareJid(jid));
}

/**
 * Parses argv (without node and script). Returns the invocation, or a number:
 * the exit code after --help (0) or a usage error (2), already reported on `io`.
 */
export function parseArgs(argv: readonly string[], io: CliIo, deps: Pick<CliDeps, "env" | "homedir"> = {}): CliInvocation | number {
  let command: CliCommand | undefined;
  let timeoutOpt: number | undefined;
  const program = new Command("mls-chat")
    .description("End-to-end encrypted XMPP group chat with MLS (urn:xmpp:mls:0)")
    .usage("--jid JID --password PW [--server HOST:PORT] [--state DIR] COMMAND")
    .option("--jid <jid>", "account JID (user@domain)")
    .option("--password <pw>", "account password (default: $MLS_CHAT_PASSWORD)")
    .option("--server <host:port>", "XMPP server (default: DNS SRV of the JID's domain)", serverToService)
    .option("--state <dir>", "device state directory (default: ~/.local/share/mls-chat/<jid>)")
    .addOption(new Option("--mechanism <name>", "SASL mechanism (default: PLAIN only on TLS or loopback)").hideHelp())
    .option("-v, --verbose", "log to stderr (twice: debug)", (_v: string, prev: number) => prev + 1, 0)
    .helpOption("-h, --help", "show this help")
    .addHelpText("after", HELP_AFTER)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  const timeout = (def: number | undefined) =>
    new Option("--timeout <s>", def === undefined ? "give up after S seconds (exit 3)" : `give up after S seconds (exit 3; default ${def})`).argParser(seconds);
  const sub = (name: string, desc: string) => program.command(name).description(desc).exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  sub("create", "create a room and bind its MLS group")
    .argument("<room>", "room JID", roomJid)
    .option("--open", "an open channel instead of a members-only group room")
    .addOption(timeout(DEFAULT_TIMEOUT))
    .action((room: string, o: { open?: boolean; timeout?: number }) => {
      command = { name: "create", room, open: o.open === true };
      timeoutOpt = o.timeout ?? DEFAULT_TIMEOUT;
    });
  for (const [name, desc] of [
    ["invite", "make JID a member; its devices are added to the MLS group"],
    ["remove", "revoke JID's affiliation; its devices are removed from the MLS group"],
    ["ban", "ban JID (outcast); its devices are removed from the MLS group"],
  ] as const) {
    sub(name, desc)
      .argument("<room>", "room JID", roomJid)
      .argument("<jid>", "user JID", userJid)
      .addOption(timeout(DEFAULT_TIMEOUT))
      .action((room: string, jid: string, o: { timeout?: number }) => {
        command = { name, room, jid };
        timeoutOpt = o.timeout ?? DEFAULT_TIMEOUT;
      });
  }
  sub("send", "send TEXT and wait until the service accepted it")
    .argument("<room>", "room JID", roomJid)
    .argument("<text>", "message text")
    .addOption(timeout(DEFAULT_TIMEOUT))
    .action((room: string, text: string, o: { timeout?: number }) => {
      command = { name: "send", room, text };
      timeoutOpt = o.timeout ?? DEFAULT_TIMEOUT;
    });
  sub("members", "list the room's member devices and affiliations")
    .argument("<room>", "room JID", roomJid)
    .option("--json", "one JSON document")
    .addOption(timeout(DEFAULT_TIMEOUT))
    .action((room: string, o: { json?: boolean; timeout?: number }) => {
      command = { name: "members", room, json: o.json === true };
      timeoutOpt = o.timeout ?? DEFAULT_TIMEOUT;
    });
  sub("listen", "print messages as they arrive (waits for an invitation if needed)")
    .argument("<room>", "room JID", roomJid)
    .option("--json", "one JSON object per message: {room, from, id, epoch, text}")
    .option("--count <n>", "exit after N messages", positiveInt)
    .addOption(timeout(undefined))
    .action((room: string, o: { json?: boolean; count?: number; timeout?: number }) => {
      command = { name: "listen", room, json: o.json === true, count: o.count };
      timeoutOpt = o.timeout;
    });
  sub("subject", "set the room's subject (plain MUC metadata: not encrypted)")
    .argument("<room>", "room JID", roomJid)
    .argument("<text>", "the new subject (\"\" clears it)")
    .addOption(timeout(DEFAULT_TIMEOUT))
    .action((room: string, text: string, o: { timeout?: number }) => {
      command = { name: "subject", room, text };
      timeoutOpt = o.timeout ?? DEFAULT_TIMEOUT;
    });
  sub("destroy", "destroy the room (owners): the service deletes it with its group state and log")
    .argument("<room>", "room JID", roomJid)
    .option("--reason <text>", "the reason the occupants are shown")
    .option("--alternate <room>", "a room that replaces this one", roomJid)
    .addOption(timeout(DEFAULT_TIMEOUT))
    .action((room: string, o: { reason?: string; alternate?: string; timeout?: number }) => {
      command = { name: "destroy", room, reason: o.reason, alternate: o.alternate };
      timeoutOpt = o.timeout ?? DEFAULT_TIMEOUT;
    });

  try {
    program.parse(argv as string[], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help exits 0; help shown because no command was given exits non-zero.
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help" || e.code === "commander.version") {
        return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      }
      return EXIT.usage;
    }
    throw e;
  }
  const usage = (msg: string): number => {
    io.stderr(`mls-chat: ${msg}\n(see mls-chat --help)\n`);
    return EXIT.usage;
  };
  if (!command) return usage("a COMMAND is required: create, invite, remove, ban, send, members, listen, subject or destroy");
  const g = program.opts<{ jid?: string; password?: string; server?: string; state?: string; mechanism?: string; verbose: number }>();
  if (!g.jid) return usage("--jid is required");
  if (!isJid(g.jid) || !isBareUserJid(bareJid(g.jid))) return usage(`--jid '${g.jid}' is not a user JID`);
  const password = g.password ?? deps.env?.["MLS_CHAT_PASSWORD"];
  if (password === undefined || password === "") return usage("--password is required");
  return {
    jid: bareJid(g.jid),
    password,
    service: g.server,
    stateDir: g.state ?? defaultStateDir(g.jid, deps.homedir),
    mechanism: g.mechanism,
    verbosity: g.verbose,
    timeout: timeoutOpt,
    command,
  };
}

function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (isClientError(e)) {
    if (e.code === "timeout") return EXIT.timeout;
    if (e.code === "invalid-argument") return EXIT.usage;
  }
  return EXIT.error;
}

function describeError(e: unknown): string {
  if (isClientError(e)) {
    const parts = [e.message];
    if (e.condition === "registration-required") parts.push("(this account is not a member of the room)");
    return parts.join(" ");
  }
  return e instanceof Error ? e.message : String(e);
}

function hhmm(d: Date): string {
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** Runs mls-chat; resolves with the exit code. Never rejects. */
export async function runCli(argv: readonly string[], deps: CliDeps = {}): Promise<number> {
  const io: CliIo = {
    stdout: deps.stdout ?? ((s) => void process.stdout.write(s)),
    stderr: deps.stderr ?? ((s) => void process.stderr.write(s)),
  };
  let inv: CliInvocation | number;
  try {
    inv = parseArgs(argv, io, { env: deps.env ?? process.env, homedir: deps.homedir });
  } catch (e) {
    io.stderr(`mls-chat: ${describeError(e)}\n`);
    return EXIT.usage;
  }
  if (typeof inv === "number") return inv;
  const logger = createLogger(
    { level: inv.verbosity >= 2 ? "debug" : inv.verbosity === 1 ? "info" : "error", format: "pretty" },
    { name: "mls-chat", destination: { write: (s: string) => io.stderr(s) } },
  );
  let client: MlsClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      client = await (deps.open ?? MlsClient.open)({
        jid: inv.jid,
        password: inv.password,
        service: inv.service,
        stateDir: inv.stateDir,
        mechanism: inv.mechanism,
        logger,
        mlsService: domainOf(inv.command.room),
        autoRejoin: true,
        // Only the command's room: it is joined explicitly.
        rejoinOnOpen: false,
        ...deps.clientOptions,
      });
      return execute(client, inv, io, deps, logger);
    })();
    work.catch(() => undefined);
    const limits: Promise<number>[] = [work];
    if (inv.timeout !== undefined) {
      const ms = inv.timeout * 1000;
      limits.push(
        new Promise<number>((resolve) => {
          timer = setTimeout(() => {
            io.stderr(`mls-chat: timed out after ${inv.timeout} s\n`);
            resolve(EXIT.timeout);
          }, ms);
        }),
      );
    }
    return await Promise.race(limits);
  } catch (e) {
    io.stderr(`mls-chat: ${describeError(e)}\n`);
    return exitCodeOf(e);
  } finally {
    clearTimeout(timer);
    const c = client as MlsClient | undefined;
    if (c) await c.close().catch(() => undefined);
  }
}

async function execute(client: MlsClient, inv: CliInvocation, io: CliIo, deps: CliDeps, logger: Logger): Promise<number> {
  const c = inv.command;
  client.on("error", (e) => logger.warn({ code: e.code, condition: e.condition, mls: e.mlsCondition, room: e.room }, e.message));
  client.on("warning", (w) => io.stderr(`mls-chat: warning: ${w.message}\n`));
  switch (c.name) {
    case "create": {
      await client.createRoom(c.room, { kind: c.open ? "channel" : "group" });
      io.stdout(`created ${c.open ? "channel" : "group room"} ${c.room}\n`);
      return EXIT.ok;
    }
    case "invite":
    case "remove":
    case "ban": {
      const timeoutMs = (inv.timeout ?? DEFAULT_TIMEOUT) * 1000;
      const r =
        c.name === "invite"
          ? await client.invite(c.room, c.jid, { timeoutMs })
          : c.name === "remove"
            ? await client.remove(c.room, c.jid, { timeoutMs })
            : await client.ban(c.room, c.jid, { timeoutMs });
      const devices = r.devices.map((d) => d.device).join(", ");
      if (c.name === "invite") {
        io.stdout(
          r.devices.length > 0
            ? `invited ${c.jid} to ${c.room}: added device(s) ${devices} (epoch ${client.epochOf(c.room)})\n`
            : `invited ${c.jid} to ${c.room}: no device with KeyPackages yet; its devices join when they come online\n`,
        );
      } else {
        io.stdout(
          `${c.name === "ban" ? "banned" : "removed"} ${c.jid} from ${c.room}` +
            (r.devices.length > 0 ? `: removed device(s) ${devices} (epoch ${client.epochOf(c.room)})\n` : "\n"),
        );
      }
      return EXIT.ok;
    }
    case "send": {
      const r = await client.send(c.room, c.text);
      io.stdout(`sent ${r.id} seq=${r.seq} epoch=${r.epoch}\n`);
      return EXIT.ok;
    }
    case "members": {
      await client.join(c.room);
      const m = await client.members(c.room);
      if (c.json) {
        io.stdout(`${JSON.stringify(m)}\n`);
        return EXIT.ok;
      }
      io.stdout(`${m.room} epoch ${m.epoch ?? "-"}\n`);
      const jids = new Set<string>([...(m.affiliations ?? []).map((a) => a.jid), ...m.devices.map((d) => d.jid)]);
      for (const jid of [...jids].sort()) {
        const aff = m.affiliations?.find((a) => a.jid === jid)?.affiliation ?? (m.affiliations ? "none" : "?");
        io.stdout(`${jid} (${aff})\n`);
        for (const d of m.devices.filter((x) => x.jid === jid)) io.stdout(`  device ${d.device}  ${d.fingerprint}\n`);
      }
      return EXIT.ok;
    }
    case "listen":
      return listen(client, c, io, deps);
    case "subject": {
      await client.setSubject(c.room, c.text);
      io.stdout(`subject of ${c.room} set\n`);
      return EXIT.ok;
    }
    case "destroy": {
      await client.destroyRoom(c.room, { reason: c.reason, alternate: c.alternate });
      io.stdout(`destroyed ${c.room}\n`);
      return EXIT.ok;
    }
  }
}

/** Errors that mean "this account is not (yet) a member of the room". */
function notYetMember(e: unknown): boolean {
  if (!isClientError(e)) return false;
  if (e.code === "not-member") return true;
  if (e.code !== "stanza") return false;
  return (
    e.condition === "registration-required" ||
    e.condition === "item-not-found" ||
    e.mlsCondition === "not-a-member" ||
    e.mlsCondition === "unbound-room"
  );
}

async function listen(client: MlsClient, c: Extract<CliCommand, { name: "listen" }>, io: CliIo, deps: CliDeps): Promise<number> {
  const fmt = deps.formatTime ?? hhmm;
  let received = 0;
  let finished = false;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  const finish = (code: number) => {
    finished = true;
    resolveDone(code);
  };
  const onMessage = (m: MessageEvent) => {
    if (m.room !== c.room || (c.count !== undefined && received >= c.count)) return;
    received++;
    if (c.json) io.stdout(`${JSON.stringify({ room: m.room, from: m.from, id: m.id, epoch: m.epoch, text: m.text })}\n`);
    else io.stdout(`[${fmt(m.time)}] ${m.from}: ${m.text}\n`);
    if (c.count !== undefined && received >= c.count) finish(EXIT.ok);
  };
  client.on("message", onMessage);
  client.on("removed", (e) => {
    if (e.room !== c.room) return;
    io.stderr(`mls-chat: removed from ${c.room}\n`);
    finish(EXIT.error);
  });
  client.on("destroyed", (e) => {
    if (e.room !== c.room) return;
    io.stderr(`mls-chat: ${c.room} was destroyed${e.reason ? `: ${e.reason}` : ""}${e.alternate ? ` (now at ${e.alternate})` : ""}\n`);
    finish(EXIT.error);
  });
  const onAbort = () => finish(EXIT.ok);
  deps.signal?.addEventListener("abort", onAbort, { once: true });
  if (deps.signal?.aborted) return EXIT.ok;

  // Join, waiting for an invitation while the account is not a member.
  const joining = (async () => {
    let announced = false;
    while (!finished) {
      try {
        await client.join(c.room);
        return;
      } catch (e) {
        if (!notYetMember(e)) throw e;
        if (!announced) io.stderr(`mls-chat: not a member of ${c.room} yet; waiting for an invitation\n`);
        announced = true;
        await new Promise<void>((resolve) => {
          const onInvite = (ev: { room: string }) => {
            if (ev.room !== c.room) return;
            client.off("invited", onInvite);
            clearTimeout(t);
            resolve();
          };
          // The invitation may have been missed: try again now and then.
          const t = setTimeout(() => {
            client.off("invited", onInvite);
            resolve();
          }, 15_000);
          t.unref?.();
          client.on("invited", onInvite);
          void done.then(() => {
            client.off("invited", onInvite);
            clearTimeout(t);
            resolve();
          });
        });
        if (finished) return;
      }
    }
  })();
  joining.catch((e) => {
    io.stderr(`mls-chat: ${describeError(e)}\n`);
    finish(exitCodeOf(e));
  });
  const code = await done;
  deps.signal?.removeEventListener("abort", onAbort);
  client.off("message", onMessage);
  return code;
}

/** The bin entry: runs with process.argv and exits with the code. */
export async function main(): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const code = await runCli(process.argv.slice(2), { signal: ac.signal }).catch((e) => {
    process.stderr.write(`mls-chat: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.error;
  });
  process.exitCode = code;
  // Let stdout drain, then leave even if a socket lingers.
  setTimeout(() => process.exit(code), 50).unref();
}

// `tsx client/cli.ts ...` runs it directly; the bin script imports main().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
