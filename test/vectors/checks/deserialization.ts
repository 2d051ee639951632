import { Reader } from "../../../mls/codec/reader.js";
import { Writer } from "../../../mls/codec/writer.js";
import { bytesEqual } from "../../../mls/codec/bytes.js";
import { Entry } from "./json.js";
import type { VectorCheck } from "./types.js";

/** deserialization.json: the varint header decodes to `length`, and encoding `length` gives the header back. */
const check: VectorCheck = {
  file: "deserialization.json",
  check(raw) {
    const e = Entry.of(raw);
    const header = e.hex("vlbytes_header");
    const length = e.num("length");
    const r = new Reader(header);
    const got = r.varint();
    r.done();
    if (got !== length) throw new Error(`decoded ${got}, expected ${length}`);
    const again = new Writer().varint(length).finish();
    if (!bytesEqual(again, header)) throw new Error("re-encoded header differs");
  },
};
export default check;
