// The world of the end-to-end suite: a private Prosody 0.12 (the harness), or
// ejabberd 23.01 when a test asks for it, the real component (in process, or
// as a child process that a test can SIGKILL), SDK devices with their own
// state directories, raw XMPP clients, and what the assertions need: every
// stanza each device received, the component's debug log, its SQLite files and
// room log, and the plaintexts the tests sent.
//
// XMB_TEST_LOG=1 echoes the component's log (debug) to stdout.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { xml, type Element } from "@xmpp/xml";
import { afterAll, beforeAll, expect } from "vitest";
import { pino } from "pino";
import sqlite3 from "sqlite3";

import { MlsClient, type MlsClientOptions } from "../../../client/client.js";
import type { ClientError } from "../../../client/errors.js";
import type { RoomSession } from "../../../client/room.js";
import { XmppTransport, type Transport } from "../../../client/transport.js";
import type { MembershipEvent, MessageEvent, MlsClientEvents, WarningEvent } from "../../../client/types.js";
import { parseEntry, type RoomEntry } from "../../../client/xml.js";
import { startComponent, type RunningComponent } from "../../../component/main.js";
import { ConfigSchema, createLogger, type ConfigInput } from "../../../config/index.js";
import {
  connectClient,
  nextStanza,
  startEjabberd,
  startProsody,
  type ProsodyHandle,
  type TestClient,
  type XmppServerHandle,
} from "../harness/index.js";

export const LOG = process.env["XMB_TEST_LOG"] === "1";
export const NS_MLS = "urn:xmpp:mls:0";
export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
export const NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
export const PASSWORD = "pw";
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export { xml, type Element };

/** One SDK device: an MlsClient on its own connection and state directory, with everything it saw. */
export interface Device {
  readonly user: string;
  readonly jid: string;
  readonly c: MlsClient;
  /** The connection (the MlsClient got it as `transport`; closeDevice stops it). */
  readonly transport: XmppTransport;
  readonly stateDir: string;
  readonly messages: MessageEvent[];
  readonly membership: MembershipEvent[];
  readonly warnings: WarningEvent[];
  readonly errors: ClientError[];
  readonly events: { name: string; payload: unknown }[];
  /** Every stanza this connection received, from its first one on. */
  readonly stanzas: Element[];
}

/** A row of the component's room log (table mls_log). */
export interface LogRow {
  seq: number;
  kind: "proposal" | "commit" | "application";
  epoch: number;
  stanzaId: string;
  originId: string | null;
  senderJid: string | null;
  senderDevice: string | null;
  payload: Uint8Array;
}

export interface WorldOptions {
  /** Localparts of the accounts to create (password "pw"). */
  users: readonly string[];
  /** The XMPP server: "prosody" (default) or "ejabberd". */
  server?: "prosody" | "ejabberd";
  /** "in-process" (default): startComponent in this process; "child": node --import tsx component/main.ts. */
  component?: "in-process" | "child";
  /**
   * The fan-out path: "trusted" (default on Prosody): Prosody runs mod_mls_multicast and the component uses it;
   * "untrusted": the module runs but does not trust the component (every fan-out is refused, then re-sent directly);
   * "none": no multicast service, one stanza per device (the default on ejabberd).
   * On ejabberd the service is its own mod_multicast: "trusted" with a stated limit of
   * EJABBERD_MULTICAST_LIMIT addresses per stanza, "untrusted" with access none (it refuses everyone).
   */
  multicast?: "trusted" | "untrusted" | "none";
  /** Extra component configuration (merged over the suite's defaults). */
  config?: { limits?: ConfigInput["limits"]; rooms?: ConfigInput["rooms"]; mls?: ConfigInput["mls"] };
}

/** mod_multicast's limit of addresses per stanza from the component in World (small: fan-outs come in several stanzas). */
export const EJABBERD_MULTICAST_LIMIT = 3;

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` (every 10 ms) until it holds; fails with `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Warnings that a device lost a message or had to rejoin by resync: never expected in these scenarios. */
export function lossWarnings(d: Device): Device["warnings"] {
  return d.warnings.filter((x) => x.kind === "undecryptable" || x.kind === "resync");
}

/** The devices' errors and loss warnings (an empty list when all went well). */
export function troubles(devs: readonly Device[]): unknown[] {
  return devs.flatMap((d) => [...d.errors, ...lossWarnings(d)]);
}

/** Counts the devices' "online" events now; reconnected() waits until each has had one more (a reconnect). */
export function reconnectWatch(devs: readonly Device[]): { reconnected(timeoutMs: number): Promise<void> } {
  const onlines = (d: Device) => d.events.filter((e) => e.name === "online").length;
  const before = devs.map(onlines);
  return {
    reconnected: (timeoutMs) => until(() => devs.every((d, i) => onlines(d) > before[i]!), timeoutMs, "the members to reconnect"),
  };
}

export function hex(b: Uint8Array | undefined): string {
  return b === undefined ? "(none)" : Buffer.from(b).toString("hex");
}

export function b64(b: Uint8Array): string {
  return Buffer.from(b).toString("base64");
}

/** Resolves with the next stanza on `t` that matches (subscribe before sending what triggers it). */
export function nextOn(t: Transport, match: (s: Element) => boolean, timeoutMs = 10_000, what = "a matching stanza"): Promise<Element> {
  return new Promise((resolvePromise, reject) => {
    const on = (s: Element) => {
      if (!match(s)) return;
      clearTimeout(timer);
      t.off("stanza", on);
      resolvePromise(s);
    };
    const timer = setTimeout(() => {
      t.off("stanza", on);
      reject(new Error(`no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    t.on("stanza", on);
  });
}

// ------------------------------------------------------------------ stanza errors

export interface ParsedError {
  type: string | undefined;
  /** The RFC 6120 defined condition. */
  condition: string | undefined;
  /** The application-specific condition(s) in urn:xmpp:mls:0. */
  app: { name: string; attrs: Record<string, string>; children: Element[] }[];
  text: string | undefined;
}

/** The <error/> of an error stanza (throws if the stanza is not one). */
export function parseError(s: Element): ParsedError {
  if (s.attrs["type"] !== "error") throw new Error(`expected an error, got ${s.toString().slice(0, 400)}`);
  const e = s.getChild("error");
  if (!e) throw new Error(`error stanza without <error/>: ${s.toString().slice(0, 400)}`);
  const kids = e.getChildElements();
  const condition = kids.find((k) => k.getNS() === NS_STANZAS && k.name !== "text")?.name;
  const app = kids
    .filter((k) => k.getNS() === NS_MLS)
    .map((k) => ({ name: k.name, attrs: Object.fromEntries(Object.entries(k.attrs).filter(([n]) => n !== "xmlns")) as Record<string, string>, children: k.getChildElements() }));
  return { type: e.attrs["type"], condition, app, text: kids.find((k) => k.name === "text")?.getText() };
}

/** Expects an error stanza with exactly this type, RFC 6120 condition and one application condition (and these attributes). */
export function expectMlsError(
  s: Element,
  want: { type: string; condition: string; app: string; attrs?: Record<string, string> },
): ParsedError {
  const e = parseError(s);
  const got = { type: e.type, condition: e.condition, app: e.app.map((a) => a.name) };
  const expected = { type: want.type, condition: want.condition, app: [want.app] };
  if (JSON.stringify(got) !== JSON.stringify(expected)) {
    throw new Error(`error ${JSON.stringify(got)} (text: ${e.text ?? ""}), expected ${JSON.stringify(expected)}`);
  }
  for (const [k, v] of Object.entries(want.attrs ?? {})) {
    if (e.app[0]!.attrs[k] !== v) throw new Error(`<${want.app} ${k}='${e.app[0]!.attrs[k] ?? "(absent)"}'>, expected '${v}'`);
  }
  return e;
}

// ------------------------------------------------------------------ entries seen by a device

export interface SeenEntry extends RoomEntry {
  readonly stanza: Element;
}

/** The `<mls/>` entries (and Welcomes) a device received from `room`, in arrival order. */
export function entriesSeen(d: Device, room: string): SeenEntry[] {
  const out: SeenEntry[] = [];
  for (const s of d.stanzas) {
    if (s.name !== "message" || s.attrs["type"] === "error") continue;
    const from = s.attrs["from"] ?? "";
    if (from !== room) continue;
    const e = parseEntry(s, room);
    if (e) out.push({ ...e, stanza: s });
  }
  return out;
}

// ------------------------------------------------------------------ interposing on a device's connection

export interface TransportHooks {
  /** Replaces send (call `next` to send). */
  send?(s: Element, next: (s: Element) => Promise<void>): Promise<void>;
  /** Replaces iq (call `next` to run the request). */
  iq?(s: Element, timeoutMs: number, next: (s: Element, timeoutMs: number) => Promise<Element>): Promise<Element>;
}

/** A device's connection with hooks on what the SDK sends (World.open's `wrap`). */
export class HookedTransport implements Transport {
  constructor(
    private readonly t: XmppTransport,
    private readonly hooks: TransportHooks,
  ) {}
  get jid(): string {
    return this.t.jid;
  }
  send(s: Element): Promise<void> {
    return this.hooks.send ? this.hooks.send(s, (x) => this.t.send(x)) : this.t.send(s);
  }
  iq(s: Element, timeoutMs: number): Promise<Element> {
    return this.hooks.iq ? this.hooks.iq(s, timeoutMs, (x, ms) => this.t.iq(x, ms)) : this.t.iq(s, timeoutMs);
  }
  on(event: "stanza", l: (s: Element) => void): unknown;
  on(event: "online" | "offline", l: () => void): unknown;
  on(event: "stanza" | "online" | "offline", l: (s: Element) => void): unknown {
    return this.t.on(event, l);
  }
  off(event: "stanza", l: (s: Element) => void): unknown;
  off(event: "online" | "offline", l: () => void): unknown;
  off(event: "stanza" | "online" | "offline", l: (s: Element) => void): unknown {
    return this.t.off(event, l);
  }
  stop(): Promise<void> {
    return this.t.stop();
  }
}

// ------------------------------------------------------------------ the world

/**
 * The World of a describe block: started before its tests (`set` receives it)
 * and disposed after them, also when a test failed.
 */
export function worldPerSuite(o: WorldOptions, set: (w: World) => void): void {
  let w: World | undefined;
  beforeAll(async () => {
    w = await World.start(o);
    set(w);
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });
}

export class World {
  /** The XMPP server the users and the component connect to. */
  server!: XmppServerHandle;
  /** Which one it is. */
  serverKind: "prosody" | "ejabberd" = "prosody";
  /** The in-process component (component: "in-process"). */
  comp: RunningComponent | undefined;
  /** The component process (component: "child"). */
  child: ChildProcess | undefined;
  readonly dir: string;
  readonly dbPath: string;
  /** Everything the component logged (debug level, JSON lines), across restarts. */
  readonly log: string[] = [];
  /** Distinctive plaintexts sent by the tests (§11 check: never in the DS's files or logs). */
  readonly plaintexts: string[] = [];
  readonly devices: Device[] = [];
  readonly raws: TestClient[] = [];
  private readonly dirs: string[] = [];
  private secretFile: string | undefined;

  private constructor(private readonly o: WorldOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "xmb-e2e-"));
    this.dbPath = join(this.dir, "ds", "bridge.sqlite");
  }

  static async start(o: WorldOptions): Promise<World> {
    const w = new World(o);
    w.serverKind = o.server ?? "prosody";
    if (w.serverKind === "ejabberd") {
      // mod_multicast: a small stated limit, so that fan-outs come in several stanzas; "untrusted": access none.
      const multicast = o.multicast ?? "none";
      w.server = await startEjabberd({
        multicast: multicast === "none" ? false : multicast === "trusted" ? { remoteLimit: EJABBERD_MULTICAST_LIMIT } : { access: "none" },
      });
    } else {
      const multicast = o.multicast ?? "trusted";
      w.server = await startProsody({
        multicast: multicast !== "none",
        ...(multicast === "untrusted" ? { multicastTrusted: ["someone-else.localhost"] } : {}),
      });
    }
    await w.server.createUsers(o.users.map((username) => ({ username, password: PASSWORD })));
    await w.startComponent();
    return w;
  }

  /** The server as a Prosody handle (for Prosody-only tests); throws on ejabberd. */
  get prosody(): ProsodyHandle {
    if (this.serverKind !== "prosody") throw new Error("World.prosody: this world runs on ejabberd; use World.server");
    return this.server as ProsodyHandle;
  }

  get domain(): string {
    return this.server.componentDomain;
  }

  jid(user: string): string {
    return `${user}@${this.server.host}`;
  }

  room(name: string): string {
    return `${name}@${this.domain}`;
  }

  /**
   * Sends a distinctive plaintext (see secret()) from `d`; resolves once the
   * room accepted it (reflected with its seq and stanza-id).
   */
  async say(d: Device, room: string, label: string): Promise<{ id: string; text: string; seq: number; stanzaId: string | undefined }> {
    const text = this.secret(label);
    const r = await d.c.send(room, text);
    return { id: r.id, text, seq: r.seq, stanzaId: r.stanzaId };
  }

  /** A distinctive random plaintext, remembered for the final "no plaintext at the DS" check. */
  secret(label: string): string {
    const s = `PT-${label}-${randomBytes(12).toString("hex")}`;
    this.plaintexts.push(s);
    return s;
  }

  private componentInput(): ConfigInput {
    return {
      component: {
        domain: this.server.componentDomain,
        secret: this.server.componentSecret,
        server: `127.0.0.1:${this.server.componentPort}`,
        reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
        multicast: this.server.multicastDomain ?? null,
      },
      store: { path: this.dbPath },
      log: { level: "debug", format: "json" },
      http: { listen: "off" },
      rooms: { defaultKind: "group", ...this.o.config?.rooms },
      ...(this.o.config?.limits ? { limits: this.o.config.limits } : {}),
      ...(this.o.config?.mls ? { mls: this.o.config.mls } : {}),
    };
  }

  private logLine(chunk: string): void {
    this.log.push(chunk);
    if (LOG) process.stdout.write(chunk);
  }

  /** Starts the component (again) on the same database. */
  async startComponent(): Promise<void> {
    if ((this.o.component ?? "in-process") === "in-process") {
      const config = ConfigSchema.parse(this.componentInput());
      const logger = createLogger(config.log, { destination: { write: (s: string) => this.logLine(s) } });
      this.comp = await startComponent(config, { logger });
      await this.comp.connection.waitOnline(15_000);
      return;
    }
    // As an operator runs it: flags and environment, JSON logs on stdout.
    if (this.secretFile === undefined) {
      this.secretFile = join(this.dir, "secret");
      writeFileSync(this.secretFile, this.server.componentSecret + "\n", { mode: 0o600 });
    }
    const l = this.o.config?.limits;
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "component/main.ts",
        "--domain",
        this.domain,
        "--server",
        `127.0.0.1:${this.server.componentPort}`,
        "--db",
        this.dbPath,
        "--http-listen",
        "off",
        "--multicast",
        this.server.multicastDomain ?? "off",
        "--log-level",
        "debug",
        "--log-format",
        "json",
      ],
      {
        cwd: REPO,
        env: {
          ...process.env,
          XMB_SECRET_FILE: this.secretFile,
          XMB_RECONNECT_INITIAL_MS: "50",
          XMB_RECONNECT_MAX_MS: "400",
          XMB_ROOMS_DEFAULT_KIND: "group",
          ...(l?.maxMessageBytes !== undefined ? { XMB_MAX_MESSAGE_BYTES: String(l.maxMessageBytes) } : {}),
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.child = child;
    // Never leave a component process behind, even if the test process exits early.
    const reap = () => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"));
    process.once("exit", reap);
    child.once("exit", () => process.removeListener("exit", reap));
    let out = "";
    const onData = (d: Buffer) => {
      const s = d.toString();
      out += s;
      this.logLine(s);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    await until(() => /"msg":"online"/.test(out) || child.exitCode !== null, 30_000, "the component process to be online");
    if (child.exitCode !== null) throw new Error(`the component exited with ${child.exitCode}:\n${out}`);
  }

  /** SIGKILLs the component process (a crash: no shutdown notices, no clean close of the store). */
  async killComponent(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGKILL");
    await exited;
  }

  /** Stops the component cleanly (in process: stop(); child: SIGTERM and wait for exit 0). */
  async stopComponent(): Promise<void> {
    if (this.comp) {
      await this.comp.stop();
      this.comp = undefined;
    }
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0) throw new Error(`the component exited with ${code} on SIGTERM`);
    }
  }

  newDir(prefix = "dev-"): string {
    const d = mkdtempSync(join(this.dir, prefix));
    this.dirs.push(d);
    return d;
  }

  /**
   * Opens a device of `user` (a new one, or the one in `stateDir`). Its
   * connection is made here so that every stanza it receives is recorded;
   * `wrap` may interpose on what the SDK sends.
   */
  async open(
    user: string,
    o: { stateDir?: string; wrap?: (t: XmppTransport) => Transport; options?: Partial<MlsClientOptions> } = {},
  ): Promise<Device> {
    const stateDir = o.stateDir ?? this.newDir(`${user}-`);
    const logger = pino({ level: LOG ? "debug" : "silent" });
    const transport = await XmppTransport.connect({
      jid: this.jid(user),
      password: PASSWORD,
      service: this.server.c2sService,
      logger,
      timeoutMs: 10_000,
    });
    const stanzas: Element[] = [];
    transport.on("stanza", (s: Element) => stanzas.push(s));
    const c = await MlsClient.open({
      jid: this.jid(user),
      stateDir,
      transport: o.wrap ? o.wrap(transport) : transport,
      commitDelayMs: 0,
      welcomeWaitMs: 2000,
      gapTimeoutMs: 500,
      iqTimeoutMs: 10_000,
      sendTimeoutMs: 10_000,
      joinTimeoutMs: 5000,
      mlsService: this.domain,
      logger,
      ...o.options,
    });
    const d: Device = { user, jid: this.jid(user), c, transport, stateDir, messages: [], membership: [], warnings: [], errors: [], events: [], stanzas };
    c.on("message", (m) => d.messages.push(m));
    c.on("membership", (m) => d.membership.push(m));
    c.on("warning", (w) => d.warnings.push(w));
    c.on("error", (e) => d.errors.push(e));
    for (const name of ["joined", "removed", "left", "sent", "invited", "online", "offline", "subject", "destroyed"] as const) {
      c.on(name, (...p: MlsClientEvents[typeof name]) => d.events.push({ name, payload: p[0] }));
    }
    this.devices.push(d);
    return d;
  }

  /** Closes a device (client and connection); its state directory stays. */
  async closeDevice(d: Device): Promise<void> {
    await d.c.close().catch(() => undefined);
    await d.transport.stop().catch(() => undefined);
    const i = this.devices.indexOf(d);
    if (i >= 0) this.devices.splice(i, 1);
  }

  /** A plain XMPP client (no MLS), online with initial presence. */
  async raw(user: string, resource = `raw-${randomUUID().slice(0, 8)}`): Promise<TestClient> {
    const c = await connectClient({ service: this.server.c2sService, domain: this.server.host, username: user, password: PASSWORD, resource });
    await c.send(xml("presence"));
    this.raws.push(c);
    return c;
  }

  /** The room log as stored by the component (read-only connection; works while it runs). */
  async dsLog(room: string): Promise<LogRow[]> {
    const rows = await this.query<{
      seq: number;
      kind: LogRow["kind"];
      epoch: number;
      stanza_id: string;
      origin_id: string | null;
      sender_jid: string | null;
      sender_device: string | null;
      payload: Buffer;
    }>("SELECT seq, kind, epoch, stanza_id, origin_id, sender_jid, sender_device, payload FROM mls_log WHERE room = ? ORDER BY seq", [room]);
    return rows.map((r) => ({
      seq: r.seq,
      kind: r.kind,
      epoch: r.epoch,
      stanzaId: r.stanza_id,
      originId: r.origin_id,
      senderJid: r.sender_jid,
      senderDevice: r.sender_device,
      payload: new Uint8Array(r.payload),
    }));
  }

  /** The component's group row: epoch and next seq, and its pending DS proposals. */
  async dsGroup(room: string): Promise<{ epoch: number; nextSeq: number; pending: number } | undefined> {
    const g = await this.query<{ epoch: number; next_seq: number }>("SELECT epoch, next_seq FROM mls_groups WHERE room = ?", [room]);
    if (g.length === 0) return undefined;
    const p = await this.query<{ n: number }>("SELECT count(*) AS n FROM mls_pending WHERE room = ?", [room]);
    return { epoch: g[0]!.epoch, nextSeq: g[0]!.next_seq, pending: p[0]!.n };
  }

  async query<T>(sql: string, params: readonly (string | number)[] = []): Promise<T[]> {
    const db = await new Promise<sqlite3.Database>((res, rej) => {
      const d = new sqlite3.Database(this.dbPath, sqlite3.OPEN_READONLY, (err) => (err ? rej(err) : res(d)));
    });
    try {
      await new Promise<void>((res, rej) => db.run("PRAGMA busy_timeout = 5000", (err) => (err ? rej(err) : res())));
      return await new Promise<T[]>((res, rej) => db.all(sql, params, (err, rows) => (err ? rej(err) : res(rows as T[]))));
    } finally {
      await new Promise<void>((res) => db.close(() => res()));
    }
  }

  /**
   * Waits until these (online, joined) devices have processed the whole room
   * log, agree on the epoch and epoch authenticator, have nothing to commit,
   * and the DS has no pending proposal in that epoch.
   */
  async settled(devices: readonly Device[], room: string, timeoutMs = 20_000): Promise<{ epoch: number; authenticator: string }> {
    let last = "";
    const t0 = Date.now();
    for (;;) {
      await Promise.all(devices.map((d) => d.c.idle(room)));
      const ss: RoomSession[] = await Promise.all(devices.map((d) => d.c.session(room)));
      const g = await this.dsGroup(room);
      const auth = devices.map((d) => hex(d.c.epochAuthenticator(room)));
      const state = ss.map((s, i) => ({
        dev: devices[i]!.user,
        member: s.isMember,
        epoch: s.epoch,
        lastSeq: s.lastSeq,
        selfUpdate: s.needsSelfUpdate,
        pendingProposals: s.group?.pendingProposals().length,
        pendingCommit: s.group?.hasPendingCommit,
      }));
      last = JSON.stringify({ ds: g, state });
      const ok =
        g !== undefined &&
        g.pending === 0 &&
        ss.every((s) => s.isMember && !s.needsSelfUpdate && s.group!.pendingProposals().length === 0 && !s.group!.hasPendingCommit) &&
        ss.every((s) => s.epoch === g.epoch && s.lastSeq === g.nextSeq - 1) &&
        new Set(auth).size === 1;
      if (ok) return { epoch: g.epoch, authenticator: auth[0]! };
      if (Date.now() - t0 > timeoutMs) throw new Error(`devices not settled in ${room} after ${timeoutMs} ms: ${last}`);
      await sleep(20);
    }
  }

  /** Creates a group room with `owner` and adds `others` (invite, Welcome on join), then waits until all agree. */
  async groupRoom(name: string, owner: Device, others: readonly Device[]): Promise<string> {
    const room = this.room(name);
    await owner.c.createRoom(room, { kind: "group" });
    for (const d of others) {
      const r = await owner.c.invite(room, d.jid);
      if (r.devices.length !== 1 || r.devices[0]!.device !== d.c.deviceId) {
        throw new Error(`inviting ${d.jid}: added ${JSON.stringify(r.devices)}, expected its device ${d.c.deviceId}`);
      }
    }
    await Promise.all(others.map((d) => d.c.join(room)));
    await this.settled([owner, ...others], room);
    return room;
  }

  /** Waits until each device in `readers` has received (decrypted) every message id in `ids`. */
  async allRead(readers: readonly Device[], ids: readonly string[], timeoutMs = 15_000): Promise<void> {
    await until(
      () => readers.every((d) => ids.every((id) => d.messages.some((m) => m.id === id))),
      timeoutMs,
      `${readers.map((d) => d.user).join(", ")} to read ${ids.length} messages ` +
        `(have: ${readers.map((d) => `${d.user}=${ids.filter((id) => d.messages.some((m) => m.id === id)).length}`).join(" ")})`,
    );
  }

  /** The component's log as one string. */
  logText(): string {
    return this.log.join("");
  }

  /** How many times the component logged that it is online (its first connection counts). */
  componentOnlines(): number {
    return this.log.filter((l) => l.includes('"msg":"online"')).length;
  }

  /** Counts the component's connections now; reconnected() waits for one more, and for it to be online. */
  componentReconnectWatch(): { reconnected(timeoutMs: number): Promise<void> } {
    const n = this.componentOnlines();
    return {
      reconnected: (timeoutMs) =>
        until(() => this.componentOnlines() === n + 1 && this.comp!.connection.online, timeoutMs, "the component to reconnect"),
    };
  }

  /** The component's SQLite database and its -wal and -shm files, as they are on disk now. */
  dbFiles(): { path: string; bytes: Buffer }[] {
    return [this.dbPath, `${this.dbPath}-wal`, `${this.dbPath}-shm`, `${this.dbPath}-journal`]
      .filter((p) => existsSync(p))
      .map((p) => ({ path: p, bytes: readFileSync(p) }));
  }

  /**
   * Item 11 of every suite: at least `minPlaintexts` distinctive plaintexts
   * were sent, the scan does see the DS's data (the room's JID in its files)
   * and its debug log, and no plaintext is in them, before and after a clean
   * stop (which checkpoints the WAL into the main file).
   */
  async expectNoPlaintextLeaks(roomJid: string, minPlaintexts: number): Promise<void> {
    expect(this.plaintexts.length).toBeGreaterThanOrEqual(minPlaintexts);
    expect(this.logText()).toContain('"level":"debug"');
    expect(this.dbFiles().some((f) => f.bytes.includes(roomJid))).toBe(true);
    expect(this.plaintextLeaks()).toEqual([]);
    await this.stopComponent();
    expect(this.plaintextLeaks()).toEqual([]);
  }

  /** Returns a description of every plaintext found in the DS's files or log (empty = none). */
  plaintextLeaks(): string[] {
    const leaks: string[] = [];
    const files = this.dbFiles();
    const log = this.logText();
    for (const p of this.plaintexts) {
      const token = p.slice(p.lastIndexOf("-") + 1);
      for (const f of files) {
        if (f.bytes.includes(p) || f.bytes.includes(token)) leaks.push(`${p} in ${f.path}`);
        if (f.bytes.includes(Buffer.from(p, "utf16le"))) leaks.push(`${p} (UTF-16) in ${f.path}`);
      }
      if (log.includes(token)) leaks.push(`${p} in the component's log`);
    }
    return leaks;
  }

  /** Stops every client and connection, the component and the XMPP server; removes the files. */
  async dispose(): Promise<void> {
    for (const d of [...this.devices]) await this.closeDevice(d);
    for (const r of this.raws) await r.stop().catch(() => undefined);
    await this.stopComponent().catch(() => undefined);
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.server?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Sends an iq from a raw client and resolves with the reply (result or error, not thrown). */
export async function rawIq(c: TestClient, to: string, type: "get" | "set", payload: Element, timeoutMs = 10_000): Promise<Element> {
  const id = randomUUID();
  const reply = nextStanza(c, (s) => s.is("iq") && s.attrs["id"] === id && (s.attrs["type"] === "result" || s.attrs["type"] === "error"), timeoutMs);
  await c.send(xml("iq", { to, type, id }, payload));
  return reply;
}

/** Sends an iq from a device's connection and resolves with the reply (an error is returned, not thrown). */
export async function deviceIq(d: Device, to: string, type: "get" | "set", payload: Element, timeoutMs = 10_000): Promise<Element> {
  return d.transport.iq(xml("iq", { to, type, id: randomUUID() }, payload), timeoutMs);
}

/** Sends a groupchat message from a device's connection and resolves with the error the room answers. */
export async function deviceGroupchat(d: Device, room: string, ...children: Element[]): Promise<Element> {
  const id = randomUUID();
  const err = nextOn(d.transport, (s) => s.is("message") && s.attrs["type"] === "error" && s.attrs["id"] === id, 10_000, `the error for message ${id}`);
  await d.transport.send(xml("message", { to: room, type: "groupchat", id }, ...children));
  return err;
}
