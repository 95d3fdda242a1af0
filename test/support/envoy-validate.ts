import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { standaloneBootstrap, type PlaceholderPems } from "../../envoy/bootstrap/standalone-bootstrap.js";
import type { SidecarResources } from "../../envoy/build/resources.js";
import { exec } from "../env/exec.js";
import { testEnvironment } from "./environment.js";

export type EnvoyValidation = { accepted: true } | { accepted: false; error: string };

function run(command: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** Envoy's reason, without its log prefix: `error initializing configuration '<file>': <reason>`. */
function envoyError(output: string): string {
  const match = /error initializing configuration '[^']*': ([\s\S]*)$/.exec(output);
  if (match?.[1]) return match[1].trim();
  return output.trim().split("\n").slice(-20).join("\n");
}

/**
 * Runs `envoy --mode validate` on `bootstrap` with the Envoy binary of the test environment (or
 * `options.envoy`), and returns Envoy's verdict: accepted, or refused with its error text.
 */
export async function validateWithEnvoy(bootstrap: Record<string, unknown>, options: { envoy?: string } = {}): Promise<EnvoyValidation> {
  const envoy = options.envoy ?? testEnvironment().binaries.envoy;
  const dir = await mkdtemp(join(tmpdir(), "bulwark-envoy-validate-"));
  try {
    const file = join(dir, "bootstrap.json");
    await writeFile(file, JSON.stringify(bootstrap, null, 2));
    const { code, output } = await run(envoy, ["--mode", "validate", "--config-path", file, "--log-level", "error", "--disable-hot-restart"]);
    return code === 0 ? { accepted: true } : { accepted: false, error: envoyError(output) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let placeholders: Promise<PlaceholderPems> | undefined;

/** A throw-away self-signed certificate (made once per test process with openssl) for the secrets SDS would deliver. */
export function placeholderPems(): Promise<PlaceholderPems> {
  placeholders ??= (async (): Promise<PlaceholderPems> => {
    const dir = await mkdtemp(join(tmpdir(), "bulwark-placeholder-pki-"));
    try {
      await exec(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          "key.pem",
          "-out",
          "cert.pem",
          "-days",
          "2",
          "-subj",
          "/CN=bulwark-placeholder",
          "-addext",
          "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        { cwd: dir, missingFix: "install openssl (apt-get install openssl)" },
      );
      const certificateChain = await readFile(join(dir, "cert.pem"), "utf8");
      return { certificateChain, privateKey: await readFile(join(dir, "key.pem"), "utf8"), trustedCa: certificateChain };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return placeholders;
}

/** Validates a sidecar's resources with the real Envoy, carried statically with placeholder secrets. */
export async function validateSidecarResources(resources: SidecarResources, options: { envoy?: string } = {}): Promise<EnvoyValidation> {
  return validateWithEnvoy(standaloneBootstrap(resources, { placeholders: await placeholderPems() }), options);
}
