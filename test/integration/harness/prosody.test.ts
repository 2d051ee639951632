// The harness itself: a private Prosody starts, carries messages between two
// users and to an XEP-0114 component, survives a restart and a crash with its
// ports and accounts, and is gone after stop().

import { existsSync } from "node:fs";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  canConnect,
  connectClient,
  connectComponent,
  nextStanza,
  nextStatus,
  startProsody,
  type ProsodyHandle,
  type TestClient,
  type TestComponent,
} from "./index.js";

const isMessageWithBody = (body: string) => (s: { is(n: string): boolean; getChildText(n: string): string | null }) =>
  s.is("message") && s.getChildText("body") === body;

describe("Prosody test harness", () => {
  let prosody: ProsodyHandle;
  let startMs = 0;
  const open: Array<TestClient | TestComponent> = [];
  const login = async (username: string, password: string) => {
    const c = await connectClient({ service: prosody.c2sService, domain: prosody.host, username, password });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    const t0 = performance.now();
    prosody = await startProsody();
    startMs = performance.now() - t0;
  }, 180_000); // may include apt-get install on a fresh machine

  afterAll(async () => {
    for (const c of open) {
      c.reconnect.stop();
      await c.stop().catch(() => undefined);
    }
    await prosody?.stop();
  });

  it("runs on its own loopback ports with a component block", async () => {
    expect(new Set([prosody.c2sPort, prosody.componentPort]).size).toBe(2);
    expect(prosody.c2sService).toBe(`xmpp://127.0.0.1:${prosody.c2sPort}`);
    expect(prosody.componentDomain).toBe("mls.localhost");
    expect(prosody.componentSecret).toMatch(/^[0-9a-f]{32}$/);
    expect(prosody.mucDomain).toBeUndefined();
    expect(existsSync(prosody.logFile)).toBe(true);
    expect(prosody.running).toBe(true);
    expect(await canConnect(prosody.c2sPort)).toBe(true);
  });

  it("two users log in with PLAIN and exchange a message", async () => {
    await prosody.createUser("alice", "alice-pw"); // prosodyctl register
    await prosody.createUsers([{ username: "bob", password: "bob-pw" }]); // written into the data dir
    const alice = await login("alice", "alice-pw");
    const bob = await login("bob", "bob-pw");
    console.log(
      `harness: Prosody start ${startMs.toFixed(0)} ms; PLAIN login ${alice.loginMs.toFixed(1)} ms, ${bob.loginMs.toFixed(1)} ms`,
    );
    expect(alice.saslMechanism).toBe("PLAIN");
    // SCRAM-SHA-1 in pure JS takes ~500 ms; a PLAIN login is far below that even on a busy machine.
    expect(bob.loginMs).toBeLessThan(400);

    await bob.send(xml("presence"));
    const received = nextStanza(bob, isMessageWithBody("hello bob"));
    await alice.send(xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, "hello bob")));
    const msg = await received;
    expect(msg.attrs["from"]).toBe(alice.jid?.toString());

    await expect(
      connectClient({ service: prosody.c2sService, domain: prosody.host, username: "alice", password: "wrong" }),
    ).rejects.toThrow(/not-authorized/);
  });

  let component: TestComponent;

  it("an XEP-0114 component connects with the secret and receives messages to its domain", async () => {
    component = await connectComponent({
      service: prosody.componentService,
      domain: prosody.componentDomain,
      secret: prosody.componentSecret,
      reconnectDelayMs: 50,
    });
    open.push(component);
    expect(component.status).toBe("online");

    const alice = await login("alice", "alice-pw");
    const received = nextStanza(component, isMessageWithBody("to the component"));
    await alice.send(xml("message", { to: "anything@mls.localhost" }, xml("body", {}, "to the component")));
    const msg = await received;
    expect(msg.attrs["to"]).toBe("anything@mls.localhost");
    expect(msg.attrs["from"]).toBe(alice.jid?.toString());
  });

  it("refuses a component with the wrong secret", async () => {
    await expect(
      connectComponent({ service: prosody.componentService, domain: prosody.componentDomain, secret: "wrong", timeoutMs: 3_000 }),
    ).rejects.toThrow(/not-authorized/);
  });

  it("restart() keeps ports and accounts; the component reconnects", async () => {
    const ports = [prosody.c2sPort, prosody.componentPort];
    const pidBefore = prosody.pid;
    const back = nextStatus(component, "online");
    await prosody.restart();
    expect([prosody.c2sPort, prosody.componentPort]).toEqual(ports);
    expect(prosody.pid).not.toBe(pidBefore);
    await back;

    const bob = await login("bob", "bob-pw");
    const received = nextStanza(component, isMessageWithBody("after restart"));
    await bob.send(xml("message", { to: "room@mls.localhost" }, xml("body", {}, "after restart")));
    expect((await received).attrs["from"]).toBe(bob.jid?.toString());
  });

  it("kill() simulates a crash; restart() brings it back", async () => {
    await prosody.kill("SIGKILL");
    expect(prosody.running).toBe(false);
    expect(await canConnect(prosody.c2sPort)).toBe(false);
    await prosody.restart();
    const alice = await login("alice", "alice-pw");
    expect(alice.status).toBe("online");
  });

  it("stop() removes the process and the temp dir", async () => {
    const { dir, c2sPort } = prosody;
    for (const c of open.splice(0)) {
      c.reconnect.stop();
      await c.stop().catch(() => undefined);
    }
    await prosody.stop();
    expect(prosody.running).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(await canConnect(c2sPort)).toBe(false);
    await prosody.stop(); // idempotent
  });
});

describe("Prosody harness options", () => {
  it("adds Prosody's own MUC service when asked (rooms created unlocked on join)", async () => {
    const prosody = await startProsody({ muc: true, componentDomain: "mls2.localhost", componentSecret: "s3cret" });
    try {
      expect(prosody.mucDomain).toBe("conference.localhost");
      expect(prosody.componentSecret).toBe("s3cret");
      await prosody.createUsers([{ username: "carol", password: "pw" }]);
      const carol = await connectClient({ service: prosody.c2sService, domain: prosody.host, username: "carol", password: "pw" });
      try {
        const room = `bench@${prosody.mucDomain}`;
        const joined = nextStanza(carol, (s) => s.is("presence") && s.attrs["from"] === `${room}/carol`);
        await carol.send(xml("presence", { to: `${room}/carol` }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
        await joined;
        const echoed = nextStanza(carol, isMessageWithBody("hi room"));
        await carol.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "hi room")));
        expect((await echoed).attrs["from"]).toBe(`${room}/carol`);
      } finally {
        await carol.stop();
      }
    } finally {
      await prosody.stop();
    }
  });
});
