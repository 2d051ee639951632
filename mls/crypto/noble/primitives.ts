/** The portable primitives: @noble/curves, @noble/hashes, @noble/ciphers and Web Crypto randomness. */
import type { Primitives } from "../primitives.js";
import { nobleAead } from "./aead.js";
import { nobleDh } from "./dh.js";
import { nobleHash } from "./hash.js";
import { randomBytes } from "./random.js";
import { nobleSignature } from "./signature.js";

export const noblePrimitives: Primitives = Object.freeze({
  name: "noble",
  randomBytes,
  hash: nobleHash,
  aead: nobleAead,
  dh: nobleDh,
  signature: nobleSignature,
});
