// Parses one serialized stanza (the fake network re-parses every stanza it carries).
import type { Element } from "@xmpp/xml";
import Parser from "@xmpp/xml/lib/Parser.js";

export default function parseXml(text: string): Element {
  const p = new Parser();
  let root: Element | undefined;
  let error: Error | undefined;
  p.on("start", (el) => (root = el));
  p.on("element", (el) => root?.append(el));
  p.on("error", (e) => (error ??= e));
  p.write(text);
  p.end();
  if (error || !root) throw error ?? new Error("no element");
  return root;
}
