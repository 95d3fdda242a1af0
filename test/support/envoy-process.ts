import { mkdtemp, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../env/processes.js";
import { testEnvironment } from "./environment.js";

export interface EnvoyProcess {
  adminPort: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

function adminReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/ready", timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/**
 * Runs the real Envoy binary with `bootstrap` (admin is added on a free loopback port)
 * and resolves once its admin endpoint reports ready.
 */
export async function startEnvoy(bootstrap: Record<string, unknown>, name = "envoy"): Promise<EnvoyProcess> {
  const dir = await mkdtemp(join(tmpdir(), `bulwark-${name}-`));
  const adminPort = await freePort();
  const config = { ...bootstrap, admin: { address: { socket_address: { address: "127.0.0.1", port_value: adminPort } } } };
  // JSON, as the injector hands it over: Envoy's YAML 1.1 reader takes unquoted strings such as `n` or `on` as booleans.
  const configPath = join(dir, "envoy.json");
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const proc = startProcess({
    name,
    command: testEnvironment().binaries.envoy,
    args: ["--config-path", configPath, "--disable-hot-restart", "--log-level", "warn", "--concurrency", "1"],
    logFile: join(dir, "envoy.log"),
  });
  try {
    await waitUntilReady(proc, () => adminReady(adminPort), 30_000);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return { adminPort, process: proc, stop: () => proc.stop() };
}
