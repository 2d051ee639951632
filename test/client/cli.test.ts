// mls-chat: argument parsing, exit codes, and the commands end to end against the fake DS.

import { homedir } from "node:os";
import { join } from "node:path";

import { afterEach, describe, expect, it } from "vitest";

import { defaultStateDir, EXIT, parseArgs, runCli, serverToService, type CliDeps } from "../../client/cli.js";
import { MlsClient, type MlsClientOptions } from "../../client/client.js";
import { World, until } from "./helpers.js";

function capture(): { out: string[]; err: string[]; io: { stdout: (s: string) => void; stderr: (s: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (s) => out.push(s), stderr: (s) => err.push(s) } };
}

const BASE = ["--jid", "alice@localhost", "--password", "pw"];

describe("mls-chat argument parsing", () => {
  it("parses every command with its options", () => {
    const { io } = capture();
    expect(parseArgs([...BASE, "--server", "127.0.0.1:5222", "--state", "/tmp/s", "create", "team@mls.localhost", "--open"], io)).toEqual({
      jid: "alice@localhost",
      password: "pw",
      service: "xmpp://127.0.0.1:5222",
      stateDir: "/tmp/s",
      mechanism: undefined,
      verbosity: 0,
      timeout: 60,
      command: { name: "create", room: "team@mls.localhost", open: true },
    });
    expect(parseArgs([...BASE, "invite", "team@mls.localhost", "bob@localhost"], io)).toMatchObject({
      command: { name: "invite", room: "team@mls.localhost", jid: "bob@localhost" },
    });
    expect(parseArgs([...BASE, "remove", "team@mls.localhost", "bob@localhost", "--timeout", "5"], io)).toMatchObject({
      timeout: 5,
      command: { name: "remove" },
    });
    expect(parseArgs([...BASE, "ban", "team@mls.localhost", "bob@localhost"], io)).toMatchObject({ command: { name: "ban" } });
    expect(parseArgs([...BASE, "send", "team@mls.localhost", "hello world"], io)).toMatchObject({
      command: { name: "send", room: "team@mls.localhost", text: "hello world" },
    });
    expect(parseArgs([...BASE, "members", "team@mls.localhost"], io)).toMatchObject({ command: { name: "members", json: false } });
    expect(parseArgs([...BASE, "listen", "team@mls.localhost", "--json", "--count", "3", "--timeout", "2.5"], io)).toMatchObject({
      timeout: 2.5,
      command: { name: "listen", room: "team@mls.localhost", json: true, count: 3 },
    });
    expect(parseArgs([...BASE, "subject", "team@mls.localhost", "Q3 planning"], io)).toMatchObject({
      timeout: 60,
      command: { name: "subject", room: "team@mls.localhost", text: "Q3 planning" },
    });
    expect(parseArgs([...BASE, "subject", "team@mls.localhost", ""], io)).toMatchObject({ command: { name: "subject", text: "" } });
    expect(parseArgs([...BASE, "destroy", "team@mls.localhost"], io)).toMatchObject({
      command: { name: "destroy", room: "team@mls.localhost", reason: undefined, alternate: undefined },
    });
    expect(
      parseArgs([...BASE, "destroy", "team@mls.localhost", "--reason", "project over", "--alternate", "team2@mls.localhost", "--timeout", "9"], io),
    ).toMatchObject({ timeout: 9, command: { name: "destroy", reason: "project over", alternate: "team2@mls.localhost" } });
    // listen has no default time limit; global options may follow the command; -v twice is debug.
    expect(parseArgs(["listen", "team@mls.localhost", "--jid", "bob@localhost", "--password", "x", "-v", "-v"], io)).toMatchObject({
      jid: "bob@localhost",
      timeout: undefined,
      verbosity: 2,
      command: { name: "listen", count: undefined },
    });
  });

  it("defaults: state dir under ~/.local/share/mls-chat/<jid>, password from MLS_CHAT_PASSWORD", () => {
    const { io } = capture();
    const inv = parseArgs(["--jid", "alice@localhost", "send", "r@s", "x"], io, { env: { MLS_CHAT_PASSWORD: "secret" } });
    expect(inv).toMatchObject({ password: "secret", stateDir: join(homedir(), ".local/share/mls-chat/alice@localhost"), service: undefined });
    expect(defaultStateDir("alice@localhost", "/home/a")).toBe("/home/a/.local/share/mls-chat/alice@localhost");
    expect(serverToService("[::1]:5222")).toBe("xmpp://[::1]:5222");
    expect(serverToService("xmpp.example.org:5223")).toBe("xmpp://xmpp.example.org:5223");
  });

  it.each([
    [["send", "r@s", "x"], "--jid is required"],
    [["--jid", "alice@localhost", "send", "r@s", "x"], "--password is required"],
    [["--jid", "not a jid", "--password", "p", "send", "r@s", "x"], "not a user JID"],
    [[...BASE], "Usage: mls-chat"],
    [[...BASE, "frobnicate"], "unknown command"],
    [[...BASE, "send", "r@s"], "missing required argument"],
    [[...BASE, "send", "not-a-room", "x"], "room JID"],
    [[...BASE, "send", "r@s/nick", "x"], "room JID"],
    [[...BASE, "invite", "r@s", "bob@localhost/res"], "bare user JID"],
    [[...BASE, "listen", "r@s", "--count", "0"], "positive integer"],
    [[...BASE, "listen", "r@s", "--timeout", "soon"], "seconds"],
    [[...BASE, "--server", "nohost", "send", "r@s", "x"], "HOST:PORT"],
    [[...BASE, "create", "r@s", "--bogus"], "unknown option"],
    [[...BASE, "subject", "r@s"], "missing required argument"],
    [[...BASE, "destroy", "r@s", "--alternate", "elsewhere"], "room JID"],
    [[...BASE, "destroy", "r@s", "--reason"], "argument missing"],
  ])("usage error %j -> exit 2", async (argv, message) => {
    const { err, io } = capture();
    expect(parseArgs(argv, io, { env: {} })).toBe(EXIT.usage);
    expect(err.join("")).toContain(message);
    const c = capture();
    expect(await runCli(argv, { ...c.io, env: {} })).toBe(EXIT.usage);
  });

  it("--help prints the contract and exits 0", async () => {
    const { out, io } = capture();
    expect(await runCli(["--help"], { ...io, env: {} })).toBe(EXIT.ok);
    const text = out.join("");
    expect(text).toContain("Usage: mls-chat --jid JID --password PW [--server HOST:PORT] [--state DIR] COMMAND");
    for (const c of ["create", "invite", "remove", "ban", "send", "members", "listen", "subject", "destroy"]) expect(text).toContain(c);
    expect(text).toContain("NOT encrypted");
    expect(text).toContain("Exit codes: 0 success, 1 protocol or server error, 2 usage error, 3 timeout.");
    const sub = capture();
    expect(await runCli(["listen", "--help"], { ...sub.io, env: {} })).toBe(EXIT.ok);
    expect(sub.out.join("")).toContain("--count <n>");
  });
});

describe("mls-chat commands against the fake DS", () => {
  let w: World;
  afterEach(async () => w?.dispose());

  /** Deps that connect each invocation through the fake network, keeping one state dir per account. */
  function depsFor(world: World, io: CliDeps, extra: Partial<MlsClientOptions> = {}): CliDeps {
    return {
      ...io,
      env: {},
      formatTime: () => "12:34",
      open: async (o) => {
        const t = world.net.connectUser(o.jid);
        const c = await MlsClient.open({
          ...o,
          transport: t,
          commitDelayMs: 0,
          gapTimeoutMs: 100,
          welcomeWaitMs: 500,
          iqTimeoutMs: 5000,
          ...extra,
        });
        const close = c.close.bind(c);
        c.close = async () => {
          await close();
          t.disconnect();
        };
        return c;
      },
    };
  }

  it("create, listen (waiting for the invitation), invite, send, members; --json and human output", async () => {
    w = new World();
    const room = w.room("team");
    const state = { alice: w.newStateDir(), bob: w.newStateDir() };
    const as = (who: "alice" | "bob") => ["--jid", `${who}@localhost`, "--password", "pw", "--state", state[who]];

    const c1 = capture();
    expect(await runCli([...as("alice"), "create", room], depsFor(w, c1.io))).toBe(EXIT.ok);
    expect(c1.out.join("")).toBe(`created group room ${room}\n`);

    // bob listens before being a member: he publishes KeyPackages and waits for the invitation.
    const listenOut = capture();
    const listening = runCli([...as("bob"), "listen", room, "--json", "--count", "2", "--timeout", "20"], depsFor(w, listenOut.io));
    await until(() => listenOut.err.join("").includes("waiting for an invitation"), 5000, "bob waiting");

    const c2 = capture();
    expect(await runCli([...as("alice"), "invite", room, "bob@localhost"], depsFor(w, c2.io))).toBe(EXIT.ok);
    expect(c2.out.join("")).toMatch(/^invited bob@localhost to team@mls\.localhost: added device\(s\) [A-Za-z0-9_-]+ \(epoch 1\)\n$/);

    const c3 = capture();
    expect(await runCli([...as("alice"), "send", room, "first"], depsFor(w, c3.io))).toBe(EXIT.ok);
    expect(c3.out.join("")).toMatch(/^sent [0-9a-f-]{36} seq=\d+ epoch=\d+\n$/);
    expect(await runCli([...as("alice"), "send", room, "second"], depsFor(w, capture().io))).toBe(EXIT.ok);

    expect(await listening).toBe(EXIT.ok);
    const lines = listenOut.out.join("").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l["text"])).toEqual(["first", "second"]);
    expect(Object.keys(lines[0]!).sort()).toEqual(["epoch", "from", "id", "room", "text"]);
    expect(lines[0]).toMatchObject({ room, from: "alice@localhost" });

    // Human output, from the log entries bob missed while not listening.
    expect(await runCli([...as("alice"), "send", room, "third"], depsFor(w, capture().io))).toBe(EXIT.ok);
    const h = capture();
    expect(await runCli([...as("bob"), "listen", room, "--count", "1", "--timeout", "10"], depsFor(w, h.io))).toBe(EXIT.ok);
    expect(h.out.join("")).toBe("[12:34] alice@localhost: third\n");

    const m = capture();
    expect(await runCli([...as("alice"), "members", room], depsFor(w, m.io))).toBe(EXIT.ok);
    const text = m.out.join("");
    expect(text).toContain("alice@localhost (owner)\n  device ");
    expect(text).toContain("bob@localhost (member)\n  device ");
    const mj = capture();
    expect(await runCli([...as("alice"), "members", room, "--json"], depsFor(w, mj.io))).toBe(EXIT.ok);
    expect(JSON.parse(mj.out.join(""))).toMatchObject({ room, devices: expect.arrayContaining([expect.objectContaining({ jid: "bob@localhost" })]) });

    // remove: exits once the commit removing bob's device is accepted.
    const r = capture();
    expect(await runCli([...as("alice"), "remove", room, "bob@localhost"], depsFor(w, r.io))).toBe(EXIT.ok);
    expect(r.out.join("")).toMatch(/^removed bob@localhost from team@mls\.localhost: removed device\(s\) /);
    expect(w.ds.memberKeys(room).some((k) => k.startsWith("bob@"))).toBe(false);
  });

  it("exit 3 on timeout, exit 1 on a server refusal, exit 1 when the room exists", async () => {
    w = new World();
    const room = w.room("team");
    const alice = ["--jid", "alice@localhost", "--password", "pw", "--state", w.newStateDir()];
    const bob = ["--jid", "bob@localhost", "--password", "pw", "--state", w.newStateDir()];
    expect(await runCli([...alice, "create", room, "--open"], depsFor(w, capture().io))).toBe(EXIT.ok);

    const t = capture();
    expect(await runCli([...alice, "listen", room, "--timeout", "0.3"], depsFor(w, t.io))).toBe(EXIT.timeout);
    expect(t.err.join("")).toContain("timed out");

    const again = capture();
    expect(await runCli([...alice, "create", room], depsFor(w, again.io))).toBe(EXIT.error);
    expect(again.err.join("")).toContain("already exists");

    // bob is no owner: the affiliation change is refused (forbidden).
    const refused = capture();
    expect(await runCli([...bob, "ban", room, "alice@localhost"], depsFor(w, refused.io))).toBe(EXIT.error);
    expect(refused.err.join("")).toContain("forbidden");
  });

  it("subject and destroy: exit 0 when done, 1 when refused; listen ends with 1 when the room is destroyed", async () => {
    w = new World();
    const room = w.room("team");
    const state = { alice: w.newStateDir(), bob: w.newStateDir() };
    const as = (who: "alice" | "bob") => ["--jid", `${who}@localhost`, "--password", "pw", "--state", state[who]];
    expect(await runCli([...as("alice"), "create", room], depsFor(w, capture().io))).toBe(EXIT.ok);
    // bob is not a member yet: the join is refused (his device publishes KeyPackages on the way).
    const early = capture();
    expect(await runCli([...as("bob"), "subject", room, "hi"], depsFor(w, early.io))).toBe(EXIT.error);
    expect(early.err.join("")).toContain("registration-required");
    expect(await runCli([...as("alice"), "invite", room, "bob@localhost"], depsFor(w, capture().io))).toBe(EXIT.ok);

    const set = capture();
    expect(await runCli([...as("alice"), "subject", room, "Q3 planning"], depsFor(w, set.io))).toBe(EXIT.ok);
    expect(set.out.join("")).toBe(`subject of ${room} set\n`);
    expect(w.ds.room(room).subject).toBe("Q3 planning");

    // bob, a member (participant), may neither change the subject nor destroy the room.
    const refused = capture();
    expect(await runCli([...as("bob"), "subject", room, "mine"], depsFor(w, refused.io))).toBe(EXIT.error);
    expect(refused.err.join("")).toContain("forbidden");
    const notOwner = capture();
    expect(await runCli([...as("bob"), "destroy", room], depsFor(w, notOwner.io))).toBe(EXIT.error);
    expect(notOwner.err.join("")).toContain("forbidden");
    expect(w.ds.room(room).subject).toBe("Q3 planning");

    const listenOut = capture();
    const listening = runCli([...as("bob"), "listen", room, "--timeout", "20"], depsFor(w, listenOut.io));
    await until(() => [...w.ds.room(room).occupants.values()].some((o) => o.bare === "bob@localhost"), 5000, "bob listening");
    const d = capture();
    expect(await runCli([...as("alice"), "destroy", room, "--reason", "project over"], depsFor(w, d.io))).toBe(EXIT.ok);
    expect(d.out.join("")).toBe(`destroyed ${room}\n`);
    expect(await listening).toBe(EXIT.error);
    expect(listenOut.err.join("")).toContain(`${room} was destroyed: project over`);
    expect(w.ds.rooms.has(room)).toBe(false);
    // The same JID can be created again.
    expect(await runCli([...as("alice"), "create", room], depsFor(w, capture().io))).toBe(EXIT.ok);
  });

  it("SIGINT (abort) ends listen with exit 0", async () => {
    w = new World();
    const room = w.room("lobby");
    const alice = ["--jid", "alice@localhost", "--password", "pw", "--state", w.newStateDir()];
    expect(await runCli([...alice, "create", room, "--open"], depsFor(w, capture().io))).toBe(EXIT.ok);
    const ac = new AbortController();
    const c = capture();
    const p = runCli([...alice, "listen", room], { ...depsFor(w, c.io), signal: ac.signal });
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    expect(await p).toBe(EXIT.ok);
  });
});
