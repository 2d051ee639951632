import type { CryptoProvider } from "../../../mls/crypto/provider.js";

/** One official test vector file and how to verify one of its entries. */
export interface VectorCheck {
  readonly file: string;
  /** Throws (any Error) when the entry does not verify. */
  check(entry: unknown, provider: CryptoProvider): void;
}
