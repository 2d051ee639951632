/** Stable codes: callers switch on `code`, never on the message text. */
export type StoreErrorCode =
  /** The database was written by a newer version of the program (its schema version is unknown here). */
  | "schema_too_new"
  /** An applied migration does not match this program's migration of the same version. */
  | "schema_mismatch"
  /** The file is an SQLite database that belongs to something else. */
  | "foreign_database"
  /** transaction() was called inside a transaction. */
  | "nested_transaction"
  /** The store is closed. */
  | "closed"
  /** The row to change does not exist. */
  | "not_found"
  /** The row to create already exists. */
  | "exists"
  /** A value the store refuses (bad kind, bad affiliation, ...). */
  | "invalid"
  /** The database engine failed (I/O, corruption, constraint, busy). */
  | "io";

export class StoreError extends Error {
  override readonly name = "StoreError";

  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}
