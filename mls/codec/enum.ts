import { fail } from "../errors.js";

/** A closed enumeration of the wire: names in code, numbers on the wire, unknown numbers rejected. */
export interface EnumCodec<N extends string> {
  readonly names: readonly N[];
  toWire(name: N): number;
  fromWire(value: number): N;
}

export function enumCodec<N extends string>(what: string, table: Readonly<Record<N, number>>): EnumCodec<N> {
  const byValue = new Map<number, N>();
  for (const [name, value] of Object.entries(table) as [N, number][]) byValue.set(value, name);
  return {
    names: Object.keys(table) as N[],
    toWire: (name) => table[name],
    fromWire: (value) => byValue.get(value) ?? fail("UnknownEnumValue", `${what}: unknown value ${value}`),
  };
}
