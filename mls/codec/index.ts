export { Writer, encode, type Encoder } from "./writer.js";
export { Reader, decode, type Decoder } from "./reader.js";
export { MAX_VARINT, varintSize, readVarint, writeVarint } from "./varint.js";
export * from "./bytes.js";
export { enumCodec, type EnumCodec } from "./enum.js";
