/**
 * `bulwark authz` as a separate process (node --import tsx operator/cli/main.ts authz), watching
 * Kubernetes, with its ext_authz gRPC port and its health/metrics port on loopback.
 */
import { mkdtemp } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../env/processes.js";
import { httpRequest, metricValue, type HttpAnswer } from "./e2e.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface AuthzProcessOptions {
  kubeconfig: string;
  /** DPoP replay cache shared by replicas; in memory when absent. */
  redisUrl?: string;
  dpopNonceSecret?: string;
  /** Wait for /readyz (a route table loaded); otherwise only for /healthz. Default true. */
  waitReady?: boolean;
  logLevel?: string;
}

export interface AuthzProcess {
  grpcPort: number;
  httpPort: number;
  process: ManagedProcess;
  logFile: string;
  /** GET on the health/metrics server. */
  get(path: string): Promise<HttpAnswer>;
  /** Prometheus text of /metrics. */
  metrics(): Promise<string>;
  /** Sum of the samples of a metric with these labels; undefined when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  stop(): Promise<void>;
}

export async function startAuthzProcess(options: AuthzProcessOptions): Promise<AuthzProcess> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-authz-"));
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const logFile = join(dir, "authz.log");
  const tsx = pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;
  const proc = startProcess({
    name: "bulwark authz",
    command: process.execPath,
    args: [
      "--import",
      tsx,
      join(repoRoot, "operator/cli/main.ts"),
      "authz",
      "--kubeconfig",
      options.kubeconfig,
      "--address",
      `127.0.0.1:${grpcPort}`,
      "--http-address",
      `127.0.0.1:${httpPort}`,
      "--log-level",
      options.logLevel ?? "info",
      ...(options.redisUrl ? ["--redis-url", options.redisUrl] : []),
      ...(options.dpopNonceSecret ? ["--dpop-nonce-secret", options.dpopNonceSecret] : []),
    ],
    logFile,
  });
  const get = (path: string): Promise<HttpAnswer> => httpRequest(httpPort, path, { timeoutMs: 5000 });
  const metrics = async (): Promise<string> => {
    const answer = await get("/metrics");
    if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
    return answer.body;
  };
  const authz: AuthzProcess = {
    grpcPort,
    httpPort,
    process: proc,
    logFile,
    get,
    metrics,
    metric: async (name, labels) => metricValue(await metrics(), name, labels),
    stop: () => proc.stop(),
  };
  const probe = options.waitReady ?? true ? "/readyz" : "/healthz";
  try {
    await waitUntilReady(proc, async () => (await get(probe).catch(() => ({ status: 0 }))).status === 200, 60_000);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return authz;
}
