// Helpers for the MUC integration tests: our component, in process, against
// the harness's private Prosody.

import { randomUUID } from "node:crypto";
import { xml, type Element } from "@xmpp/xml";

import { ConfigSchema, createLogger, type Config } from "../../../config/index.js";
import { startComponent, type RunningComponent } from "../../../component/main.js";
import { connectClient, nextStanza, type ProsodyHandle, type TestClient } from "../harness/index.js";

export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
export const NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export function componentConfig(prosody: ProsodyHandle, dbPath: string): Config {
  return ConfigSchema.parse({
    component: {
      domain: prosody.componentDomain,
      secret: prosody.componentSecret,
      server: `127.0.0.1:${prosody.componentPort}`,
      reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
    },
    store: { path: dbPath },
    log: { level: process.env["XMB_TEST_LOG"] === "1" ? "debug" : "silent", format: "pretty" },
    http: { listen: "off" },
    rooms: { defaultKind: "group" },
  });
}

export async function startOurComponent(prosody: ProsodyHandle, dbPath: string): Promise<RunningComponent> {
  const config = componentConfig(prosody, dbPath);
  // These tests cover the XEP-0045 layer alone; the MLS layer has its own suites.
  const c = await startComponent(config, { logger: createLogger(config.log), withoutMls: true });
  await c.connection.waitOnline(10_000);
  return c;
}

export async function login(prosody: ProsodyHandle, username: string, resource: string): Promise<TestClient> {
  const c = await connectClient({ service: prosody.c2sService, domain: prosody.host, username, password: "pw", resource });
  await c.send(xml("presence"));
  return c;
}

/** Sends an iq and resolves with the response (result or error) — errors are not thrown, to inspect them. */
export async function request(client: TestClient, to: string, type: "get" | "set", payload: Element, timeoutMs = 5_000): Promise<Element> {
  const id = randomUUID();
  const reply = nextStanza(client, (s) => s.is("iq") && s.attrs["id"] === id && (s.attrs["type"] === "result" || s.attrs["type"] === "error"), timeoutMs);
  await client.send(xml("iq", { to, type, id }, payload));
  return reply;
}

/** Collects every stanza the client receives until stop(). */
export function collect(client: TestClient): { stanzas: Element[]; stop(): void } {
  const stanzas: Element[] = [];
  const on = (s: Element) => void stanzas.push(s);
  client.on("stanza", on);
  return { stanzas, stop: () => void client.removeListener("stanza", on) };
}

export function errorCondition(s: Element): string | undefined {
  if (s.attrs["type"] !== "error") return undefined;
  return s.getChild("error")?.getChildElements().find((c) => c.getNS() === NS_STANZAS && c.name !== "text")?.name;
}

export function statusCodes(s: Element): number[] {
  return (s.getChild("x", NS_MUC_USER)?.getChildren("status") ?? []).map((c) => Number(c.attrs["code"]));
}

export function mucItem(s: Element): Record<string, string> | undefined {
  return s.getChild("x", NS_MUC_USER)?.getChild("item")?.attrs;
}

/** Joins and resolves with the self-presence (or the error presence). */
export async function joinRoom(client: TestClient, occupantJid: string, ...extra: Element[]): Promise<Element> {
  const self = nextStanza(
    client,
    (s) => s.is("presence") && (s.attrs["type"] === "error" ? s.attrs["from"] === occupantJid : statusCodes(s).includes(110)),
  );
  await client.send(xml("presence", { to: occupantJid }, xml("x", { xmlns: NS_MUC }), ...extra));
  return self;
}

export async function waitFor(cond: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
