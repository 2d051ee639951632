import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { JidError, parseJid, parseJidRemembered, tryParseJid } from "../../../component/xmpp/jid.js";

describe("parseJid", () => {
  it("splits and normalises", () => {
    expect(parseJid("Alice@Example.ORG/Laptop")).toEqual({
      local: "alice",
      domain: "example.org",
      resource: "Laptop",
      bare: "alice@example.org",
      full: "alice@example.org/Laptop",
    });
    expect(parseJid("mls.example.org")).toMatchObject({ local: "", resource: "", bare: "mls.example.org", full: "mls.example.org" });
    expect(parseJid("room@mls.example.org/nick with spaces/and@at").resource).toBe("nick with spaces/and@at");
    expect(parseJid("example.org.").domain).toBe("example.org");
    expect(parseJid("a@[::1]").domain).toBe("[::1]");
    expect(parseJid("cafe\u0301@x.org").local).toBe("caf\u00e9"); // NFC
  });

  it.each([
    ["", "empty domainpart"],
    ["@example.org", "empty localpart"],
    ["alice@", "empty domainpart"],
    ["alice@example.org/", "empty resourcepart"],
    ["a b@example.org", "forbidden character in localpart"],
    ["a'b@example.org", "forbidden character in localpart"],
    ["a<b@example.org", "forbidden character in localpart"],
    ["a@b@example.org", "forbidden character in domainpart"],
    ["alice@exa mple.org", "forbidden character in domainpart"],
    ["alice@example..org", "empty label in domainpart"],
    ["alice@example.org/x\u0000y", "control character in resourcepart"],
    [`${"a".repeat(1024)}@example.org`, "localpart longer than 1023 bytes"],
  ])("refuses %j (%s)", (input, problem) => {
    expect(() => parseJid(input)).toThrow(JidError);
    expect(() => parseJid(input)).toThrow(problem);
    expect(tryParseJid(input)).toBeUndefined();
  });

  it("never throws anything but JidError, and what it accepts round-trips", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        let j;
        try {
          j = parseJid(s);
        } catch (e) {
          expect(e).toBeInstanceOf(JidError);
          return;
        }
        expect(parseJid(j.full)).toEqual(j);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("parseJidRemembered", () => {
  it("answers as parseJid does, for valid and invalid input, the first time and again", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("a@b.org/r", "B@Example.org", "a b@x.org")), { maxLength: 20 }), (inputs) => {
        for (const s of [...inputs, ...inputs]) {
          let expected: unknown;
          try {
            expected = parseJid(s);
          } catch (e) {
            expect(() => parseJidRemembered(s)).toThrow(JidError);
            expect(() => parseJidRemembered(s)).toThrow((e as Error).message);
            continue;
          }
          expect(parseJidRemembered(s)).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("keeps 4,096 inputs, drops the oldest first, and still answers for the ones it dropped", () => {
    for (let i = 0; i < 4096; i++) parseJidRemembered(`fill${i}@example.org/r`); // a known state: only these
    const first = parseJidRemembered("u0@example.org/r");
    expect(parseJidRemembered("u0@example.org/r")).toBe(first); // kept: the same object
    for (let i = 1; i <= 4095; i++) parseJidRemembered(`u${i}@example.org/r`);
    expect(parseJidRemembered("u0@example.org/r")).toBe(first); // 4,096 kept: u0 and the 4,095 after it
    parseJidRemembered("u4096@example.org/r");
    const again = parseJidRemembered("u0@example.org/r");
    expect(again).not.toBe(first); // the oldest, dropped: parsed anew
    expect(again).toEqual(first);
  });

  it("does not keep inputs longer than 256 characters", () => {
    const long = `${"a".repeat(300)}@example.org/r`;
    const first = parseJidRemembered(long);
    expect(parseJidRemembered(long)).not.toBe(first);
    expect(parseJidRemembered(long)).toEqual(first);
    const short = `${"b".repeat(200)}@example.org/r`;
    expect(parseJidRemembered(short)).toBe(parseJidRemembered(short));
  });
});
