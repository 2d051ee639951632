// The ejabberd harness itself: two private ejabberds start side by side (own
// Erlang nodes, own ports), carry messages between users and to an XEP-0114
// component, keep their accounts across a restart and a crash, and leave no
// Erlang VM nor temp dir behind after stop().

import { existsSync } from "node:fs";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  canConnect,
  connectClient,
  connectComponent,
  nextStanza,
  nextStatus,
  startEjabberd,
  type EjabberdHandle,
  type TestClient,
  type TestComponent,
} from "./index.js";

const isMessageWithBody = (body: string) => (s: { is(n: string): boolean; getChildText(n: string): string | null }) =>
  s.is("message") && s.getChildText("body") === body;

const alive = (pid: number | undefined) => pid !== undefined && existsSync(`/proc/${pid}`);

describe("ejabberd test harness", () => {
  let ej: EjabberdHandle;
  let other: EjabberdHandle;
  const open: Array<TestClient | TestComponent> = [];
  const login = async (username: string, password: string) => {
    const c = await connectClient({ service: ej.c2sService, domain: ej.host, username, password });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    const t0 = performance.now();
    // Two at once, as parallel test files do: unique node names share one epmd.
    [ej, other] = await Promise.all([startEjabberd(), startEjabberd({ componentDomain: "mls2.localhost", componentSecret: "s3cret" })]);
    console.log(`harness: two ejabberds started in ${(performance.now() - t0).toFixed(0)} ms`);
  }, 180_000); // may include apt-get install on a fresh machine

  afterAll(async () => {
    for (const c of open) {
      c.reconnect.stop();
      await c.stop().catch(() => undefined);
    }
    await ej?.stop();
    await other?.stop();
  });

  it("runs on its own loopback ports and Erlang node, with an ejabberd_service listener", () => {
    expect(new Set([ej.c2sPort, ej.componentPort, other.c2sPort, other.componentPort]).size).toBe(4);
    expect(ej.nodeName).toMatch(/^xmbtest[0-9a-f]+@localhost$/);
    expect(other.nodeName).not.toBe(ej.nodeName);
    expect(ej.c2sService).toBe(`xmpp://127.0.0.1:${ej.c2sPort}`);
    expect(ej.componentDomain).toBe("mls.localhost");
    expect(ej.componentSecret).toMatch(/^[0-9a-f]{32}$/);
    expect(other.componentSecret).toBe("s3cret");
    expect(ej.running && other.running).toBe(true);
  });

  it("registers users (one or many); they log in with PLAIN and exchange a message", async () => {
    await ej.createUser("alice", "alice-pw");
    await ej.createUsers([
      { username: "bob", password: "bob-pw" },
      { username: "carol", password: `q"uo'te\\d` },
    ]);
    await expect(ej.createUser("alice", "again")).rejects.toThrow(/exists/);
    const alice = await login("alice", "alice-pw");
    const bob = await login("bob", "bob-pw");
    expect((await login("carol", `q"uo'te\\d`)).status).toBe("online");
    expect(alice.saslMechanism).toBe("PLAIN");

    await bob.send(xml("presence"));
    const received = nextStanza(bob, isMessageWithBody("hello bob"));
    await alice.send(xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, "hello bob")));
    expect((await received).attrs["from"]).toBe(alice.jid?.toString());

    await expect(connectClient({ service: ej.c2sService, domain: ej.host, username: "alice", password: "wrong" })).rejects.toThrow(/not-authorized/);
    // The other instance has its own accounts.
    await expect(connectClient({ service: other.c2sService, domain: other.host, username: "alice", password: "alice-pw" })).rejects.toThrow(
      /not-authorized/,
    );
  });

  let component: TestComponent;

  it("an XEP-0114 component connects with the secret and receives messages to its domain; a wrong secret is refused", async () => {
    component = await connectComponent({ service: ej.componentService, domain: ej.componentDomain, secret: ej.componentSecret, reconnectDelayMs: 50 });
    open.push(component);
    const alice = await login("alice", "alice-pw");
    const received = nextStanza(component, isMessageWithBody("to the component"));
    await alice.send(xml("message", { to: "anything@mls.localhost" }, xml("body", {}, "to the component")));
    expect((await received).attrs["from"]).toBe(alice.jid?.toString());

    await expect(
      connectComponent({ service: other.componentService, domain: other.componentDomain, secret: "wrong", timeoutMs: 5_000 }),
    ).rejects.toThrow(/not-authorized/);
  });

  it("restart() keeps ports and accounts (Mnesia); the component reconnects", async () => {
    const ports = [ej.c2sPort, ej.componentPort];
    const pidBefore = ej.pid;
    const back = nextStatus(component, "online", 20_000);
    await ej.restart();
    expect([ej.c2sPort, ej.componentPort]).toEqual(ports);
    expect(ej.pid).not.toBe(pidBefore);
    expect(alive(pidBefore)).toBe(false);
    await back;
    const bob = await login("bob", "bob-pw");
    const received = nextStanza(component, isMessageWithBody("after restart"));
    await bob.send(xml("message", { to: "room@mls.localhost" }, xml("body", {}, "after restart")));
    expect((await received).attrs["from"]).toBe(bob.jid?.toString());
  }, 30_000);

  it("kill() simulates a crash; restart() brings it back with its accounts", async () => {
    await ej.kill("SIGKILL");
    expect(ej.running).toBe(false);
    expect(await canConnect(ej.c2sPort)).toBe(false);
    await ej.restart();
    expect((await login("alice", "alice-pw")).status).toBe("online");
  }, 30_000);

  it("stop() ends the Erlang VM and removes the temp dir", async () => {
    const { dir, c2sPort, pid } = ej;
    for (const c of open.splice(0)) {
      c.reconnect.stop();
      await c.stop().catch(() => undefined);
    }
    await ej.stop();
    expect(ej.running).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(await canConnect(c2sPort)).toBe(false);
    await ej.stop(); // idempotent
    expect(other.running).toBe(true); // the other instance is untouched
  }, 30_000);
});
