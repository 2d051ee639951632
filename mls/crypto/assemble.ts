/** Builds a CryptoProvider (RFC 9420 §17.1 suites) from a provider's primitives. */
import { fail } from "../errors.js";
import { makeAead } from "./aead.js";
import { makeHash } from "./hash.js";
import { makeKdf } from "./hkdf.js";
import { Hpke, createKem } from "./hpke.js";
import type { CipherSuite, CryptoProvider, HashFns, HashName } from "./provider.js";
import { guard, type Primitives } from "./primitives.js";
import { makeSignature } from "./signature.js";
import { SUITE_IDS, suiteParams, type SuiteParams } from "./suites.js";

function buildSuite(prims: Primitives, p: SuiteParams, hash: (name: HashName) => HashFns): CipherSuite {
  const randomBytes = (n: number): Uint8Array => {
    if (!Number.isSafeInteger(n) || n < 0) fail("InvalidValue", `randomBytes(${n})`);
    return guard("InvalidValue", "randomBytes", () => prims.randomBytes(n));
  };
  const kdf = makeKdf(hash(p.kdf.hash));
  const aead = makeAead(p.aead, prims.aead(p.aead));
  const kem = createKem(prims, p.kem);
  return Object.freeze({
    id: p.id,
    name: p.name,
    provider: prims.name,
    hash: hash(p.hash),
    kdf,
    aead,
    kem,
    hpke: new Hpke(kem, p.kdf.id, kdf, aead, p.aead.id),
    signature: makeSignature(p.signature, prims.signature(p.signature), randomBytes),
    randomBytes,
  });
}

export function createProvider(prims: Primitives): CryptoProvider {
  const hashes = new Map<HashName, HashFns>();
  const hash = (name: HashName): HashFns => {
    let h = hashes.get(name);
    if (h === undefined) hashes.set(name, (h = makeHash(name, prims.hash(name))));
    return h;
  };
  const suites = new Map<number, CipherSuite>();
  return Object.freeze({
    name: prims.name,
    suites: SUITE_IDS,
    suite(id: number): CipherSuite {
      let s = suites.get(id);
      if (s === undefined) suites.set(id, (s = buildSuite(prims, suiteParams(id), hash)));
      return s;
    },
  });
}
