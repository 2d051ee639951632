// Type declaration for the XML parser of @xmpp/xml (the package ships no types;
// the main module is declared in types/xmpp.d.ts).
declare module "@xmpp/xml/lib/Parser.js" {
  import type { EventEmitter } from "node:events";
  import type { Element } from "@xmpp/xml";
  /** Streaming parser: "start" (root element), "element" (each complete child of the root), "end" (root closed), "error". */
  export default class Parser extends EventEmitter {
    constructor();
    write(data: string): void;
    end(data?: string): void;
    on(event: "start" | "element" | "end", listener: (el: Element) => void): this;
    on(event: "error", listener: (err: Error) => void): this;
  }
}
