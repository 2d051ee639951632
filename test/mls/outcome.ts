// One helper for tests of typed errors.

import { isMlsError } from "../../mls/errors.js";

/** Runs `f`; "ok" on success, the MlsError code on an MlsError, rethrows anything else. */
export function outcome(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (isMlsError(e)) return e.code;
    throw e;
  }
}
