// mls/ must stay usable on its own, in a browser: the portable entry point
// bundles for the browser platform with no Node built-in (only the native
// provider, behind mls/node.ts, may use node:crypto).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

it("mls/index.ts bundles for browsers without any Node built-in", async () => {
  const entry = fileURLToPath(new URL("../../mls/index.ts", import.meta.url));
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    logLevel: "silent",
    metafile: true,
  });
  expect(result.errors).toEqual([]);
  const inputs = Object.keys(result.metafile!.inputs);
  expect(inputs.some((p) => p.includes("mls/crypto/native"))).toBe(false);
  const code = result.outputFiles[0]!.text;
  expect(code).not.toMatch(/from\s*["']node:/);
  expect(code).not.toMatch(/require\(["']node:/);
  expect(code.length).toBeGreaterThan(10_000);
}, 60_000);

it("the Node entry point pulls in the native provider", async () => {
  const entry = fileURLToPath(new URL("../../mls/node.ts", import.meta.url));
  const result = await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", write: false, metafile: true, logLevel: "silent" });
  expect(Object.keys(result.metafile!.inputs).some((p) => p.includes("mls/crypto/native"))).toBe(true);
}, 60_000);
