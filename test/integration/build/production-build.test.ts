/**
 * The production build: `npm run build` compiles to JavaScript that runs on plain Node.js (no tsx),
 * reports its version and build, and its subcommands start.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../../env/exec.js";
import { freePort, startProcess, waitUntilReady } from "../../env/processes.js";

const repoRoot = join(import.meta.dirname, "..", "..", "..");
const packageJson = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string; bin: { bulwark: string } };

let out = "";
let main = "";

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Plain node: no loader, no tsx; NODE_OPTIONS cleared so vitest's hooks do not leak in.
    const child = spawn(process.execPath, [main, ...args], { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "bulwark-build-"));
  const dist = join(out, "dist");
  // The package's own scripts, with the output directory moved out of the clone.
  await exec("npm", ["run", "--silent", "build:js", "--", "--outDir", dist], { cwd: repoRoot, missingFix: "install npm" });
  await exec("npm", ["run", "--silent", "build:info", "--", dist], {
    cwd: repoRoot,
    env: { ...process.env, BULWARK_COMMIT: "0123456789abcdef", BULWARK_BUILD_DATE: "2026-12-02T15:00:00Z" },
    missingFix: "install npm",
  });
  // What the image holds next to dist/: package.json (the module type) and node_modules.
  await copyFile(join(repoRoot, "package.json"), join(out, "package.json"));
  await symlink(join(repoRoot, "node_modules"), join(out, "node_modules"));
  main = join(out, packageJson.bin.bulwark);
}, 300_000);

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe("npm run build", () => {
  it("bulwark --version prints the version, the commit and date given at build time, and the Node.js version", async () => {
    const result = await run(["--version"]);
    expect(result).toEqual({
      code: 0,
      stdout: `bulwark ${packageJson.version}\ncommit  0123456789abcdef\nbuilt   2026-12-02T15:00:00.000Z\nnode    ${process.version}\n`,
      stderr: "",
    });
  });

  it("the compiled entry point is executable JavaScript with a node shebang, and no test is compiled", () => {
    expect(readFileSync(main, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    const files = readdirSync(join(out, "dist"), { recursive: true, encoding: "utf8" });
    expect(files.filter((file) => file.endsWith(".ts") || file.includes(".test.") || file.includes("testdata"))).toEqual([]);
    expect(files).toContain(join("cli", "main.js"));
  });

  it("the built render subcommand loads the Envoy protos and prints a sidecar's configuration", async () => {
    const result = await run(["render", "-f", join(repoRoot, "operator", "testdata", "translate", "app-attestation.in.yaml")]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"@type": type.googleapis.com/envoy.config.listener.v3.Listener');
    expect(result.stdout).toContain('"@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication');
  });

  it("the built ratelimit subcommand starts and becomes ready", async () => {
    const [grpc, http] = [await freePort(), await freePort()];
    const proc = startProcess({
      name: "built bulwark ratelimit",
      command: process.execPath,
      args: [main, "ratelimit", "-f", join(repoRoot, "examples", "shop-api.yaml"), "--grpc-address", `127.0.0.1:${grpc}`, "--http-address", `127.0.0.1:${http}`],
      logFile: join(out, "ratelimit.log"),
      env: { PATH: process.env.PATH ?? "" },
    });
    try {
      await waitUntilReady(proc, async () => (await fetch(`http://127.0.0.1:${http}/readyz`)).ok, 30_000);
    } finally {
      await proc.stop();
    }
  });
});
