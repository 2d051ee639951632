// XEP-0004 data forms: just what room configuration and disco extensions need.

import { NS } from "./ns.js";
import { stanzaError } from "./stanza-error.js";
import { attr, xml, type Element } from "./xml.js";

export type FormType = "form" | "submit" | "cancel" | "result";

export interface FormField {
  var?: string;
  type?: "boolean" | "fixed" | "hidden" | "jid-multi" | "jid-single" | "list-multi" | "list-single" | "text-multi" | "text-private" | "text-single";
  label?: string;
  values?: readonly string[];
  options?: ReadonlyArray<{ label?: string; value: string }>;
}

export function buildForm(type: FormType, fields: readonly FormField[], extra: { title?: string; instructions?: string } = {}): Element {
  const x = xml("x", { xmlns: NS.DATA, type });
  if (extra.title !== undefined) x.append(xml("title", {}, extra.title));
  if (extra.instructions !== undefined) x.append(xml("instructions", {}, extra.instructions));
  for (const f of fields) {
    const attrs: Record<string, string> = {};
    if (f.var !== undefined) attrs["var"] = f.var;
    if (f.type !== undefined) attrs["type"] = f.type;
    if (f.label !== undefined) attrs["label"] = f.label;
    const field = xml("field", attrs);
    for (const v of f.values ?? []) field.append(xml("value", {}, v));
    for (const o of f.options ?? []) field.append(xml("option", o.label !== undefined ? { label: o.label } : {}, xml("value", {}, o.value)));
    x.append(field);
  }
  return x;
}

/** A hidden FORM_TYPE field. */
export function formTypeField(formType: string): FormField {
  return { var: "FORM_TYPE", type: "hidden", values: [formType] };
}

export interface ParsedForm {
  type: string;
  /** var -> values, in document order. Fields without 'var' are left out. */
  fields: Map<string, string[]>;
}

/** Reads a submitted form. Throws bad-request on a field listed twice. */
export function parseForm(x: Element): ParsedForm {
  const fields = new Map<string, string[]>();
  for (const field of x.getChildren("field")) {
    const name = attr(field, "var");
    if (name === undefined) continue;
    if (fields.has(name)) throw stanzaError("bad-request", `field '${name}' appears twice`);
    fields.set(
      name,
      field.getChildren("value").map((v) => v.getText()),
    );
  }
  return { type: attr(x, "type") ?? "", fields };
}

/** XEP-0004 §3.3 boolean: "1"/"true" or "0"/"false". Undefined for anything else. */
export function parseBoolean(value: string | undefined): boolean | undefined {
  switch (value?.trim()) {
    case "1":
    case "true":
      return true;
    case "0":
    case "false":
      return false;
    default:
      return undefined;
  }
}
