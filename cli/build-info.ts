/**
 * What `bulwark --version` prints. `npm run build` records the commit and the build date in
 * build-info.json at the root of the compiled tree (scripts/write-build-info.ts); a run from
 * source has none and says so.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface BuildInfo {
  version: string;
  commit: string;
  date: string;
}

/** The file `npm run build` writes at the root of the compiled tree (dist/). */
export const BUILD_INFO_FILE = "build-info.json";

function parseBuildInfo(file: string): BuildInfo {
  const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<BuildInfo>;
  const field = (name: keyof BuildInfo): string => {
    const value = parsed[name];
    if (typeof value !== "string" || value === "") throw new Error(`${file}: ${name} must be a non-empty string`);
    return value;
  };
  return { version: field("version"), commit: field("commit"), date: field("date") };
}

/**
 * Walks up from this module: the compiled tree's build-info.json comes first; reaching the
 * package.json without one means the CLI runs from source.
 */
export function readBuildInfo(from: string = dirname(fileURLToPath(import.meta.url))): BuildInfo {
  for (let dir = from; ; dir = dirname(dir)) {
    const recorded = join(dir, BUILD_INFO_FILE);
    if (existsSync(recorded)) return parseBuildInfo(recorded);
    const packageJson = join(dir, "package.json");
    if (existsSync(packageJson)) {
      const { version } = JSON.parse(readFileSync(packageJson, "utf8")) as { version: string };
      return { version, commit: "none (running from source, not built)", date: "none (running from source, not built)" };
    }
    if (dirname(dir) === dir) throw new Error(`neither ${BUILD_INFO_FILE} nor package.json above ${from}`);
  }
}

/** The lines of `bulwark --version`. */
export function formatVersion(info: BuildInfo, nodeVersion: string = process.version): string {
  return [`bulwark ${info.version}`, `commit  ${info.commit}`, `built   ${info.date}`, `node    ${nodeVersion}`, ""].join("\n");
}
