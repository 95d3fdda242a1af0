/**
 * `bulwark authz` as a separate process (node --import tsx cli/main.ts authz), watching
 * Kubernetes, with its ext_authz gRPC port and its health/metrics port on loopback.
 */
import { freePort } from "../env/processes.js";
import { startBulwark, type BulwarkProcess } from "./e2e.js";

export interface AuthzProcessOptions {
  /** Watch Kubernetes with this kubeconfig, or read `files` (one of the two). */
  kubeconfig?: string;
  files?: string[];
  /** The ext_authz port; a free one when absent (give the same one to restart in place). */
  grpcPort?: number;
  /** DPoP replay cache shared by replicas; in memory when absent. */
  redisUrl?: string;
  dpopNonceSecret?: string;
  /** Wait for /readyz (a route table loaded); otherwise only for /healthz. Default true. */
  waitReady?: boolean;
  logLevel?: string;
  /** NODE_OPTIONS of the process (e.g. --heapsnapshot-signal to measure its heap). */
  nodeOptions?: string;
}

export interface AuthzProcess extends BulwarkProcess {
  grpcPort: number;
}

export async function startAuthzProcess(options: AuthzProcessOptions): Promise<AuthzProcess> {
  const grpcPort = options.grpcPort ?? (await freePort());
  const source = options.files ? options.files.flatMap((f) => ["-f", f]) : ["--kubeconfig", options.kubeconfig ?? ""];
  const started = await startBulwark({
    command: "authz",
    name: "bulwark authz",
    probe: (options.waitReady ?? true) ? "/readyz" : "/healthz",
    ...(options.nodeOptions ? { nodeOptions: options.nodeOptions } : {}),
    args: [
      ...source,
      "--address",
      `127.0.0.1:${grpcPort}`,
      "--log-level",
      options.logLevel ?? "info",
      ...(options.redisUrl ? ["--redis-url", options.redisUrl] : []),
      ...(options.dpopNonceSecret ? ["--dpop-nonce-secret", options.dpopNonceSecret] : []),
    ],
  });
  return { ...started, grpcPort };
}
