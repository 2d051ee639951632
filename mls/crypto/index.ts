/**
 * The crypto layer: the provider interface, the suite table, HPKE and the
 * labeled MLS helpers. Providers are imported from their own entry points
 * (`./noble/index.js` portable, `./native/index.js` node:crypto), so browser
 * bundles never pull in node:crypto.
 */
export type * from "./provider.js";
export * from "./suites.js";
export * from "./labels.js";
export { Hpke, HpkeContext, createHpke, createKem } from "./hpke.js";
export { DhKem } from "./dhkem.js";
export { createProvider } from "./assemble.js";
export type { Primitives, HashPrimitive, AeadPrimitive, DhPrimitive, SignaturePrimitive } from "./primitives.js";
