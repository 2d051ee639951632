import { describe, expect, it } from "vitest";

import { childLogger, createLogger, scrubSecrets } from "../../config/index.js";
import { formatPrettyLine } from "../../config/logger.js";

function capture(format: "json" | "pretty" = "json", level: "info" | "debug" = "info") {
  const lines: string[] = [];
  const logger = createLogger({ level, format }, { destination: { write: (s: string) => void lines.push(s) } });
  return { logger, lines, text: () => lines.join("") };
}

const SECRET = "hunter2-very-secret";

describe("logger", () => {
  it("writes structured JSON lines with level names", () => {
    const { logger, lines } = capture();
    logger.info({ room: "r@mls.example.org", epoch: 3 }, "commit accepted");
    logger.debug("not at info");
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: "info", msg: "commit accepted", room: "r@mls.example.org", epoch: 3, name: "xmpp-mls-bridge" });
    expect(typeof entry["time"]).toBe("string");
  });

  it("never writes secrets, wherever they sit", () => {
    const { logger, text } = capture("json", "debug");
    const config = { component: { domain: "mls.example.org", secret: SECRET, server: "127.0.0.1:5347" } };
    logger.info({ config }, "effective config");
    logger.info(config, "flattened config");
    logger.info({ password: SECRET, user: { password: SECRET, name: "alice" } }, "login");
    logger.info({ componentSecret: SECRET, keys: [{ signaturePrivateKey: SECRET }], hpke_private_key: SECRET }, "keys");
    logger.info({ plaintext: SECRET, stanza: { body: SECRET, lang: "en" }, deep: { a: { b: { c: { initSecret: SECRET } } } } });
    childLogger(logger, "component", { secret: SECRET, sessionSecretKey: SECRET }).info("child bindings");
    logger.child({ password: SECRET }).info("raw child"); // pino redact paths cover top-level bindings
    const err = Object.assign(new Error("handshake failed"), { secret: SECRET });
    logger.error({ err }, "error with a secret property");
    const out = text();
    expect(out).not.toContain(SECRET);
    expect(out).toContain("[redacted]");
    // Non-secret neighbours survive.
    expect(out).toContain("mls.example.org");
    expect(out).toContain('"name":"alice"');
    expect(out).toContain('"lang":"en"');
    expect(out).toContain('"module":"component"');
    expect(out).toContain("handshake failed");
  });

  it("scrubSecrets leaves non-plain objects and cycles alone", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic["self"] = cyclic;
    const out = scrubSecrets({ bytes, cyclic, secretBytes: bytes, nothing: null, secret: undefined });
    expect(out.bytes).toBe(bytes);
    expect(out.secretBytes).toBe("[redacted]");
    expect(out.cyclic["self"]).toBe("[circular]");
    expect(out.secret).toBeUndefined();
  });

  it("pretty format: one readable line, still redacted", () => {
    const { logger, lines } = capture("pretty");
    childLogger(logger, "room", { room: "r@mls.example.org" }).warn({ epoch: 4, secret: SECRET, note: "two words" }, "fork detected");
    expect(lines).toHaveLength(1);
    const line = lines[0] as string;
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z WARN  \[room\] fork detected room=r@mls\.example\.org epoch=4 secret=\[redacted\] note="two words"\n$/);
    expect(formatPrettyLine("not json")).toBe("not json\n");
  });
});
