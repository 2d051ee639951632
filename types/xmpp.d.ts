// Minimal type declarations for the xmpp.js packages, which ship none: one
// shared copy for component/, client/ and the tests (two `declare module`
// blocks for the same package would merge and clash). Widen as needed.

declare module "@xmpp/xml" {
  export type Attrs = Record<string, string | number | boolean | null | undefined>;
  export type Node = Element | string;

  export class Element {
    constructor(name: string, attrs?: Attrs);
    name: string;
    attrs: Record<string, string>;
    children: Node[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getAttr(name: string, xmlns?: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    c(name: string, attrs?: Attrs): Element;
    t(text: string): Element;
    up(): Element;
    root(): Element;
    append(...nodes: Node[]): Element;
    toString(): string;
  }

  export function xml(name: string, attrs?: Attrs | null, ...children: Array<Node | Node[] | null | undefined | false>): Element;
  export default xml;
}

declare module "@xmpp/client" {
  import type { EventEmitter } from "node:events";
  import type { Element } from "@xmpp/xml";

  export { xml } from "@xmpp/xml";

  export interface JID {
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    toString(): string;
    equals(other: JID): boolean;
  }

  export type ConnectionStatus =
    | "offline" | "connecting" | "connect" | "opening" | "open" | "online"
    | "closing" | "close" | "disconnecting" | "disconnect";

  /** The SASL step handed to a credentials function: authenticate(creds, mechanism). */
  export type Authenticate = (credentials: { username?: string; password?: string }, mechanism: string, userAgent?: Element) => Promise<void>;

  export interface ClientOptions {
    service?: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    lang?: string;
    timeout?: number;
    /** Either credentials or a function that picks the mechanism itself. */
    credentials?:
      | { username?: string; password?: string }
      | ((authenticate: Authenticate, mechanisms: string[], fast: unknown, entity: Client) => Promise<void>);
  }

  export interface Client extends EventEmitter {
    jid: JID | null;
    status: ConnectionStatus;
    options: ClientOptions;
    start(): Promise<JID>;
    stop(): Promise<void>;
    send(...elements: Element[]): Promise<void>;
    sendMany(elements: Element[]): Promise<void>;
    isSecure(): boolean;
    reconnect: EventEmitter & { delay: number; start(): void; stop(): void };
    iqCaller: {
      request(el: Element, timeout?: number): Promise<Element>;
      get(el: Element, to?: string, timeout?: number): Promise<Element>;
      set(el: Element, to?: string, timeout?: number): Promise<Element>;
    };
  }

  export function client(options?: ClientOptions): Client;
  export function jid(address: string): JID;
}

declare module "@xmpp/component" {
  import type { EventEmitter } from "node:events";
  import type { Element } from "@xmpp/xml";
  import type { ConnectionStatus, JID } from "@xmpp/client";

  export { xml } from "@xmpp/xml";

  export interface ComponentOptions {
    service: string;
    domain: string;
    password: string | ((authenticate: (secret: string) => Promise<void>) => Promise<void>);
  }

  export interface Component extends EventEmitter {
    jid: JID | null;
    status: ConnectionStatus;
    start(): Promise<JID>;
    stop(): Promise<void>;
    send(...elements: Element[]): Promise<void>;
    reconnect: EventEmitter & { delay: number; start(): void; stop(): void };
  }

  export function component(options: ComponentOptions): Component;
}
