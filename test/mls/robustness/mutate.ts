/** Byte-level mutations of valid encodings. */
import fc from "fast-check";

/** Edits: xor a byte, insert a byte, delete a byte, or cut the tail. */
export type Edit = readonly [number, number, "xor" | "insert" | "delete" | "cut" | "dup"];
export const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constantFrom("xor", "xor", "insert", "delete", "cut", "dup")), {
  minLength: 1,
  maxLength: 4,
}) as fc.Arbitrary<Edit[]>;

/** Only byte flips: the length structure stays intact, so most results still decode and reach the checks. */
export const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constant("xor" as const)), {
  minLength: 1,
  maxLength: 3,
}) as fc.Arbitrary<Edit[]>;

/** Structural edits and flips, half and half. */
export const anyEdits: fc.Arbitrary<Edit[]> = fc.oneof(edits, flips);

export function mutate(orig: Uint8Array, es: readonly Edit[]): Uint8Array {
  let s = orig.slice();
  for (const [pos, v, op] of es) {
    if (s.length === 0) return Uint8Array.of(v);
    const i = pos % s.length;
    switch (op) {
      case "xor":
        s[i] = s[i]! ^ v;
        break;
      case "insert":
        s = Uint8Array.from([...s.subarray(0, i), v, ...s.subarray(i)]);
        break;
      case "delete":
        s = Uint8Array.from([...s.subarray(0, i), ...s.subarray(i + 1)]);
        break;
      case "cut":
        s = s.slice(0, i);
        break;
      case "dup": {
        const n = 1 + (v % 16);
        s = Uint8Array.from([...s.subarray(0, i + n), ...s.subarray(i, i + n), ...s.subarray(i + n)]);
        break;
      }
    }
  }
  return s;
}


/**
 * fast-check limits of the fuzz properties: a property that runs longer in
 * total fails (nothing may hang or go quadratic); each call is timed too.
 */
export const LIMITS = { interruptAfterTimeLimit: 30_000, markInterruptAsFailure: true } as const;

/** MLS_FUZZ_SCALE=10 multiplies the number of runs of every fuzz property (for a long stress run). */
const SCALE = Number(process.env.MLS_FUZZ_SCALE ?? 1);
export const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));
