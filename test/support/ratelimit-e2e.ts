/**
 * Fixtures for end-to-end tests of rate limiting with the controller: `bulwark ratelimit` as a
 * separate process (the CLI, watching Kubernetes), and a sidecar pod whose app answers logins
 * (401 for a wrong password), configured over xDS by a controller. Built from test/support/e2e.ts.
 */
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import type { KubeConfig } from "@kubernetes/client-node";
import { mkdtemp, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { sidecarArgs, sidecarBootstrap } from "../../envoy/bootstrap/sidecar-bootstrap.js";
import { sidecarXds } from "./xds-credentials.js";
import { genericRateLimitService, type RateLimitRequestMessage, type RateLimitResponseMessage } from "../../services/ratelimit/protocol.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../env/processes.js";
import {
  createSidecarPod,
  httpRequest,
  startBulwark,
  startController,
  type BulwarkProcess,
  type ControllerOptions,
  type ControllerProcess,
  type E2eEnvironment,
  type HttpAnswer,
} from "./e2e.js";
import { startLoginApp } from "./ratelimit-stack.js";

export interface RatelimitProcess extends BulwarkProcess {
  name: string;
  grpcPort: number;
}

/** Starts `bulwark ratelimit` (the CLI) watching the API server, counting in `redisUrl`; waits for /readyz. */
export async function startRatelimitProcess(env: E2eEnvironment, options: { name: string; redisUrl: string; logLevel?: string }): Promise<RatelimitProcess> {
  const grpcPort = await freePort();
  const started = await startBulwark({
    command: "ratelimit",
    name: `ratelimit ${options.name}`,
    args: ["--kubeconfig", env.kubeconfig, "--grpc-address", `127.0.0.1:${grpcPort}`, "--redis-url", options.redisUrl, "--log-level", options.logLevel ?? "info"],
  });
  return { ...started, name: options.name, grpcPort };
}

type RlsClient = Client & { ShouldRateLimit(request: RateLimitRequestMessage, callback: (error: ServiceError | null, response?: RateLimitResponseMessage) => void): void };

/**
 * Whether the bulwark ratelimit at `grpcPort` knows the limit `limitName`: it reports a limit
 * (remaining, reset) only for a descriptor naming a limit of its current translation. Spends one
 * request of the budget of `entries`.
 */
export async function knowsLimit(grpcPort: number, limitName: string, entries: { key: string; value: string }[] = []): Promise<boolean> {
  const Rls = makeGenericClientConstructor(genericRateLimitService(), "RateLimitService");
  const client = new Rls(`127.0.0.1:${grpcPort}`, credentials.createInsecure()) as unknown as RlsClient;
  try {
    const response = await new Promise<RateLimitResponseMessage | undefined>((resolve, reject) =>
      client.ShouldRateLimit({ domain: "bulwark", descriptors: [{ entries: [{ key: "limit", value: limitName }, ...entries] }] }, (error, r) =>
        error ? reject(error) : resolve(r),
      ),
    );
    return response?.statuses[0]?.duration_until_reset !== undefined;
  } finally {
    client.close();
  }
}

/** One HTTP request to 127.0.0.1:port from a chosen loopback source address (a client IP of its own). */
export function requestFrom(port: number, path: string, options: { from?: string; method?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers, localAddress: options.from ?? "127.0.0.1", timeout: 5000, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${options.method ?? "GET"} ${path} timed out`)));
    req.end();
  });
}

export interface LoginSidecar {
  pod: string;
  /** Envoy's inbound listener. */
  port: number;
  adminPort: number;
  /** Requests that reached the app, by path. */
  hits: Map<string, number>;
  envoy: ManagedProcess;
  /** Counters of Envoy's admin /stats whose names match `filter`. */
  stats(filter: string): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

/**
 * A Pod object and, in front of the login app (test/support/ratelimit-stack.ts), a real Envoy
 * with Bulwark's sidecar bootstrap whose ADS server is the controller at `xdsPort`.
 */
export async function startLoginSidecar(
  env: E2eEnvironment,
  kc: KubeConfig,
  options: { namespace: string; pod: string; labels: Record<string, string>; xdsPort: number },
): Promise<LoginSidecar> {
  const app: { server: Server; port: number; hits: Map<string, number> } = await startLoginApp();
  const closeApp = (): Promise<void> =>
    new Promise((resolve) => {
      app.server.closeAllConnections();
      app.server.close(() => resolve());
    });
  const port = await freePort();
  const adminPort = await freePort();
  try {
    await createSidecarPod(kc, { namespace: options.namespace, name: options.pod, labels: options.labels, sidecarPort: port, appPort: app.port });
  } catch (error) {
    await closeApp();
    throw error;
  }
  const dir = await mkdtemp(join(tmpdir(), `bulwark-sidecar-${options.pod}-`));
  const configPath = join(dir, "envoy.yaml");
  const nodeId = `${options.pod}.${options.namespace}`;
  const xds = await sidecarXds(kc, { namespace: options.namespace, pod: options.pod, xdsPort: options.xdsPort, delta: false, dir });
  await writeFile(configPath, stringify(sidecarBootstrap({ node: { id: nodeId, cluster: `${options.namespace}/${options.pod}` }, xds, admin: { port: adminPort } })));
  const envoy = startProcess({ name: `envoy ${nodeId}`, command: env.envoy, args: [...sidecarArgs(configPath), "--log-level", "warn"], logFile: join(dir, "envoy.log") });
  const admin = (path: string): Promise<HttpAnswer> => httpRequest(adminPort, path);
  const sidecar: LoginSidecar = {
    pod: options.pod,
    port,
    adminPort,
    hits: app.hits,
    envoy,
    async stats(filter: string): Promise<Map<string, number>> {
      const answer = await admin(`/stats?filter=${encodeURIComponent(filter)}`);
      const out = new Map<string, number>();
      for (const line of answer.body.split("\n")) {
        const m = /^([^:]+): (\d+)$/.exec(line.trim());
        if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
      }
      return out;
    },
    async stop(): Promise<void> {
      await envoy.stop();
      await closeApp();
    },
  };
  try {
    await waitUntilReady(envoy, async () => (await admin("/ready").catch(() => ({ status: 0 }))).status === 200, 30_000);
  } catch (error) {
    await sidecar.stop();
    throw error;
  }
  return sidecar;
}

/** `bulwark controller` (test/support/e2e.ts) whose sidecars call bulwark ratelimit at `ratelimitAddress`. */
export async function startControllerFor(env: E2eEnvironment, options: ControllerOptions, ratelimitAddress: string): Promise<ControllerProcess> {
  return startController(env, { ...options, extraArgs: [...(options.extraArgs ?? []), "--ratelimit-address", ratelimitAddress] });
}
