// npm run bench:room -- [--members 100] [--messages 1000] [--rate 50] [--low-rate 20] [--size 100]
//                       [--rounds 3] [--rooms 10000] [--room-members 10] [--sample 5] [--quick] [--json]
//                       [--skip-throughput] [--skip-memory] [--profile DIR] [--no-multicast]
// (also ./run bench room ...)
//
// One room of N member devices over a real, private Prosody (loopback), side
// by side in the same run:
//   - "muc": Prosody's own MUC (Component "conference.localhost" "muc"), N
//     occupants, plain bodies as long as the MLS payloads;
//   - "mls": the xmpp-mls-bridge component (its own process, SQLite store,
//     synchronous=FULL) hosting an MLS group room of N devices, fanning out
//     through Prosody's mod_mls_multicast (component/prosody/) as
//     docs/operators.md recommends, or with --no-multicast one stanza per device.
// The same pattern for both: one member sends messages at a low steady rate
// (--low-rate, at most 10 s of them), then M messages at a moderate steady
// rate (--rate, default 50/s: about a third of what Prosody's MUC sustains
// for 100 occupants on 2 cores, so that latency is latency and not queueing),
// then M messages at full speed. Each measured pattern runs --rounds times,
// the two systems back to back in alternating order (MUC first, then MLS
// first...), and a goal's ratio is the median of the rounds' ratios: this
// machine's speed drifts within a run, and one pair can land on a slow spell.
// Every member's connection records when each
// message arrives (the sender's own connection too: the room reflects it).
// Throughput counts messages that reached every member's connection, per
// second; latency is send -> arrival at each connection (p50, p99). A sample
// of members decrypts every MLS message afterwards (it is never timed).
//
// Then memory: R idle group rooms of K members in a fresh component's store
// (written through the store API, see memory.ts), RSS of the component after
// a GC with the rooms idle and after touching each room once (disco#info by
// its owner: loads the room and its MLS group).
//
// Goals printed at the end: throughput >= 0.8x the plain MUC's (full speed),
// p99 <= 1.25x the plain MUC's (steady rate), each the median over rounds,
// and RSS <= 1 GiB with 10,000 rooms.
//
// Clients are lightweight (bench/room/wire.ts: PLAIN login, stream split into
// stanzas without parsing them), so that the benchmark process stays small
// next to the servers on a 2-core machine. The CPU time of Prosody, the
// component and the benchmark process is printed for every phase: on a busy
// machine it is steadier than wall-clock rates.
//
// bench/room/stanza-cost.ts measures the main limit found: Prosody's CPU per
// stanza a component sends, by stanza shape, against its MUC's per delivery.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { startProsody, type ProsodyHandle } from "../../test/integration/harness/index.js";
import { printUsage, usageError } from "../cli.js";
import { procCpuMs, procRss, startComponentProcess, type ComponentProcess, type MemReport } from "./component.js";
import { phaseStats, runPhase, type PhaseStats } from "./measure.js";
import { populateRooms, touchRooms } from "./memory.js";
import { decryptPayload, encryptForRoom, mlsPayloadOf, setupMlsRoom, type MlsRoom } from "./mls-room.js";
import { escapeText, startTagAttr, WireClient } from "./wire.js";

interface Options {
  members: number;
  messages: number;
  rate: number;
  lowRate: number;
  size: number;
  rooms: number;
  roomMembers: number;
  sample: number;
  /** Runs of each measured pattern (both systems each time, alternating which goes first). */
  rounds: number;
  json: boolean;
  skipThroughput: boolean;
  skipMemory: boolean;
  profileDir: string | undefined;
  /** Fan out through Prosody's mod_mls_multicast (XEP-0033), as docs/operators.md recommends; false: one stanza per device. */
  multicast: boolean;
  /** Prosody's network_settings.opportunistic_writes (server_epoll writes at once, not on the next loop turn), for both systems. */
  opportunisticWrites: boolean;
  /** mod_mls_multicast's multicast_write_at_once (each copy written as it is routed); false: on Prosody's next loop turn. */
  multicastWriteAtOnce: boolean;
}

const USAGE =
  "usage: npm run bench:room -- [--members 100] [--messages 1000] [--rate 50] [--low-rate 20] [--size 100] [--rounds 3] [--rooms 10000]\n" +
  "                            [--room-members 10] [--sample 5] [--quick] [--json] [--skip-throughput] [--skip-memory]\n" +
  "                            [--profile DIR]   (V8 CPU profile of the component, written at its exit)\n" +
  "                            [--no-multicast]  (fan-out without Prosody's mod_mls_multicast: one stanza per device)\n" +
  "                            [--opportunistic-writes]  (Prosody writes to a socket at once, not on its next loop turn; both systems)\n" +
  "                            [--multicast-loop-writes]  (mod_mls_multicast leaves its copies to Prosody's next loop turn)\n" +
  "--low-rate R: also a steady phase at R msg/s (min(messages, 10 s) messages) where neither system saturates; 0: none.\n" +
  "--rounds K: each measured pattern K times, both systems each time in alternating order; goals use the median ratio.\n" +
  "--quick: 300 messages, 1 round and 1,000 idle rooms unless given.";

function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    members: 100,
    messages: 1000,
    rate: 50,
    lowRate: 20,
    size: 100,
    rooms: 10_000,
    roomMembers: 10,
    sample: 5,
    rounds: 3,
    json: false,
    skipThroughput: false,
    skipMemory: false,
    profileDir: undefined,
    multicast: true,
    opportunisticWrites: false,
    multicastWriteAtOnce: true,
  };
  let quick = false;
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (key: keyof Options, min: number) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min) usageError("bench:room", `${a} needs an integer >= ${min}`, USAGE);
      (o as unknown as Record<string, number>)[key] = v;
      explicit.add(key);
    };
    switch (a) {
      case "--members": num("members", 2); break;
      case "--messages": num("messages", 1); break;
      case "--rate": num("rate", 1); break;
      case "--low-rate": num("lowRate", 0); break;
      case "--size": num("size", 16); break;
      case "--rooms": num("rooms", 1); break;
      case "--room-members": num("roomMembers", 2); break;
      case "--sample": num("sample", 0); break;
      case "--rounds": num("rounds", 1); break;
      case "--quick": quick = true; break;
      case "--json": o.json = true; break;
      case "--skip-throughput": o.skipThroughput = true; break;
      case "--skip-memory": o.skipMemory = true; break;
      case "--profile": o.profileDir = path.resolve(argv[++i] ?? "bench-profile"); break;
      case "--no-multicast": o.multicast = false; break;
      case "--opportunistic-writes": o.opportunisticWrites = true; break;
      case "--multicast-loop-writes": o.multicastWriteAtOnce = false; break;
      case "-h":
      case "--help":
        printUsage(USAGE);
      // falls through (unreachable)
      default:
        usageError("bench:room", `unknown option ${a}`, USAGE);
    }
  }
  if (quick) {
    if (!explicit.has("messages")) o.messages = 300;
    if (!explicit.has("rooms")) o.rooms = 1_000;
    if (!explicit.has("rounds")) o.rounds = 1;
  }
  o.sample = Math.min(o.sample, o.members - 1);
  return o;
}

const opts = parseOptions(process.argv.slice(2));
const log = (line: string) => {
  if (!opts.json) process.stdout.write(`${line}\n`);
  else process.stderr.write(`${line}\n`);
};
const MiB = 1024 * 1024;
const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");

interface PhaseReport extends PhaseStats {
  readonly system: "muc" | "mls";
  readonly mode: "rate" | "full";
  readonly rate: number | undefined;
  /** 0-based round of this pattern. */
  readonly round: number;
  readonly cpuMs: { prosody: number; component: number; bench: number };
  readonly decrypted?: { members: number; ok: number; failed: number };
}

async function connectAll(prosody: ProsodyHandle, names: readonly string[], password: string, resource: string): Promise<WireClient[]> {
  const out: WireClient[] = [];
  for (let i = 0; i < names.length; i += 25) {
    const batch = names.slice(i, i + 25);
    out.push(
      ...(await Promise.all(
        batch.map((username) =>
          WireClient.connect({ host: "127.0.0.1", port: prosody.c2sPort, domain: prosody.host, username, password, resource }),
        ),
      )),
    );
  }
  return out;
}

async function joinPlainMuc(clients: readonly WireClient[], room: string): Promise<void> {
  await Promise.all(
    clients.map(async (c) => {
      const nick = c.options.username;
      const self = c.next((raw) => raw.startsWith("<presence") && startTagAttr(raw, "from") === `${room}/${nick}`, 30_000);
      c.send(`<presence to='${room}/${nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
      const p = await self;
      if (startTagAttr(p, "type") === "error") throw new Error(`${nick} could not join ${room}: ${p}`);
    }),
  );
}

async function throughputPart(prosody: ProsodyHandle, workDir: string): Promise<{ phases: PhaseReport[]; setupMs: number; payloadBytes: number; componentMem: MemReport }> {
  const names = Array.from({ length: opts.members }, (_, i) => `m${String(i).padStart(3, "0")}`);
  await prosody.createUsers(names.map((username) => ({ username, password: "pw" })));
  const component = await startComponentProcess({
    prosody,
    storePath: path.join(workDir, "throughput.sqlite"),
    cpuProfileDir: opts.profileDir,
    multicast: opts.multicast,
  });
  log(`component fan-out: ${component.multicast === "available" ? `through ${prosody.multicastDomain} (XEP-0033)` : `one stanza per device (multicast ${component.multicast})`}`);
  if (opts.multicast && component.multicast !== "available") throw new Error(`the multicast service did not work (${component.multicast})`);
  const clients = await connectAll(prosody, names, "pw", "bench");
  log(`${clients.length} clients connected (SASL PLAIN)`);
  try {
    const sample = new Set<number>();
    for (let s = 0; s < opts.sample; s++) sample.add(1 + Math.floor((s * (opts.members - 1)) / Math.max(1, opts.sample)));
    const mls: MlsRoom = await setupMlsRoom({ clients, service: prosody.componentDomain, room: `bench@${prosody.componentDomain}`, sample, log: (l) => log(`  mls: ${l}`) });
    log(`MLS room ready in ${fmt(mls.setupMs / 1000)} s`);
    const mucRoom = `bench@${prosody.mucDomain}`;
    await joinPlainMuc(clients, mucRoom);
    log(`plain MUC room ${mucRoom}: ${clients.length} occupants`);

    // The messages: texts of `size` bytes; MLS ones encrypted ahead of time (in send order), plain bodies as long as each MLS payload.
    const warm = Math.min(200, opts.messages);
    const plan: Array<{ label: string; mode: "rate" | "full"; rate?: number; count: number; measured: boolean }> = [
      { label: "warm", mode: "full", count: warm, measured: false },
      ...(opts.lowRate > 0
        ? [{ label: "low", mode: "rate" as const, rate: opts.lowRate, count: Math.min(opts.messages, opts.lowRate * 10), measured: true }]
        : []),
      { label: "rate", mode: "rate", rate: opts.rate, count: opts.messages, measured: true },
      { label: "full", mode: "full", count: opts.messages, measured: true },
    ];
    const textOf = (label: string, i: number) => {
      const head = `${label} #${i} `;
      return head + "x".repeat(Math.max(0, opts.size - head.length));
    };
    const owner = mls.owner;
    const sender = owner.wire;
    const senderIndex = 0;
    const phases: PhaseReport[] = [];
    let payloadBytes = 0;
    for (const step of plan) for (let round = 0; round < (step.measured ? opts.rounds : 1); round++) {
      const label = round === 0 ? step.label : `${step.label}${round + 1}`;
      const mlsStanzas: string[] = [];
      const mucStanzas: string[] = [];
      for (let i = 0; i < step.count; i++) {
        const b64 = encryptForRoom(owner.group!, textOf(label, i));
        payloadBytes = Math.max(payloadBytes, b64.length);
        mlsStanzas.push(`<message to='${mls.room}' type='groupchat' id='M${label}-${i}'><mls xmlns='urn:xmpp:mls:0' kind='application'>${b64}</mls></message>`);
        const body = textOf(label, i);
        mucStanzas.push(
          `<message to='${mucRoom}' type='groupchat' id='P${label}-${i}'><body>${escapeText(body + "y".repeat(Math.max(0, b64.length - body.length)))}</body></message>`,
        );
      }
      // Alternating order, so that neither system always runs right after the other's load.
      for (const system of round % 2 === 0 ? (["muc", "mls"] as const) : (["mls", "muc"] as const)) {
        const rate = step.rate;
        const before = { prosody: procCpuMs(prosody.pid), component: await component.cpuMs(), bench: process.cpuUsage() };
        const keep = system === "mls" ? new Set([...sample].filter((k) => k !== senderIndex)) : undefined;
        const times = await runPhase({
          receivers: clients,
          sender,
          stanzas: system === "mls" ? mlsStanzas : mucStanzas,
          prefix: `${system === "mls" ? "M" : "P"}${label}-`,
          rate,
          drainTimeoutMs: Math.max(60_000, step.count * 100),
          ...(keep ? { keep } : {}),
        });
        const benchCpu = process.cpuUsage(before.bench);
        const cpuMs = {
          prosody: procCpuMs(prosody.pid) - before.prosody,
          component: (await component.cpuMs()) - before.component,
          bench: (benchCpu.user + benchCpu.system) / 1000,
        };
        const stats = phaseStats(times);
        let decrypted: PhaseReport["decrypted"];
        if (system === "mls") {
          // Every sampled member decrypts every message it got, in arrival (= seq) order.
          let ok = 0;
          let failed = 0;
          for (const [k, raws] of times.kept) {
            const m = mls.members[k]!;
            for (const raw of raws) {
              const id = startTagAttr(raw, "id")!;
              const i = Number(id.slice(id.lastIndexOf("-") + 1));
              try {
                const text = new TextDecoder().decode(decryptPayload(m.group!, mlsPayloadOf(raw)!));
                if (text === textOf(label, i)) ok++;
                else failed++;
              } catch {
                failed++;
              }
            }
          }
          decrypted = { members: times.kept.size, ok, failed };
        }
        if (step.measured) {
          phases.push({ system, mode: step.mode, rate, round, ...stats, cpuMs, ...(decrypted ? { decrypted } : {}) });
        }
        log(
          `  ${label.padEnd(5)} ${system.padEnd(3)}: ${stats.complete}/${stats.messages} complete, ${fmt(stats.throughput, 0)} msg/s, ` +
            `p50 ${fmt(stats.p50)} ms, p99 ${fmt(stats.p99)} ms; CPU s: prosody ${fmt(cpuMs.prosody / 1000, 2)}, component ${fmt(cpuMs.component / 1000, 2)}, bench ${fmt(cpuMs.bench / 1000, 2)}` +
            (decrypted ? `; decrypted ${decrypted.ok}/${decrypted.ok + decrypted.failed} by ${decrypted.members} members` : "") +
            `; Prosody RSS ${fmt(procRss(prosody.pid) / MiB, 0)} MiB` +
            (times.timedOut ? " (timed out waiting)" : ""),
        );
        await new Promise((r) => setTimeout(r, 300)); // let the servers settle between phases
      }
    }
    const componentMem = await component.mem();
    return { phases, setupMs: mls.setupMs, payloadBytes, componentMem };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await component.stop();
  }
}

interface MemoryReport {
  rooms: number;
  membersPerRoom: number;
  populateMs: number;
  empty: MemReport;
  idle: MemReport;
  touched: MemReport;
  touchMs: number;
  touchFailures: number;
}

async function memoryPart(prosody: ProsodyHandle, workDir: string): Promise<MemoryReport> {
  const owners = Array.from({ length: 100 }, (_, i) => `o${String(i).padStart(3, "0")}`);
  await prosody.createUsers(owners.map((username) => ({ username, password: "pw" })));
  const storePath = path.join(workDir, "idle-rooms.sqlite");
  // Baseline: the component on an empty store.
  let component: ComponentProcess = await startComponentProcess({ prosody, storePath: path.join(workDir, "empty.sqlite") });
  const empty = await component.mem();
  await component.stop();
  log(`memory: ${opts.rooms} rooms of ${opts.roomMembers} members: writing them into the store`);
  const populated = await populateRooms({
    storePath,
    domain: prosody.componentDomain,
    userDomain: prosody.host,
    rooms: opts.rooms,
    membersPerRoom: opts.roomMembers,
    owners,
    log,
  });
  log(`  ${populated.rooms} rooms (${populated.users} users) built and written in ${fmt(populated.ms / 1000)} s`);
  component = await startComponentProcess({ prosody, storePath });
  try {
    const idle = await component.mem();
    const clients = await connectAll(prosody, owners, "pw", "mem");
    const byName = new Map(clients.map((c) => [c.options.username, c]));
    const touch = await touchRooms(populated, (owner) => byName.get(owner)!);
    await Promise.all(clients.map((c) => c.close()));
    const touched = await component.mem();
    log(`  touched every room once (disco#info by its owner) in ${fmt(touch.ms / 1000)} s, ${touch.failures} failures`);
    return {
      rooms: opts.rooms,
      membersPerRoom: opts.roomMembers,
      populateMs: populated.ms,
      empty,
      idle,
      touched,
      touchMs: touch.ms,
      touchFailures: touch.failures,
    };
  } finally {
    await component.stop();
  }
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : NaN;
}

function median(xs: readonly number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const workDir = mkdtempSync(path.join(tmpdir(), "xmb-bench-room-"));
  const prosody = await startProsody({
    muc: true,
    multicast: opts.multicast,
    multicastWriteAtOnce: opts.multicastWriteAtOnce,
    ...(opts.opportunisticWrites ? { extraConfig: "network_settings = { opportunistic_writes = true }" } : {}),
  });
  log(`Prosody on 127.0.0.1:${prosody.c2sPort}; component ${prosody.componentDomain}; MUC ${prosody.mucDomain}`);
  let throughput: Awaited<ReturnType<typeof throughputPart>> | undefined;
  let memory: MemoryReport | undefined;
  try {
    if (!opts.skipThroughput) throughput = await throughputPart(prosody, workDir);
    if (!opts.skipMemory) memory = await memoryPart(prosody, workDir);
  } finally {
    await prosody.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  /** A goal's value: the median over rounds of the MLS/MUC ratio of `metric`, with each round's ratio. */
  const roundRatios = (metric: "throughput" | "p99", mode: "rate" | "full", rate?: number) => {
    const of = (system: string) =>
      (throughput?.phases ?? []).filter((p) => p.system === system && p.mode === mode && (rate === undefined || p.rate === rate)).sort((a, b) => a.round - b.round);
    const muc = of("muc");
    const ratios = of("mls").map((m, i) => ratio(m[metric], muc[i]?.[metric] ?? NaN));
    return { value: median(ratios), rounds: ratios };
  };
  const goals: Record<string, { value: number; goal: string; met: boolean; rounds?: number[] }> = {};
  if (throughput) {
    const tput = roundRatios("throughput", "full");
    const p99 = roundRatios("p99", "rate", opts.rate);
    goals["throughput_ratio_full_speed"] = { ...tput, goal: ">= 0.8", met: tput.value >= 0.8 };
    goals[`p99_ratio_${opts.rate}_per_s`] = { ...p99, goal: "<= 1.25", met: p99.value <= 1.25 };
    if (opts.lowRate > 0 && opts.lowRate !== opts.rate) {
      const low = roundRatios("p99", "rate", opts.lowRate);
      goals[`p99_ratio_${opts.lowRate}_per_s`] = { ...low, goal: "<= 1.25", met: low.value <= 1.25 };
    }
  }
  if (memory) {
    const gib = memory.touched.rss / (1024 * MiB);
    goals["rss_gib_touched"] = { value: gib, goal: "<= 1", met: gib <= 1 };
  }
  const elapsed = (performance.now() - t0) / 1000;

  if (opts.json) {
    process.stdout.write(JSON.stringify({ options: opts, throughput, memory, goals, elapsedSeconds: elapsed }, null, 2) + "\n");
    return 0;
  }

  if (throughput) {
    log("");
    log(`One room, ${opts.members} member connections, ${opts.messages} messages of ${opts.size} bytes of text ` +
      `(MLS payload ${throughput.payloadBytes} base64 chars; plain bodies as long)` +
      (opts.opportunisticWrites ? "; Prosody with network_settings.opportunistic_writes" : "") +
      (opts.multicast && !opts.multicastWriteAtOnce ? "; mod_mls_multicast writing on the loop turn" : ""));
    log("");
    log("| pattern | system | complete | msg/s | stanzas/s | p50 ms | p90 ms | p99 ms | max ms | CPU s prosody / component / bench | Prosody µs per delivery |");
    log("|---|---|---|---|---|---|---|---|---|---|---|");
    for (const p of throughput.phases) {
      const pattern = (p.mode === "rate" ? `${p.rate}/s steady` : "full speed") + (opts.rounds > 1 ? ` #${p.round + 1}` : "");
      log(
        `| ${pattern} | ${p.system === "mls" ? "MLS component" : "Prosody MUC"} | ${p.complete}/${p.messages} | ${fmt(p.throughput, 0)} | ${fmt(p.stanzasPerSecond, 0)} | ` +
          `${fmt(p.p50)} | ${fmt(p.p90)} | ${fmt(p.p99)} | ${fmt(p.max)} | ${fmt(p.cpuMs.prosody / 1000, 2)} / ${fmt(p.cpuMs.component / 1000, 2)} / ${fmt(p.cpuMs.bench / 1000, 2)} | ` +
          `${fmt((p.cpuMs.prosody * 1000) / Math.max(1, p.messages * p.receivers - p.missing), 0)} |`,
      );
    }
    for (const p of throughput.phases) {
      if (p.mode === "rate" && p.rate !== undefined && p.throughput < 0.95 * p.rate) {
        log(`Note: ${p.system === "mls" ? "the MLS component" : "Prosody's MUC"} could not keep up with ${p.rate} msg/s (${fmt(p.throughput, 0)} msg/s): its latencies there are mostly queueing.`);
      }
    }
    const dec = throughput.phases.filter((p) => p.decrypted).map((p) => p.decrypted!);
    const ok = dec.reduce((s, d) => s + d.ok, 0);
    const failed = dec.reduce((s, d) => s + d.failed, 0);
    log("");
    log(`Decryption check: ${ok} of ${ok + failed} sampled MLS deliveries decrypted to the text sent (${dec[0]?.members ?? 0} members).`);
    log(`Component RSS after the runs: ${fmt(throughput.componentMem.rss / MiB, 0)} MiB.`);
  }
  if (memory) {
    log("");
    log(`Memory, ${memory.rooms} idle group rooms of ${memory.membersPerRoom} members (component RSS after GC):`);
    log(`| state | RSS MiB | heap used MiB | rooms in memory (MUC / MLS cache) |`);
    log("|---|---|---|---|");
    for (const [label, m] of [["empty store", memory.empty], ["rooms bound, idle", memory.idle], ["after touching each room once", memory.touched]] as const) {
      log(`| ${label} | ${fmt(m.rss / MiB, 0)} | ${fmt(m.heapUsed / MiB, 0)} | ${m.cachedRooms} / ${m.cachedMlsRooms} |`);
    }
  }
  log("");
  log("Goals:");
  for (const [k, g] of Object.entries(goals)) {
    const rounds = g.rounds && g.rounds.length > 1 ? `  (median of rounds: ${g.rounds.map((r) => fmt(r, 2)).join(", ")})` : "";
    log(`  ${k.padEnd(30)} ${fmt(g.value, 2).padStart(6)}  goal ${g.goal.padEnd(7)} ${g.met ? "met" : "NOT MET"}${rounds}`);
  }
  log(`(${fmt(elapsed, 0)} s)`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench:room: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
