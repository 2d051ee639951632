import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { createLogger } from "../../config/index.js";
import { backoffDelay } from "../../component/backoff.js";
import { ComponentConnection, NotConnectedError, serviceUri, type EntityParams, type XmppEntity } from "../../component/connection.js";
import { xml, type Element } from "../../component/xmpp/xml.js";

describe("backoffDelay", () => {
  const opts = { initialDelayMs: 100, maxDelayMs: 1_000 };

  it("doubles from the initial delay up to the maximum, with jitter in [cap/2, cap]", () => {
    expect([0, 1, 2, 3, 4, 10, 2000].map((n) => backoffDelay(n, opts, () => 0.999999))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, opts, () => 0))).toEqual([50, 100, 200, 400, 500]);
    for (let i = 0; i < 200; i += 1) {
      const d = backoffDelay(3, opts);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });
});

describe("serviceUri", () => {
  it("builds xmpp:// URIs, bracketing IPv6", () => {
    expect(serviceUri("127.0.0.1:5347")).toBe("xmpp://127.0.0.1:5347");
    expect(serviceUri("[::1]:5347")).toBe("xmpp://[::1]:5347");
  });
});

class FakeEntity extends EventEmitter implements XmppEntity {
  status = "offline";
  sent: Element[] = [];
  stopped = false;
  private settle!: { resolve: () => void; reject: (e: Error) => void };

  constructor(readonly params: EntityParams) {
    super();
  }
  start(): Promise<unknown> {
    this.status = "connecting";
    return new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
  }
  succeed(): void {
    this.status = "online";
    this.settle.resolve();
  }
  fail(message: string, condition?: string): void {
    this.status = "offline";
    this.settle.reject(Object.assign(new Error(message), condition ? { condition } : {}));
  }
  drop(): void {
    this.status = "disconnect";
    this.emit("status", "disconnect");
  }
  async stop(): Promise<unknown> {
    this.stopped = true;
    return undefined;
  }
  async send(element: Element): Promise<void> {
    this.sent.push(element);
  }
}

const SECRET = "s3cr3t-do-not-log";

describe("ComponentConnection", () => {
  let entities: FakeEntity[];
  let lines: string[];
  let conn: ComponentConnection;

  beforeEach(() => {
    vi.useFakeTimers();
    entities = [];
    lines = [];
    const logger = createLogger({ level: "debug", format: "json" }, { destination: { write: (s: string) => void lines.push(s) } });
    conn = new ComponentConnection({
      server: "127.0.0.1:5347",
      domain: "mls.example.org",
      secret: SECRET,
      reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
      logger,
      random: () => 0.999999,
      createEntity: (p) => {
        const e = new FakeEntity(p);
        entities.push(e);
        return e;
      },
    });
  });
  afterEach(async () => {
    await conn.stop();
    vi.useRealTimers();
  });

  const flush = () => vi.advanceTimersByTimeAsync(0);

  it("connects, routes stanzas, reconnects with exponential backoff after a drop, and never logs the secret", async () => {
    const events: string[] = [];
    conn.on("online", () => void events.push("online"));
    conn.on("offline", ({ reason }) => void events.push(`offline:${reason}`));
    const stanzas: Element[] = [];
    conn.on("stanza", (s) => void stanzas.push(s));

    await expect(conn.send(xml("message"))).rejects.toBeInstanceOf(NotConnectedError);
    conn.start();
    expect(entities).toHaveLength(1);
    expect(entities[0]?.params).toEqual({ service: "xmpp://127.0.0.1:5347", domain: "mls.example.org", secret: SECRET });
    entities[0]?.succeed();
    await flush();
    expect(conn.state).toBe("online");
    expect(events).toEqual(["online"]);

    await conn.send(xml("message", { to: "a@b" }));
    expect(entities[0]?.sent[0]?.attrs["from"]).toBe("mls.example.org");
    entities[0]?.emit("stanza", xml("iq", { id: "1" }));
    expect(stanzas).toHaveLength(1);

    entities[0]?.drop();
    expect(events).toEqual(["online", "offline:connection disconnect"]);
    expect(conn.state).toBe("waiting");
    await expect(conn.send(xml("message"))).rejects.toThrow(/not connected/);

    // Retry 1 after ~100 ms; it fails; retry 2 after ~200 ms; it fails; retry 3 after ~400 ms succeeds.
    await vi.advanceTimersByTimeAsync(99);
    expect(entities).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(entities).toHaveLength(2);
    entities[1]?.fail("connect ECONNREFUSED");
    await flush();
    await vi.advanceTimersByTimeAsync(199);
    expect(entities).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(entities).toHaveLength(3);
    entities[2]?.fail("not-authorized", "not-authorized");
    await flush();
    await vi.advanceTimersByTimeAsync(400);
    expect(entities).toHaveLength(4);
    entities[3]?.succeed();
    await flush();
    expect(events).toEqual(["online", "offline:connection disconnect", "online"]);
    expect(entities.slice(0, 3).every((e) => e.stopped)).toBe(true);

    // After success the backoff starts over.
    entities[3]?.drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(entities).toHaveLength(5);

    const log = lines.join("");
    expect(log).not.toContain(SECRET);
    expect(log).toMatch(/refused the handshake/);
    expect(log).toMatch(/reconnecting after a delay/);
  });

  it("gives up an attempt that hangs, and stop() ends reconnecting", async () => {
    conn.start();
    await vi.advanceTimersByTimeAsync(10_000); // connect timeout
    expect(entities[0]?.stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(entities).toHaveLength(2);
    await conn.stop();
    expect(conn.state).toBe("stopped");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(entities).toHaveLength(2);
  });

  it("a drop while connecting fails the attempt at once (no wait for the connect timeout)", async () => {
    conn.start();
    entities[0]?.drop();
    expect(entities[0]?.stopped).toBe(true);
    expect(conn.state).toBe("waiting");
    await vi.advanceTimersByTimeAsync(100);
    expect(entities).toHaveLength(2);
  });

  it("ignores stanzas and drops from an attempt that is no longer current", async () => {
    conn.start();
    entities[0]?.succeed();
    await flush();
    const old = entities[0] as FakeEntity;
    old.drop();
    await vi.advanceTimersByTimeAsync(100);
    entities[1]?.succeed();
    await flush();
    const stanzas: Element[] = [];
    conn.on("stanza", (s) => void stanzas.push(s));
    old.emit("stanza", xml("message"));
    old.drop();
    expect(stanzas).toEqual([]);
    expect(conn.state).toBe("online");
  });
});
