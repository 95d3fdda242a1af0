/** `bulwark <args>` as its own process (cli/main.ts through tsx), as a person or a CI step runs it. */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const tsx = pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bulwark <args>` with `env` as its whole environment (plus PATH). */
export function runBulwark(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, join(repoRoot, "cli/main.ts"), ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
