import type { CryptoProvider } from "../../mls/crypto/provider.js";
import { nativeProvider } from "../../mls/crypto/native/index.js";
import { nobleProvider } from "../../mls/crypto/noble/index.js";

export const PROVIDERS: Record<"native" | "noble", CryptoProvider> = {
  native: nativeProvider,
  noble: nobleProvider,
};

export type ProviderName = keyof typeof PROVIDERS;
