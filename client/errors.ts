// Typed errors of the client SDK. Callers switch on `code` (and, for stanza
// errors, on `condition` / `mlsCondition`), never on the message text.

import type { Element } from "@xmpp/xml";

import { NS } from "./ns.js";

export type ClientErrorCode =
  /** Connecting or staying connected failed. */
  | "connection"
  /** SASL authentication failed or no acceptable mechanism. */
  | "auth"
  /** A request got no answer in time, or a wait ran out. */
  | "timeout"
  /** The server or the service answered with a stanza error (see condition / mlsCondition). */
  | "stanza"
  /** The service sent something that does not follow docs/protocol.md. */
  | "protocol"
  /** The MLS library refused an operation or a message (see cause). */
  | "mls"
  /** The local state file could not be read or written. */
  | "storage"
  /** This device is not a member of the room's MLS group. */
  | "not-member"
  /** This device was removed from the room's MLS group (or its Remove is pending). */
  | "removed"
  /** The client was closed. */
  | "closed"
  /** A bad argument from the caller (a malformed JID, an unknown room...). */
  | "invalid-argument"
  /** A check that protects the user failed (external sender key, identity, signature key). */
  | "verification"
  /** The room already exists, or another state conflict. */
  | "conflict"
  /** The room was destroyed (XEP-0045 §10.9): what was waiting on it will not happen. */
  | "destroyed"
  /**
   * The service does not answer: the XMPP server could not route to it (the
   * component is down or not reconnected yet). Rejoins retry it (see condition).
   */
  | "unreachable";

export interface ClientErrorDetails {
  /** The RFC 6120 defined condition, e.g. "conflict", "forbidden". */
  readonly condition?: string | undefined;
  /** The error type: cancel, continue, modify, auth, wait. */
  readonly type?: string | undefined;
  /** The application-specific condition in urn:xmpp:mls:0, e.g. "epoch-mismatch". */
  readonly mlsCondition?: string | undefined;
  /** Attributes of the application-specific condition (current-epoch, max, reason...). */
  readonly mlsAttrs?: Readonly<Record<string, string>> | undefined;
  /** For <missing-proposals/>: the missing seqs. */
  readonly missingSeqs?: readonly number[] | undefined;
  /** The <text/> of the error. */
  readonly text?: string | undefined;
  readonly room?: string | undefined;
  readonly cause?: unknown;
}

export class ClientError extends Error {
  override readonly name = "ClientError";
  readonly condition: string | undefined;
  readonly type: string | undefined;
  readonly mlsCondition: string | undefined;
  readonly mlsAttrs: Readonly<Record<string, string>>;
  readonly missingSeqs: readonly number[];
  readonly text: string | undefined;
  readonly room: string | undefined;

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    details: ClientErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.condition = details.condition;
    this.type = details.type;
    this.mlsCondition = details.mlsCondition;
    this.mlsAttrs = details.mlsAttrs ?? {};
    this.missingSeqs = details.missingSeqs ?? [];
    this.text = details.text;
    this.room = details.room;
  }

  /** The `current-epoch` of an epoch-mismatch / stale-epoch condition. */
  get currentEpoch(): number | undefined {
    const v = this.mlsAttrs["current-epoch"];
    return v === undefined ? undefined : Number(v);
  }
}

export function isClientError(e: unknown, code?: ClientErrorCode): e is ClientError {
  return e instanceof ClientError && (code === undefined || e.code === code);
}

/** Parses the `<error/>` child of a stanza into a ClientError (code "stanza"). */
export function stanzaError(stanza: Element, what: string, room?: string): ClientError {
  const err = stanza.is("error") ? stanza : stanza.getChild("error");
  if (!err) return new ClientError("protocol", `${what}: error stanza without <error/>`, { room });
  let condition: string | undefined;
  let text: string | undefined;
  let mlsCondition: string | undefined;
  let mlsAttrs: Record<string, string> = {};
  const missing: number[] = [];
  for (const child of err.getChildElements()) {
    const ns = child.getNS();
    if (ns === NS.STANZAS) {
      if (child.name === "text") text = child.getText();
      else condition ??= child.name;
    } else if (ns === NS.MLS) {
      mlsCondition ??= child.name;
      mlsAttrs = { ...child.attrs };
      delete mlsAttrs["xmlns"];
      if (child.name === "missing-proposals") {
        for (const p of child.getChildren("proposal")) {
          const s = Number(p.attrs["seq"]);
          if (Number.isSafeInteger(s)) missing.push(s);
        }
      }
    }
  }
  const parts = [condition ?? "undefined-condition", mlsCondition && `mls:${mlsCondition}`, text && `(${text})`].filter(Boolean);
  return new ClientError("stanza", `${what}: ${parts.join(" ")}`, {
    condition,
    type: err.attrs["type"],
    mlsCondition,
    mlsAttrs,
    missingSeqs: missing,
    text,
    room,
  });
}

/** Wraps anything thrown into a ClientError (keeping ClientErrors as they are). */
export function toClientError(e: unknown, code: ClientErrorCode, what: string, room?: string): ClientError {
  if (e instanceof ClientError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new ClientError(code, `${what}: ${msg}`, { cause: e, room });
}
