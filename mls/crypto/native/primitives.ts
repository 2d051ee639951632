/** The fast primitives: node:crypto (OpenSSL) only. */
import type { Primitives } from "../primitives.js";
import { nativeAead } from "./aead.js";
import { nativeDh } from "./dh.js";
import { nativeHash } from "./hash.js";
import { randomBytes } from "./random.js";
import { nativeSignature } from "./signature.js";

export const nativePrimitives: Primitives = Object.freeze({
  name: "native",
  randomBytes,
  hash: nativeHash,
  aead: nativeAead,
  dh: nativeDh,
  signature: nativeSignature,
});
