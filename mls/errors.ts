/**
 * Typed errors with stable codes. Every failure the library reports is an
 * MlsError; callers switch on `code`, never on the message text.
 */

export type MlsErrorCode =
  // codec (RFC 9420 §2.1)
  | "Truncated"
  | "TrailingBytes"
  | "NonMinimalVarint"
  | "InvalidVarint"
  | "LengthOverflow"
  | "InvalidOptional"
  | "UnknownEnumValue"
  | "InvalidValue"
  // crypto
  | "UnsupportedCipherSuite"
  | "InvalidKey"
  | "DecryptionFailed"
  | "InvalidSignature"
  // framing (§6)
  | "WrongGroup"
  | "WrongEpoch"
  | "WrongWireFormat"
  | "UnknownSender"
  | "InvalidSender"
  | "InvalidMembershipTag"
  | "InvalidConfirmationTag"
  | "InvalidPadding"
  | "GenerationTooOld"
  | "GenerationTooFar"
  | "KeyReused"
  // trees (§7)
  | "InvalidLeafNode"
  | "InvalidTree"
  | "TreeHashMismatch"
  | "ParentHashMismatch"
  | "InvalidPath"
  | "UnsupportedCapability"
  | "DuplicateKey"
  // key packages (§10)
  | "InvalidKeyPackage"
  | "ExpiredLifetime"
  // proposals and commits (§12)
  | "InvalidProposal"
  | "InvalidProposalList"
  | "DuplicateAdd"
  | "UnknownProposal"
  | "MissingPath"
  | "InvalidCommit"
  | "InvalidExternalCommit"
  | "MissingProposal"
  | "InvalidExtension"
  | "MissingPsk"
  | "InvalidPsk"
  // joining (§12.4.3)
  | "NoMatchingKeyPackage"
  | "InvalidWelcome"
  | "InvalidGroupInfo"
  | "MissingRatchetTree"
  // state
  | "InvalidState"
  | "UnsupportedStateVersion"
  | "NotAMember"
  | "PendingProposals"
  | "GroupInactive"
  | "NoPendingCommit"
  | "Unsupported";

export class MlsError extends Error {
  override readonly name = "MlsError";
  constructor(
    readonly code: MlsErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function fail(code: MlsErrorCode, message: string): never {
  throw new MlsError(code, message);
}

export function isMlsError(e: unknown, code?: MlsErrorCode): e is MlsError {
  return e instanceof MlsError && (code === undefined || e.code === code);
}
