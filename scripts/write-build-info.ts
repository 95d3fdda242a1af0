/**
 * Records what `bulwark --version` reports in <outDir>/build-info.json (the second half of
 * `npm run build`). The commit comes from BULWARK_COMMIT or, in a git checkout, from git
 * (`-dirty` when the tree has changes); the date from BULWARK_BUILD_DATE, SOURCE_DATE_EPOCH or now.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD_INFO_FILE, type BuildInfo } from "../cli/build-info.js";

function gitCommit(): string | undefined {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const changes = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return changes.trim() === "" ? commit : `${commit}-dirty`;
  } catch {
    return undefined;
  }
}

function buildDate(env: NodeJS.ProcessEnv): string {
  const given = env.BULWARK_BUILD_DATE;
  if (given) {
    const parsed = new Date(given);
    if (Number.isNaN(parsed.getTime())) throw new Error(`BULWARK_BUILD_DATE=${given} is not a date; give an RFC 3339 time such as 2026-12-02T15:00:00Z`);
    return parsed.toISOString();
  }
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch) {
    if (!/^[0-9]+$/.test(epoch)) throw new Error(`SOURCE_DATE_EPOCH=${epoch} is not a number of seconds since 1970`);
    return new Date(Number(epoch) * 1000).toISOString();
  }
  return new Date().toISOString();
}

// The last argument, so that `npm run build:info -- OTHER_DIR` overrides the script's own.
const outDir = process.argv.length > 2 ? process.argv.at(-1) : undefined;
if (!outDir) throw new Error("usage: write-build-info.ts OUT_DIR (the build's outDir, e.g. dist)");
const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
const info: BuildInfo = {
  version,
  commit: process.env.BULWARK_COMMIT || gitCommit() || "unknown",
  date: buildDate(process.env),
};
writeFileSync(join(outDir, BUILD_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
process.stdout.write(`${join(outDir, BUILD_INFO_FILE)}: ${info.version} ${info.commit} ${info.date}\n`);
