import { fromHex } from "../../../mls/codec/bytes.js";

/** Typed access to fields of a JSON test vector entry; a missing or mistyped field is a failure. */
export class Entry {
  constructor(private readonly obj: Record<string, unknown>) {}

  static of(v: unknown): Entry {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("vector entry is not an object");
    return new Entry(v as Record<string, unknown>);
  }

  private field(name: string): unknown {
    if (!(name in this.obj)) throw new Error(`vector field missing: ${name}`);
    return this.obj[name];
  }

  hex(name: string): Uint8Array {
    const v = this.field(name);
    if (typeof v !== "string") throw new Error(`vector field ${name} is not a hex string`);
    return fromHex(v);
  }

  optHex(name: string): Uint8Array | undefined {
    const v = this.obj[name];
    if (v === null || v === undefined) return undefined;
    if (typeof v !== "string") throw new Error(`vector field ${name} is not a hex string`);
    return fromHex(v);
  }

  num(name: string): number {
    const v = this.field(name);
    if (typeof v !== "number") throw new Error(`vector field ${name} is not a number`);
    return v;
  }

  str(name: string): string {
    const v = this.field(name);
    if (typeof v !== "string") throw new Error(`vector field ${name} is not a string`);
    return v;
  }

  obj_(name: string): Entry {
    return Entry.of(this.field(name));
  }

  list(name: string): unknown[] {
    const v = this.field(name);
    if (!Array.isArray(v)) throw new Error(`vector field ${name} is not an array`);
    return v;
  }

  entries(name: string): Entry[] {
    return this.list(name).map(Entry.of);
  }
}
