// docs/configuration.md and config/example.json stay in step with the schema.

import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { OPTIONS, SECRET_FILE_ENV, CONFIG_FILE_ENV } from "../../config/index.js";
import { defaultText } from "../../config/options.js";

const root = path.resolve(import.meta.dirname, "../..");
const doc = readFileSync(path.join(root, "docs/configuration.md"), "utf8");

describe("docs/configuration.md", () => {
  it("documents every setting with its default, env var and flag", () => {
    for (const o of OPTIONS) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${o.key}\` |`));
      expect(row, o.key).toBeDefined();
      expect(row).toContain(`\`${o.env}\``);
      if (o.flag) expect(row).toContain(`--${o.flag}`);
      if (o.key !== "component.secret") expect(row).toContain(`\`${defaultText(o.key)}\``);
    }
    for (const extra of [CONFIG_FILE_ENV, SECRET_FILE_ENV, "--config", "--secret-file", "--print-config", "--help"]) {
      expect(doc).toContain(extra);
    }
  });

  it("shows config/example.json as it is", () => {
    const example = readFileSync(path.join(root, "config/example.json"), "utf8").trim();
    expect(doc).toContain(example);
  });
});
