// The client SDK and mls-chat over a real Prosody (the integration harness),
// with the test's fake DS attached as an XEP-0114 component. This checks the
// real transport (@xmpp/client, SASL mechanism choice, iq routing, stanza
// serialization through a server) until the real DS (component/) exists.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { Element } from "@xmpp/xml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EXIT, runCli } from "../../client/cli.js";
import { MlsClient } from "../../client/client.js";
import type { MessageEvent } from "../../client/types.js";
import { connectComponent, startProsody, type ProsodyHandle, type TestComponent } from "../integration/harness/index.js";
import { FakeDs } from "./fake-ds.js";
import { until } from "./helpers.js";

describe("client over a real Prosody, fake DS as component", () => {
  let prosody: ProsodyHandle;
  let component: TestComponent;
  let ds: FakeDs;
  const dirs: string[] = [];
  const clients: MlsClient[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "mls-client-prosody-"));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    prosody = await startProsody();
    await prosody.createUsers([
      { username: "alice", password: "alice-pw" },
      { username: "bob", password: "bob-pw" },
      { username: "carol", password: "carol-pw" },
      { username: "dora", password: "pässwörd ✓ 密码" },
    ]);
    component = await connectComponent({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret });
    ds = new FakeDs(
      {
        registerComponent: (_domain, handler) => component.on("stanza", (s: Element) => handler(s)),
        fromComponent: (s) => void component.send(s).catch(() => undefined),
      },
      { domain: prosody.componentDomain },
    );
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    component?.reconnect.stop();
    await component?.stop().catch(() => undefined);
    await prosody?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("logs in with a password outside ASCII, with PLAIN and with SCRAM-SHA-1", async () => {
    for (const mechanism of ["PLAIN", "SCRAM-SHA-1"] as const) {
      const c = await MlsClient.open({
        jid: `dora@${prosody.host}`,
        password: "pässwörd ✓ 密码",
        service: prosody.c2sService,
        stateDir: dir(),
        mlsService: prosody.componentDomain,
        mechanism,
      });
      clients.push(c);
      expect(c.jid).toBe(`dora@${prosody.host}`); // open() resolves once logged in
      await c.close();
    }
    const refused = await MlsClient.open({
      jid: `dora@${prosody.host}`,
      password: "passwörd ✓ 密码",
      service: prosody.c2sService,
      stateDir: dir(),
      mlsService: prosody.componentDomain,
    }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: "ClientError", code: "auth" });
  });

  it("SDK: create, invite, chat; CLI: a second device of alice sends; the bin script runs", async () => {
    const room = `team@${prosody.componentDomain}`;
    const open = async (user: string, password: string) => {
      const c = await MlsClient.open({
        jid: `${user}@${prosody.host}`,
        password,
        service: prosody.c2sService,
        stateDir: dir(),
        commitDelayMs: 0,
        welcomeWaitMs: 2000,
        mlsService: prosody.componentDomain,
      });
      clients.push(c);
      return c;
    };
    const alice = await open("alice", "alice-pw");
    const bob = await open("bob", "bob-pw");
    const bobMessages: MessageEvent[] = [];
    bob.on("message", (m) => bobMessages.push(m));
    const aliceMessages: MessageEvent[] = [];
    alice.on("message", (m) => aliceMessages.push(m));

    await alice.createRoom(room);
    const inv = await alice.invite(room, `bob@${prosody.host}`);
    expect(inv.devices).toHaveLength(1);
    await bob.join(room);
    await alice.send(room, "hello over prosody");
    await until(() => bobMessages.some((m) => m.text === "hello over prosody"), 10_000, "bob receives");
    await bob.send(room, "hi back");
    await until(() => aliceMessages.some((m) => m.text === "hi back"), 10_000, "alice receives");

    // mls-chat as a second device of alice (new state dir): added by alice's SDK instance, then sends.
    const server = `127.0.0.1:${prosody.c2sPort}`;
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ["--jid", `alice@${prosody.host}`, "--password", "alice-pw", "--server", server, "--state", dir(), "send", room, "from the cli"],
      { stdout: (s) => out.push(s), stderr: (s) => err.push(s), env: {} },
    );
    expect({ code, err: err.join("") }).toEqual({ code: EXIT.ok, err: "" });
    expect(out.join("")).toMatch(/^sent /);
    await until(() => bobMessages.some((m) => m.text === "from the cli"), 10_000, "bob receives the CLI message");
    const cliMsg = bobMessages.find((m) => m.text === "from the cli")!;
    expect(cliMsg.from).toBe(`alice@${prosody.host}`);
    expect(cliMsg.device).not.toBe(alice.deviceId);
    expect(ds.stats.groupInfosWithTree).toBe(0);
    expect(ds.memberKeys(room)).toHaveLength(3); // alice x2, bob

    // mls-chat listen as carol, not a member yet: it waits for the invitation (to her bare JID).
    const listenOut: string[] = [];
    const listenErr: string[] = [];
    const listening = runCli(
      ["--jid", `carol@${prosody.host}`, "--password", "carol-pw", "--server", server, "--state", dir(), "listen", room, "--json", "--count", "1", "--timeout", "30"],
      { stdout: (s) => listenOut.push(s), stderr: (s) => listenErr.push(s), env: {} },
    );
    await until(() => listenErr.join("").includes("waiting for an invitation"), 10_000, "carol waiting");
    await alice.invite(room, `carol@${prosody.host}`);
    await until(() => ds.memberKeys(room).some((k) => k.startsWith("carol@")), 10_000, "carol added");
    await alice.send(room, "hello carol");
    expect(await listening).toBe(EXIT.ok);
    expect(JSON.parse(listenOut.join(""))).toMatchObject({ room, from: `alice@${prosody.host}`, text: "hello carol" });

    // Wrong password: exit 1 (server refusal).
    const bad = await runCli(["--jid", `bob@${prosody.host}`, "--password", "nope", "--server", server, "--state", dir(), "members", room], {
      stdout: () => undefined,
      stderr: () => undefined,
      env: {},
    });
    expect(bad).toBe(EXIT.error);

    // The bin wrapper (TypeScript through tsx when there is no build).
    if (!existsSync(join(process.cwd(), "dist", "client", "cli.js"))) {
      const res = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const p = spawn(
          join(process.cwd(), "bin", "mls-chat"),
          ["--jid", `bob@${prosody.host}`, "--password", "bob-pw", "--server", server, "--state", dir(), "members", room, "--json"],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        let stdout = "";
        p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        p.on("close", (code) => resolve({ code, stdout }));
      });
      expect(res.code).toBe(0);
      // A third device of bob's: not yet a member (its Add needs a commit), so it lists the affiliations.
      expect(JSON.parse(res.stdout)).toMatchObject({ room });
    }
  }, 60_000);
});
