/**
 * Failures of `urn:xmpp:mls:0` requests, by their application-specific
 * condition (docs/protocol.md §8.1). The component maps each condition to its
 * stanza error type and RFC 6120 condition in one place; nothing here knows XML.
 */
export type ProtocolCondition =
  | "bad-base64"
  | "malformed-message"
  | "wrong-kind"
  | "wrong-group"
  | "epoch-mismatch"
  | "stale-epoch"
  | "missing-proposals"
  | "not-a-member"
  | "identity-mismatch"
  | "invalid-signature"
  | "invalid-commit"
  | "invalid-group-info"
  | "invalid-key-package"
  | "too-large"
  | "quota-exceeded"
  | "unbound-room"
  | "already-bound"
  | "permission-denied"
  | "unknown-device"
  | "mls-required"
  | "history-expired"
  | "rate-limited";

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly condition: ProtocolCondition,
    text: string,
    /** Attributes of the condition element (reason, index, current-epoch, max, oldest...). */
    readonly attrs: Readonly<Record<string, string>> = {},
    /** For missing-proposals: the seqs of the proposals not referenced. */
    readonly missingSeqs: readonly bigint[] = [],
  ) {
    super(text);
  }
}

export function refuse(condition: ProtocolCondition, text: string, attrs: Record<string, string> = {}): never {
  throw new ProtocolError(condition, text, attrs);
}
