import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { exec } from "../test/env/exec.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
let built: Promise<void> | undefined;

/**
 * The `bulwark` executable as production runs it: the compiled dist/cli/main.js under plain node,
 * no tsx (#19 goal 5). The first call in a bench run compiles the tree (`npm run build:js`), so a
 * benchmark never measures stale JavaScript.
 */
export async function compiledCli(repo: string = repoRoot): Promise<string> {
  if (repo === repoRoot) {
    built ??= (async (): Promise<void> => {
      console.log("compiling dist/ for the services the benchmarks start (npm run build:js)");
      await exec("npm", ["run", "--silent", "build:js"], { cwd: repoRoot, missingFix: "install Node.js 24 with npm" });
    })();
    await built;
  }
  return join(repo, "dist", "cli", "main.js");
}

/**
 * The Node.js flags the Helm chart gives a data-plane service by default (`<service>.nodeOptions`):
 * benchmarks run what is deployed. BENCH_NODE_OPTIONS replaces them (to compare settings).
 */
export function chartNodeOptions(service: "authz" | "ratelimit"): string {
  if (process.env.BENCH_NODE_OPTIONS !== undefined) return process.env.BENCH_NODE_OPTIONS;
  const values = parse(readFileSync(join(repoRoot, "charts", "bulwark", "values.yaml"), "utf8")) as Record<string, { nodeOptions?: string } | undefined>;
  return values[service]?.nodeOptions ?? "";
}

/**
 * The Node.js flags of an authz server a benchmark starts as a worker (bench/authz-stack.ts): the
 * chart's (or BENCH_NODE_OPTIONS), then BENCH_AUTHZ_SERVER_FLAGS (e.g. "--trace-gc").
 */
export function authzServerFlags(): string[] {
  return [...chartNodeOptions("authz").split(" "), ...(process.env.BENCH_AUTHZ_SERVER_FLAGS ?? "").split(" ")].filter(Boolean);
}
