/** The library for Node: everything in index.ts, plus the native (node:crypto) provider as default. */
export * from "./index.js";
export { nativeProvider } from "./crypto/native/index.js";
import { nativeProvider } from "./crypto/native/index.js";

/** The provider to use under Node: native, fast. */
export const defaultProvider = nativeProvider;
