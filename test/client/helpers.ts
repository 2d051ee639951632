// Test world for the client SDK: a fake network, a fake DS and clients with
// their own temp state directories.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { MlsClient, type MlsClientOptions } from "../../client/client.js";
import type { ClientError } from "../../client/errors.js";
import type { MembershipEvent, MessageEvent, MlsClientEvents, WarningEvent } from "../../client/types.js";
import { FakeDs, type FakeDsOptions } from "./fake-ds.js";
import { FakeNetwork, type FakeTransport } from "./fake-network.js";

export interface TestClient {
  readonly client: MlsClient;
  readonly transport: FakeTransport;
  readonly stateDir: string;
  readonly jid: string;
  readonly messages: MessageEvent[];
  readonly membership: MembershipEvent[];
  readonly errors: ClientError[];
  readonly warnings: WarningEvent[];
  readonly events: { name: string; payload: unknown }[];
}

export class World {
  readonly net = new FakeNetwork();
  readonly ds: FakeDs;
  private readonly dirs: string[] = [];
  private readonly clients: TestClient[] = [];
  /** Options every client opened here gets (before open()'s own). */
  clientDefaults: Partial<MlsClientOptions> = {};

  constructor(o: FakeDsOptions = {}) {
    this.ds = new FakeDs(this.net, o);
  }

  room(name: string): string {
    return `${name}@${this.ds.domain}`;
  }

  newStateDir(): string {
    const d = mkdtempSync(join(tmpdir(), "mls-client-test-"));
    this.dirs.push(d);
    return d;
  }

  /** Opens a client (a device) for `jid`; reuse `stateDir` to restart a device. */
  async open(jid: string, o: Partial<MlsClientOptions> & { stateDir?: string } = {}): Promise<TestClient> {
    const stateDir = o.stateDir ?? this.newStateDir();
    const transport = this.net.connectUser(jid);
    const client = await MlsClient.open({
      jid,
      stateDir,
      transport,
      commitDelayMs: 0,
      gapTimeoutMs: 100,
      welcomeWaitMs: 1000,
      iqTimeoutMs: 5000,
      sendTimeoutMs: 5000,
      joinTimeoutMs: 2000,
      mlsService: this.ds.domain,
      ...this.clientDefaults,
      ...o,
    });
    const tc: TestClient = { client, transport, stateDir, jid, messages: [], membership: [], errors: [], warnings: [], events: [] };
    client.on("message", (m) => tc.messages.push(m));
    client.on("membership", (m) => tc.membership.push(m));
    client.on("error", (e) => tc.errors.push(e));
    client.on("warning", (w) => tc.warnings.push(w));
    for (const name of ["joined", "removed", "invited", "sent", "left", "subject", "destroyed"] as const) {
      client.on(name, (p: MlsClientEvents[typeof name][0]) => tc.events.push({ name, payload: p }));
    }
    this.clients.push(tc);
    return tc;
  }

  async close(tc: TestClient): Promise<void> {
    await tc.client.close();
    const i = this.clients.indexOf(tc);
    if (i >= 0) this.clients.splice(i, 1);
  }

  async dispose(): Promise<void> {
    for (const c of [...this.clients]) await c.client.close().catch(() => undefined);
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** Polls `check` until it holds (or fails after `timeoutMs`). */
export async function until(check: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function texts(tc: TestClient, room?: string): string[] {
  return tc.messages.filter((m) => room === undefined || m.room === room).map((m) => m.text);
}

export async function settle(ms = 50): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}
