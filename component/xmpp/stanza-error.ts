// Stanza errors as values (RFC 6120 §8.3).
//
// Handlers throw a StanzaError (or return one from a check); the router turns
// it into an error stanza in exactly one place (error-reply.ts). Nothing else
// in the component builds <error/> elements.

/** RFC 6120 §8.3.3 defined conditions. */
export const STANZA_ERROR_CONDITIONS = [
  "bad-request",
  "conflict",
  "feature-not-implemented",
  "forbidden",
  "gone",
  "internal-server-error",
  "item-not-found",
  "jid-malformed",
  "not-acceptable",
  "not-allowed",
  "not-authorized",
  "policy-violation",
  "recipient-unavailable",
  "redirect",
  "registration-required",
  "remote-server-not-found",
  "remote-server-timeout",
  "resource-constraint",
  "service-unavailable",
  "subscription-required",
  "undefined-condition",
  "unexpected-request",
] as const;
export type StanzaErrorCondition = (typeof STANZA_ERROR_CONDITIONS)[number];

/** RFC 6120 §8.3.2 */
export const STANZA_ERROR_TYPES = ["auth", "cancel", "continue", "modify", "wait"] as const;
export type StanzaErrorType = (typeof STANZA_ERROR_TYPES)[number];

/** The usual type of each condition (RFC 6120 §8.3.3 examples, XEP-0045 usage). */
export const DEFAULT_ERROR_TYPE: Readonly<Record<StanzaErrorCondition, StanzaErrorType>> = {
  "bad-request": "modify",
  conflict: "cancel",
  "feature-not-implemented": "cancel",
  forbidden: "auth",
  gone: "cancel",
  "internal-server-error": "cancel",
  "item-not-found": "cancel",
  "jid-malformed": "modify",
  "not-acceptable": "modify",
  "not-allowed": "cancel",
  "not-authorized": "auth",
  "policy-violation": "modify",
  "recipient-unavailable": "wait",
  redirect: "modify",
  "registration-required": "auth",
  "remote-server-not-found": "cancel",
  "remote-server-timeout": "wait",
  "resource-constraint": "wait",
  "service-unavailable": "cancel",
  "subscription-required": "auth",
  "undefined-condition": "cancel",
  "unexpected-request": "wait",
};

/** An application-specific condition element (RFC 6120 §8.3.4), e.g. <epoch-mismatch xmlns='urn:xmpp:mls:0' current-epoch='3'/>. */
export interface AppCondition {
  name: string;
  ns: string;
  attrs?: Readonly<Record<string, string>>;
  /** Empty child elements, e.g. <proposal seq='7'/> of <missing-proposals/>. */
  children?: readonly { readonly name: string; readonly attrs: Readonly<Record<string, string>> }[];
}

export interface StanzaErrorOptions {
  type?: StanzaErrorType;
  /** Human-readable, English, for the <text/> element. Never put secrets here. */
  text?: string;
  app?: AppCondition;
}

export class StanzaError extends Error {
  override readonly name = "StanzaError";
  readonly type: StanzaErrorType;
  readonly text: string | undefined;
  readonly app: AppCondition | undefined;

  constructor(
    readonly condition: StanzaErrorCondition,
    options: StanzaErrorOptions = {},
  ) {
    super(options.text ? `${condition}: ${options.text}` : condition);
    this.type = options.type ?? DEFAULT_ERROR_TYPE[condition];
    this.text = options.text;
    this.app = options.app;
  }
}

/** Shorthand: `throw stanzaError("forbidden", "only owners may do this")`. */
export function stanzaError(condition: StanzaErrorCondition, text?: string, options: Omit<StanzaErrorOptions, "text"> = {}): StanzaError {
  return new StanzaError(condition, text === undefined ? options : { ...options, text });
}

export function isStanzaError(e: unknown): e is StanzaError {
  return e instanceof StanzaError;
}
