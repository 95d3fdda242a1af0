import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** testdata/translate/<case>.in.yaml → <case>.out/: the golden cases of the whole translation. */
export const goldenDir = join(dirname(fileURLToPath(import.meta.url)), "..", "testdata", "translate");

/** Goldens are translated at this instant (deprecation windows depend on it). */
export const goldenNow = "2026-11-25T12:00:00Z";

export function goldenCases(): string[] {
  return readdirSync(goldenDir)
    .filter((f) => f.endsWith(".in.yaml"))
    .map((f) => f.slice(0, -".in.yaml".length))
    .sort();
}
