// A component without a network: the real service (router, handlers, rooms)
// over an in-memory store, with a fake `send` that records what goes out.

import { pino } from "pino";

import type { RoomKind } from "../../mapping/store/index.js";
import { openSqliteStore, type SqliteStore } from "../../mapping/store/index.js";
import type { RoomEventMap } from "../../component/rooms/events.js";
import { createService, type Service } from "../../component/service.js";
import { NS } from "../../component/xmpp/ns.js";
import { xml, type Element } from "../../component/xmpp/xml.js";
import { nativeProvider } from "../../mls/node.js";

export const DOMAIN = "mls.example.org";
export const ALICE = "alice@example.org/laptop";
export const ALICE2 = "alice@example.org/phone";
export const BOB = "bob@example.net/desktop";
export const CAROL = "carol@example.com/tablet";
export const DAVE = "dave@example.com/pc";

export type RecordedEvent = { [K in keyof RoomEventMap]: { name: K; payload: RoomEventMap[K][0] } }[keyof RoomEventMap];

export interface TestService {
  service: Service;
  store: SqliteStore;
  /** Everything sent, in order. */
  sent: Element[];
  events: RecordedEvent[];
  /** When set, send() rejects (as when offline). */
  offline: boolean;
  /** Dispatches a stanza; returns what was sent while handling it. */
  deliver(stanza: Element): Promise<Element[]>;
  close(): Promise<void>;
}

/** MLS options of a test service (small limits keep tests fast). */
export const TEST_MLS = {
  provider: nativeProvider,
  cipherSuite: 1,
  maxEpochLag: 2,
  keyPackageLowWater: 10,
  keyPackagesPerDevice: 100,
  occupancyGraceSeconds: 0,
  maxStanzaBytes: 256 * 1024,
  maxMessageBytes: 128 * 1024,
  maxMessagesPerCatchUp: 500,
  retentionDays: 30,
};

export async function testService(options: { defaultKind?: RoomKind; now?: () => number; mls?: boolean } = {}): Promise<TestService> {
  const store = await openSqliteStore(":memory:");
  const sent: Element[] = [];
  const events: RecordedEvent[] = [];
  let ids = 0;
  const t: TestService = {
    service: undefined as unknown as Service,
    store,
    sent,
    events,
    offline: false,
    async deliver(stanza) {
      const before = sent.length;
      await t.service.dispatch(stanza);
      // An application message's fan-out follows its write, after the handler (group commit).
      await t.service.mls?.idle();
      return sent.slice(before);
    },
    close: () => store.close(),
  };
  t.service = createService({
    domain: DOMAIN,
    defaultKind: options.defaultKind ?? "group",
    store,
    send: async (s) => {
      if (t.offline) throw new Error("offline");
      // What the wire would carry: a serialized copy.
      sent.push(s);
    },
    logger: pino({ level: "silent" }),
    newId: () => `id-${++ids}`,
    ...(options.now ? { now: options.now } : {}),
    ...(options.mls ? { mls: TEST_MLS } : {}),
  });
  if (options.mls) await t.service.start();
  for (const name of ["room-created", "room-destroyed", "room-config-changed", "occupant-joined", "occupant-left", "affiliation-changed", "subject-changed"] as const) {
    const record = (payload: unknown) => void events.push({ name, payload } as RecordedEvent);
    t.service.host.events.on(name, record as never);
  }
  return t;
}

// --- stanza builders ----------------------------------------------------------

let counter = 0;
const nextId = () => `s${++counter}`;

export function join(from: string, occupantJid: string, ...extra: Element[]): Element {
  return xml("presence", { from, to: occupantJid, id: nextId() }, xml("x", { xmlns: NS.MUC }), ...extra);
}

export function leave(from: string, occupantJid: string, ...extra: Element[]): Element {
  return xml("presence", { from, to: occupantJid, type: "unavailable", id: nextId() }, ...extra);
}

export function iq(from: string, to: string, type: "get" | "set", payload: Element, id = nextId()): Element {
  return xml("iq", { from, to, type, id }, payload);
}

export function groupchat(from: string, room: string, body: string, ...extra: Element[]): Element {
  return xml("message", { from, to: room, type: "groupchat", id: nextId() }, xml("body", {}, body), ...extra);
}

export function adminQuery(...items: Element[]): Element {
  return xml("query", { xmlns: NS.MUC_ADMIN }, ...items);
}

export function item(attrs: Record<string, string>, reason?: string): Element {
  return xml("item", attrs, reason !== undefined ? xml("reason", {}, reason) : null);
}

// --- reading stanzas ------------------------------------------------------------

export function statusCodes(stanza: Element): number[] {
  const x = stanza.getChild("x", NS.MUC_USER);
  return x ? x.getChildren("status").map((s) => Number(s.attrs["code"])) : [];
}

export function mucItem(stanza: Element): Record<string, string> | undefined {
  return stanza.getChild("x", NS.MUC_USER)?.getChild("item")?.attrs;
}

export function errorCondition(stanza: Element): string | undefined {
  if (stanza.attrs["type"] !== "error") return undefined;
  const error = stanza.getChild("error");
  return error?.getChildElements().find((c) => c.getNS() === NS.STANZAS && c.name !== "text")?.name;
}

export function errorType(stanza: Element): string | undefined {
  return stanza.getChild("error")?.attrs["type"];
}

/** A one-line summary: "presence mls@x/nick -> alice@... [110,201] aff=owner role=moderator". */
export function summary(s: Element): string {
  const codes = statusCodes(s);
  const it = mucItem(s);
  const cond = errorCondition(s);
  return [
    s.name + (s.attrs["type"] ? `(${s.attrs["type"]})` : ""),
    `${s.attrs["from"]} -> ${s.attrs["to"]}`,
    codes.length ? `[${codes.join(",")}]` : "",
    it ? `${it["affiliation"]}/${it["role"]}` : "",
    cond ? `!${cond}` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

export function to(stanzas: Element[], jid: string): Element[] {
  return stanzas.filter((s) => s.attrs["to"] === jid);
}
