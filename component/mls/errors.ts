// docs/protocol.md §8.1: each application condition of urn:xmpp:mls:0 with
// its stanza error type and RFC 6120 condition. The one place they are mapped.

import type { ProtocolCondition, ProtocolError } from "../../mapping/ds/protocol-error.js";
import { NS } from "../xmpp/ns.js";
import { StanzaError, type StanzaErrorCondition, type StanzaErrorType } from "../xmpp/stanza-error.js";

const TABLE: Readonly<Record<ProtocolCondition, [StanzaErrorType, StanzaErrorCondition]>> = {
  "bad-base64": ["modify", "bad-request"],
  "malformed-message": ["modify", "bad-request"],
  "wrong-kind": ["modify", "bad-request"],
  "wrong-group": ["modify", "bad-request"],
  "epoch-mismatch": ["wait", "conflict"],
  "stale-epoch": ["modify", "not-acceptable"],
  "missing-proposals": ["wait", "conflict"],
  "not-a-member": ["auth", "forbidden"],
  "identity-mismatch": ["auth", "forbidden"],
  "invalid-signature": ["modify", "not-acceptable"],
  "invalid-commit": ["modify", "not-acceptable"],
  "invalid-group-info": ["modify", "not-acceptable"],
  "invalid-key-package": ["modify", "not-acceptable"],
  "too-large": ["modify", "policy-violation"],
  "quota-exceeded": ["wait", "resource-constraint"],
  "unbound-room": ["wait", "item-not-found"],
  "already-bound": ["cancel", "conflict"],
  "permission-denied": ["auth", "forbidden"],
  "unknown-device": ["cancel", "item-not-found"],
  "mls-required": ["cancel", "not-acceptable"],
  "history-expired": ["cancel", "item-not-found"],
  "rate-limited": ["wait", "policy-violation"],
};

/** A StanzaError carrying the protocol condition (and, for missing-proposals, the seqs). */
export function toStanzaError(e: ProtocolError): StanzaError {
  const [type, condition] = TABLE[e.condition];
  return new StanzaError(condition, {
    type,
    text: e.message,
    app: {
      name: e.condition,
      ns: NS.MLS,
      attrs: e.attrs,
      ...(e.missingSeqs.length > 0 ? { children: e.missingSeqs.map((s) => ({ name: "proposal", attrs: { seq: String(s) } })) } : {}),
    },
  });
}

export function mlsError(condition: ProtocolCondition, text: string, attrs: Record<string, string> = {}): StanzaError {
  const [type, c] = TABLE[condition];
  return new StanzaError(c, { type, text, app: { name: condition, ns: NS.MLS, attrs } });
}
