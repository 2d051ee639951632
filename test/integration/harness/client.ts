// Tiny XMPP helpers for tests: a client that logs in with SASL PLAIN, a raw
// XEP-0114 component, and "wait for the next stanza like this".
//
// Why force PLAIN: @xmpp/client 0.14 picks the mechanism in
// lib/createOnAuthenticate.js: on a connection that is not TLS it takes the
// first offered mechanism other than PLAIN, i.e. SCRAM-SHA-1, whose PBKDF2 in
// pure JS costs ~0.5 s of CPU per login. Passing `credentials` as a function
// replaces that choice: we call authenticate(creds, "PLAIN") ourselves.
// Over loopback to the harness's Prosody (allow_unencrypted_plain_auth) a
// login then takes a few tens of milliseconds.

import { client, type Client } from "@xmpp/client";
import { component, type Component } from "@xmpp/component";
import type { Element } from "@xmpp/xml";

export interface ConnectClientOptions {
  /** "xmpp://127.0.0.1:<port>" (ProsodyHandle.c2sService). */
  service: string;
  /** The VirtualHost (ProsodyHandle.host). */
  domain: string;
  username: string;
  password: string;
  /** Default: random (xmpp.js asks the server to pick). */
  resource?: string;
  /** Reconnect on disconnect, as xmpp.js does by default. Default false: tests say when. */
  reconnect?: boolean;
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
}

export type TestClient = Client & {
  /** Milliseconds from start() to online (TCP + stream + SASL PLAIN + bind). */
  readonly loginMs: number;
  /** The SASL mechanism used for the login (always "PLAIN"). */
  readonly saslMechanism: string;
  /** Errors the entity emitted (kept so an 'error' event never crashes the test process). */
  readonly errors: Error[];
};

/** Connects and logs in with SASL PLAIN; resolves once online (resource bound). */
export async function connectClient(options: ConnectClientOptions): Promise<TestClient> {
  const { username, password } = options;
  let saslMechanism = "";
  const xmpp = client({
    service: options.service,
    domain: options.domain,
    ...(options.resource !== undefined ? { resource: options.resource } : {}),
    credentials: async (authenticate, mechanisms) => {
      if (!mechanisms.includes("PLAIN")) {
        throw new Error(
          `server offers no SASL PLAIN to ${username}@${options.domain} (offered: ${mechanisms.join(", ") || "none"}); ` +
            "the harness config sets allow_unencrypted_plain_auth = true",
        );
      }
      saslMechanism = "PLAIN";
      await authenticate({ username, password }, saslMechanism);
    },
  });
  const errors: Error[] = [];
  xmpp.on("error", (e: Error) => errors.push(e));
  if (!options.reconnect) xmpp.reconnect.stop();

  const t0 = performance.now();
  try {
    await withTimeout(xmpp.start(), options.timeoutMs ?? 10_000, `login of ${username}@${options.domain} via ${options.service}`);
  } catch (e) {
    xmpp.reconnect.stop();
    await xmpp.stop().catch(() => undefined);
    throw e;
  }
  return Object.assign(xmpp, { loginMs: performance.now() - t0, saslMechanism, errors });
}

export interface ConnectComponentOptions {
  /** "xmpp://127.0.0.1:<port>" (ProsodyHandle.componentService). */
  service: string;
  domain: string;
  secret: string;
  /** Reconnect delay in ms while the server is away (xmpp.js default 1000). */
  reconnectDelayMs?: number;
  timeoutMs?: number;
}

export type TestComponent = Component & { readonly errors: Error[] };

/** A bare XEP-0114 component connection (reconnecting), for tests that need a fake service. */
export async function connectComponent(options: ConnectComponentOptions): Promise<TestComponent> {
  const xmpp = component({ service: options.service, domain: options.domain, password: options.secret });
  const errors: Error[] = [];
  xmpp.on("error", (e: Error) => errors.push(e));
  if (options.reconnectDelayMs !== undefined) xmpp.reconnect.delay = options.reconnectDelayMs;
  try {
    await withTimeout(xmpp.start(), options.timeoutMs ?? 10_000, `component ${options.domain} via ${options.service}`);
    // As the product's connection (component/connection.ts): no Nagle, so that a write at a
    // steady rate does not wait for the server's delayed ACK (stanza-cost.ts writes through this).
    (xmpp as { socket?: { setNoDelay?: (on: boolean) => unknown } }).socket?.setNoDelay?.(true);
  } catch (e) {
    xmpp.reconnect.stop();
    await xmpp.stop().catch(() => undefined);
    throw e;
  }
  return Object.assign(xmpp, { errors });
}

/** Resolves with the next stanza `entity` receives that matches, or rejects after `timeoutMs`. */
export function nextStanza(
  entity: Client | Component,
  match: (stanza: Element) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<Element> {
  return new Promise((resolve, reject) => {
    const onStanza = (stanza: Element) => {
      if (!match(stanza)) return;
      clearTimeout(timer);
      entity.removeListener("stanza", onStanza);
      resolve(stanza);
    };
    const timer = setTimeout(() => {
      entity.removeListener("stanza", onStanza);
      reject(new Error(`no matching stanza within ${timeoutMs} ms`));
    }, timeoutMs);
    entity.on("stanza", onStanza);
  });
}

/** Resolves once `entity` reports `status` (e.g. "online" after a reconnect). */
export function nextStatus(entity: Client | Component, status: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const onStatus = (s: string) => {
      if (s !== status) return;
      clearTimeout(timer);
      entity.removeListener("status", onStatus);
      resolve();
    };
    const timer = setTimeout(() => {
      entity.removeListener("status", onStatus);
      reject(new Error(`status '${status}' not reached within ${timeoutMs} ms (now '${entity.status}')`));
    }, timeoutMs);
    entity.on("status", onStatus);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
