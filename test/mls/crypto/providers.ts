/** The two providers and their primitives, for the crypto tests. */
import { nativeProvider } from "../../../mls/crypto/native/index.js";
import { nativePrimitives } from "../../../mls/crypto/native/primitives.js";
import { nobleProvider } from "../../../mls/crypto/noble/index.js";
import { noblePrimitives } from "../../../mls/crypto/noble/primitives.js";
import type { Primitives } from "../../../mls/crypto/primitives.js";
import type { CryptoProvider } from "../../../mls/crypto/provider.js";

export interface NamedProvider {
  readonly name: string;
  readonly provider: CryptoProvider;
  readonly prims: Primitives;
}

export const PROVIDERS: readonly NamedProvider[] = [
  { name: "native", provider: nativeProvider, prims: nativePrimitives },
  { name: "noble", provider: nobleProvider, prims: noblePrimitives },
];
