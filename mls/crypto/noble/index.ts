/** The portable CryptoProvider (no node: imports; bundles for browsers). */
import { createProvider } from "../assemble.js";
import type { CryptoProvider } from "../provider.js";
import { noblePrimitives } from "./primitives.js";

export const nobleProvider: CryptoProvider = createProvider(noblePrimitives);
