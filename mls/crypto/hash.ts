/** HashFns over a provider's hash primitive (RFC 9420 §5: the suite's hash and its HMAC). */
import type { HashFns, HashName } from "./provider.js";
import { guard, type HashPrimitive } from "./primitives.js";
import { HASH_SIZE } from "./suites.js";

export function makeHash(name: HashName, prim: HashPrimitive): HashFns {
  return {
    name,
    size: HASH_SIZE[name],
    digest: (data) => guard("InvalidValue", `${name} digest`, () => prim.digest(data)),
    mac: (key, data) => guard("InvalidValue", `HMAC-${name}`, () => prim.mac(key, data)),
  };
}
