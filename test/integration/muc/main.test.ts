// The entry point as an operator runs it: a process that reads its config
// from flags and the environment, connects, serves, and exits 0 on SIGTERM
// after telling occupants the service is going away (332).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { nextStanza, startProsody, type ProsodyHandle } from "../harness/index.js";
import { joinRoom, login, statusCodes, waitFor } from "./helpers.js";
import { xml } from "@xmpp/client";

describe("component/main.ts", () => {
  let prosody: ProsodyHandle;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "xmb-main-it-"));
    prosody = await startProsody();
    await prosody.createUsers([{ username: "alice", password: "pw" }]);
  }, 180_000);

  afterAll(async () => {
    await prosody?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts, goes online, serves a room, and exits 0 on SIGTERM", async () => {
    const secretFile = path.join(dir, "secret");
    writeFileSync(secretFile, prosody.componentSecret + "\n", { mode: 0o600 });
    const child = spawn(
      path.resolve("node_modules/.bin/tsx"),
      [
        "component/main.ts",
        "--domain",
        prosody.componentDomain,
        "--server",
        `127.0.0.1:${prosody.componentPort}`,
        "--db",
        path.join(dir, "db", "rooms.sqlite"),
        "--http-listen",
        "off",
      ],
      { env: { ...process.env, XMB_SECRET_FILE: secretFile, XMB_LOG_FORMAT: "json", XMB_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(() => /"msg":"online"/.test(out), 20_000, `online (output so far:\n${out})`);
      expect(out).not.toContain(prosody.componentSecret);

      const alice = await login(prosody, "alice", "laptop");
      try {
        const self = await joinRoom(alice, `team@${prosody.componentDomain}/alice`, xml("device", { xmlns: "urn:xmpp:mls:0", id: "alice1" }));
        expect(statusCodes(self)).toContain(201);
        const shutdown = nextStanza(alice, (s) => s.is("presence") && s.attrs["type"] === "unavailable" && statusCodes(s).includes(332));
        child.kill("SIGTERM");
        await shutdown;
        expect(await exited).toBe(0);
      } finally {
        await alice.stop().catch(() => undefined);
      }
      expect(out).toMatch(/"msg":"stopped"/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 60_000);
});
