/**
 * The "vector suite" row: the official MLS test vectors, verified by this
 * project's verifiers (test/vectors, native provider) and by ts-mls
 * (bench/mls/vectors-tsmls.ts), timed entry by entry so the ratio covers
 * exactly the entries both sides ran and passed.
 */
import { forgetPrivateKeysByContent } from "../../mls/crypto/native/keys.js";
import { nativeProvider } from "../../mls/node.js";
import { loadCheck, VECTOR_FILES, type VectorFile } from "../../test/vectors/checks/index.js";
import { loadVectorFile, vectorsDir } from "../../test/vectors/load.js";
import { median } from "./scenario.js";
import { TS_FILES, TS_SUITES, tsCheck, type TsFile } from "./vectors-tsmls.js";
import type { Row } from "./run.js";

export interface VectorRow {
  readonly row: Row;
  readonly details: string[];
}

interface EntryRef {
  readonly file: VectorFile;
  readonly index: number;
  readonly entry: unknown;
  /** ts-mls has a verifier for the file and supports the entry's suite. */
  readonly inTs: boolean;
}

export async function runVectorRow(o: { quick: boolean; tsMls: boolean; log: (s: string) => void }): Promise<VectorRow> {
  const dir = vectorsDir();
  const entries: EntryRef[] = [];
  for (const file of VECTOR_FILES) {
    loadVectorFile(file, dir).forEach((entry, index) => {
      const suite = (entry as { cipher_suite?: unknown }).cipher_suite;
      const inTs = (TS_FILES as readonly string[]).includes(file) && (typeof suite !== "number" || TS_SUITES.has(suite));
      entries.push({ file, index, entry, inTs });
    });
  }
  const checks = new Map<VectorFile, Awaited<ReturnType<typeof loadCheck>>>();
  for (const file of VECTOR_FILES) checks.set(file, await loadCheck(file));

  // Entry by entry, both sides back to back (ours `oursRuns` times, ts-mls once: a ts-mls run of the
  // suite takes minutes), so that both meet the same machine load; ours' figure per entry is its median.
  const oursRuns = o.quick ? 1 : 3;
  const oursTimes = new Array<number>(entries.length).fill(0);
  const oursOk = new Array<boolean>(entries.length).fill(true);
  const tsTimes = new Array<number>(entries.length).fill(0);
  const tsOk = new Array<boolean>(entries.length).fill(false);
  const tsErrors = new Map<VectorFile, string>();
  const tsCount = entries.filter((e) => e.inTs).length;
  o.log(`vectors: ${entries.length} entries of ${VECTOR_FILES.length} files, ours ${oursRuns} run(s) each${o.tsMls ? `, ts-mls 1 run of ${tsCount}` : ""}`);
  const runOurs = (i: number): number => {
    const e = entries[i]!;
    // A run of an entry must not find the keys an earlier run of it derived (untimed).
    forgetPrivateKeysByContent();
    const t = performance.now();
    try {
      checks.get(e.file)!.check(e.entry, nativeProvider);
    } catch {
      oursOk[i] = false;
    }
    return performance.now() - t;
  };
  for (const [i, e] of entries.entries()) {
    const samples = [runOurs(i)];
    if (o.tsMls && e.inTs) {
      const t = performance.now();
      try {
        await tsCheck(e.file as TsFile, e.entry);
        tsOk[i] = true;
      } catch (x) {
        if (!tsErrors.has(e.file)) tsErrors.set(e.file, `entry ${e.index}: ${(x as Error).message.slice(0, 120)}`);
      }
      tsTimes[i] = performance.now() - t;
    }
    while (samples.length < oursRuns) samples.push(runOurs(i));
    oursTimes[i] = median(samples);
  }

  const both = (i: number) => entries[i]!.inTs && oursOk[i]! && tsOk[i]!;
  const sumOurs = (pick: (i: number) => boolean) => oursTimes.reduce((s, t, i) => (pick(i) ? s + t : s), 0);
  const sumTs = (pick: (i: number) => boolean) => tsTimes.reduce((s, t, i) => (pick(i) ? s + t : s), 0);
  const oursAll = sumOurs(() => true);
  const oursSame = sumOurs(both);
  const tsSame = sumTs(both);
  const nBoth = entries.filter((_, i) => both(i)).length;

  const details: string[] = [];
  details.push(`vector suite (${dir}): per file, entries ours ran / ts-mls ran (passed) and ms on the common passed entries`);
  for (const file of VECTOR_FILES) {
    const idx = entries.map((e, i) => (e.file === file ? i : -1)).filter((i) => i >= 0);
    const tsRan = idx.filter((i) => entries[i]!.inTs);
    const oursPassed = idx.filter((i) => oursOk[i]).length;
    const common = (i: number) => entries[i]!.file === file && both(i);
    let why = "";
    if (!(TS_FILES as readonly string[]).includes(file)) why = " (no ts-mls verifier written)";
    else if (tsRan.length < idx.length) why = " (suites 4, 6: ts-mls needs @hpke/dhkem-x448)";
    const err = tsErrors.get(file);
    details.push(
      `  ${file.padEnd(37)} ours ${String(oursPassed).padStart(3)}/${String(idx.length).padEnd(3)} ts-mls ${String(tsRan.filter((i) => tsOk[i]).length).padStart(3)}/${String(tsRan.length).padEnd(3)}` +
        ` common: ours ${sumOurs(common).toFixed(0).padStart(6)} ms, ts-mls ${sumTs(common).toFixed(0).padStart(6)} ms${why}${err ? `; ts-mls failed ${err}` : ""}`,
    );
  }
  const oursFailed = oursOk.filter((x) => !x).length;
  const note =
    `${nBoth} common entries (both passed) of ${entries.length}; ours full suite ${oursAll.toFixed(0)} ms (${VECTOR_FILES.length} files, ${entries.length} entries, ${oursFailed} failed); ` +
    `ours: sum of per-entry medians of ${oursRuns} run(s), ts-mls 1 run, interleaved entry by entry; ts-mls not run: message-protection, tree-operations, suites 4/6`;
  return {
    row: {
      operation: "vector suite (same entries)",
      groupSize: null,
      treeShape: null,
      oursMs: oursSame,
      tsMlsMs: o.tsMls ? tsSame : null,
      ratio: o.tsMls && tsSame > 0 ? oursSame / tsSame : null,
      floorMs: null,
      floorRatio: null,
      note,
    },
    details,
  };
}
