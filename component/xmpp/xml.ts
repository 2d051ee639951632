// XML helpers on @xmpp/xml (ltx) elements.

import { Element, xml } from "@xmpp/xml";

export { Element, xml };

/** A deep copy, detached from any parent. */
export function cloneElement(el: Element): Element {
  const copy = new Element(el.name, { ...el.attrs });
  for (const child of el.children) {
    copy.append(typeof child === "string" ? child : cloneElement(child));
  }
  return copy;
}

/** The text of the first child `name` (in `ns`, if given), or undefined if there is no such child. */
export function childText(el: Element, name: string, ns?: string): string | undefined {
  const child = ns === undefined ? el.getChild(name) : el.getChild(name, ns);
  return child ? child.getText() : undefined;
}

/** The stanza's attribute, or undefined when absent. */
export function attr(el: Element, name: string): string | undefined {
  const v = el.attrs[name];
  return typeof v === "string" ? v : undefined;
}
