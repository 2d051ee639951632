// End to end: the client SDK and mls-chat against the real DS (component/,
// mapping/), in process, over the harness's private Prosody.
//
// XMB_TEST_LOG=1 logs the component (debug) and the clients.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EXIT, runCli } from "../../client/cli.js";
import { MlsClient } from "../../client/client.js";
import type { ClientError } from "../../client/errors.js";
import type { MessageEvent, MlsClientEvents } from "../../client/types.js";
import { startComponent, type RunningComponent } from "../../component/main.js";
import { ConfigSchema, createLogger } from "../../config/index.js";
import { startProsody, type ProsodyHandle } from "../integration/harness/index.js";
import { settle, until } from "./helpers.js";

const LOG = process.env["XMB_TEST_LOG"] === "1";

interface Device {
  readonly c: MlsClient;
  readonly stateDir: string;
  readonly messages: MessageEvent[];
  readonly errors: ClientError[];
  readonly events: { name: string; payload: unknown }[];
}

describe("client against the real DS over Prosody", () => {
  let prosody: ProsodyHandle;
  let comp: RunningComponent;
  const dirs: string[] = [];
  const devices: Device[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "mls-e2e-"));
    dirs.push(d);
    return d;
  };
  const jid = (u: string) => `${u}@${prosody.host}`;

  beforeAll(async () => {
    prosody = await startProsody();
    await prosody.createUsers(["alice", "bob", "carol", "dave"].map((username) => ({ username, password: "pw" })));
    const config = ConfigSchema.parse({
      component: { domain: prosody.componentDomain, secret: prosody.componentSecret, server: `127.0.0.1:${prosody.componentPort}` },
      store: { path: join(dir(), "ds.sqlite") },
      log: { level: LOG ? "debug" : "silent", format: "pretty" },
      http: { listen: "off" },
      rooms: { defaultKind: "group" },
    });
    comp = await startComponent(config, { logger: createLogger(config.log) });
    await comp.connection.waitOnline(10_000);
  }, 180_000);

  afterAll(async () => {
    for (const d of devices) await d.c.close().catch(() => undefined);
    await comp?.stop().catch(() => undefined);
    await prosody?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function open(user: string, stateDir = dir()): Promise<Device> {
    const c = await MlsClient.open({
      jid: jid(user),
      password: "pw",
      service: prosody.c2sService,
      stateDir,
      commitDelayMs: 0,
      welcomeWaitMs: 2000,
      gapTimeoutMs: 500,
      mlsService: prosody.componentDomain,
      logger: LOG ? pino({ level: "debug" }) : undefined,
    });
    const d: Device = { c, stateDir, messages: [], errors: [], events: [] };
    c.on("message", (m) => d.messages.push(m));
    c.on("error", (e) => d.errors.push(e));
    for (const name of ["joined", "removed", "membership", "sent"] as const) {
      c.on(name, (p: MlsClientEvents[typeof name][0]) => d.events.push({ name, payload: p }));
    }
    devices.push(d);
    return d;
  }
  const texts = (d: Device) => d.messages.map((m) => m.text);

  it("group room: create, invite (Welcome), chat, second device by the CLI, listen waiting for the invitation, removal, restart", async () => {
    const room = `team@${prosody.componentDomain}`;
    const alice = await open("alice");
    const bob = await open("bob");
    await alice.c.createRoom(room);
    const inv = await alice.c.invite(room, jid("bob"));
    expect(inv.devices.map((d) => d.device)).toEqual([bob.c.deviceId]);
    await bob.c.join(room);
    expect(bob.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "welcome" });

    await alice.c.send(room, "hello bob");
    await until(() => texts(bob).includes("hello bob"), 10_000, "bob reads");
    await bob.c.send(room, "hello alice");
    await until(() => texts(alice).includes("hello alice"), 10_000, "alice reads");

    // mls-chat listen as carol, not a member: waits for the invitation, then prints.
    const server = `127.0.0.1:${prosody.c2sPort}`;
    const out: string[] = [];
    const err: string[] = [];
    const listening = runCli(
      ["--jid", jid("carol"), "--password", "pw", "--server", server, "--state", dir(), "listen", room, "--json", "--count", "1", "--timeout", "30"],
      { stdout: (s) => out.push(s), stderr: (s) => err.push(s), env: {} },
    );
    await until(() => err.join("").includes("waiting for an invitation"), 10_000, "carol waits");
    const cliInvite: string[] = [];
    expect(
      await runCli(["--jid", jid("alice"), "--password", "pw", "--server", server, "--state", dir(), "invite", room, jid("carol")], {
        stdout: (s) => cliInvite.push(s),
        stderr: (s) => cliInvite.push(s),
        env: {},
      }),
    ).toBe(EXIT.ok); // a second device of alice (new state dir) does it
    expect(cliInvite.join("")).toContain("invited carol@");
    // alice's first device has processed the commit that added carol (else it could still send in the
    // previous epoch, which the DS accepts and carol, added after it, cannot read).
    const carolAdded = () =>
      alice.events.some((e) => e.name === "membership" && (e.payload as { added: { jid: string }[] }).added.some((d) => d.jid === jid("carol")));
    await until(carolAdded, 10_000, "alice sees carol's Add");
    await alice.c.send(room, "hello carol");
    expect(await listening).toBe(EXIT.ok);
    expect(JSON.parse(out.join(""))).toMatchObject({ room, from: jid("alice"), text: "hello carol" });

    // Removal: bob learns it and reads nothing more.
    const r = await alice.c.remove(room, jid("bob"));
    expect(r.devices.map((d) => d.device)).toEqual([bob.c.deviceId]);
    await until(() => bob.events.some((e) => e.name === "removed"), 15_000, "bob removed");
    await alice.c.send(room, "after bob");
    await settle(300);
    expect(texts(bob)).not.toContain("after bob");

    // Restart alice's first device from its state dir: no message twice, still works.
    const before = texts(alice).length;
    await alice.c.close();
    const alice2 = await open("alice", alice.stateDir);
    await alice2.c.join(room);
    await settle(300);
    expect(texts(alice2)).toEqual([]);
    await alice2.c.send(room, "back");
    expect(before).toBeGreaterThan(0);
    expect([...alice2.errors, ...bob.errors].map((e) => e.message)).toEqual([]);
  }, 120_000);

  it("channel: a non-member joins by external commit and chats", async () => {
    const room = `lobby@${prosody.componentDomain}`;
    const dave = await open("dave");
    const carol = await open("carol");
    await dave.c.createRoom(room, { kind: "channel" });
    await carol.c.join(room);
    expect(carol.events.find((e) => e.name === "joined")?.payload).toMatchObject({ via: "external-commit" });
    await carol.c.send(room, "hi lobby");
    await until(() => texts(dave).includes("hi lobby"), 10_000, "dave reads");
    await dave.c.send(room, "hi carol");
    await until(() => texts(carol).includes("hi carol"), 10_000, "carol reads");
    expect([...dave.errors, ...carol.errors].map((e) => e.message)).toEqual([]);
  }, 60_000);
});
