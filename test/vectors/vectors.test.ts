import { describe, expect, it } from "vitest";
import { VECTOR_FILES } from "./checks/index.js";
import { PROVIDERS } from "./providers.js";
import { runVectorFile } from "./run-file.js";

// Every entry of every official file, with both providers: no entry skipped.
for (const [name, provider] of Object.entries(PROVIDERS)) {
  describe(`MLS test vectors (${name} provider)`, () => {
    for (const file of VECTOR_FILES) {
      it(file, async () => {
        const r = await runVectorFile(file, provider);
        expect(r.failures).toEqual([]);
        expect(r.skipped).toBe(0);
        expect(r.passed).toBe(r.entries);
        expect(r.entries).toBeGreaterThan(0);
      }, 600_000);
    }
  });
}
