/** The node:crypto CryptoProvider: the fast default under Node. */
import { createProvider } from "../assemble.js";
import type { CryptoProvider } from "../provider.js";
import { nativePrimitives } from "./primitives.js";

export const nativeProvider: CryptoProvider = createProvider(nativePrimitives);
