import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { JidError, parseJid, tryParseJid } from "../../../component/xmpp/jid.js";

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
