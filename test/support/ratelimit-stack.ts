import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { RedisTarget } from "../../common/redis-target.js";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { standaloneBootstrap } from "../../envoy/bootstrap/standalone-bootstrap.js";
import { FallbackStore } from "../../services/ratelimit/fallback-store.js";
import { limitsOf } from "../../services/ratelimit/limit-source.js";
import { RedisStore } from "../../services/ratelimit/redis-store.js";
import { RateLimitGrpcService } from "../../services/ratelimit/service.js";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { defaultSettings, render } from "../../operator/translate/render.js";
import { freePort, isAlive, killGroup, sleep, startProcess, waitUntilReady, type ManagedProcess } from "../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "./envoy-process.js";
import { testEnvironment } from "./environment.js";

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function send(port: number, options: { method?: string; path: string; headers?: Record<string, string> }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: options.method ?? "GET", path: options.path, headers: options.headers ?? {} }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A redis-server of the test's own on a fixed loopback port, so it can be stopped and started again at the same address. */
export class OwnRedis {
  private proc: ManagedProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), await mkdtemp(join(tmpdir(), "bulwark-ratelimit-redis-")));
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const proc = startProcess({
      name: "redis-server (ratelimit test)",
      command: testEnvironment().binaries.redisServer,
      args: ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.dir],
      logFile: join(this.dir, "redis.log"),
    });
    await waitUntilReady(proc, () => pingable(this.port), 15_000);
    this.proc = proc;
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = undefined;
  }

  /** kill -9: no shutdown, connections dropped. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc) return;
    killGroup(proc.pid, "SIGKILL");
    while (isAlive(proc.pid)) await sleep(10);
    // Let startProcess forget it (its exit is expected now).
    await proc.stop();
  }
}

async function pingable(port: number): Promise<boolean> {
  const { Redis } = await import("ioredis");
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** The app behind the sidecars: /v1/login answers 200 for password "right", else 401; anything else 200. Counts what reaches it. */
export async function startLoginApp(): Promise<{ server: Server; port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    req.resume();
    req.on("end", () => {
      const status = path === "/v1/login" && req.headers["x-password"] !== "right" ? 401 : 200;
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ path, status }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("the app has no port");
  return { server, port: address.port, hits };
}

/** A pino logger whose lines are kept, to assert what was logged. */
export function capturedLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      callback();
    },
  });
  return { log: pino({ level: "info" }, sink), lines };
}

export interface Replica {
  service: RateLimitGrpcService;
  store: FallbackStore;
  envoy: EnvoyProcess;
  /** The sidecar's listener port. */
  port: number;
  logs: string[];
}

/**
 * One replica of the protected workload as it runs in a cluster: a real Envoy sidecar with the
 * configuration the translation renders for pod `pod` (static bootstrap), calling its own
 * bulwark ratelimit (in this process, on a free port) whose counters live in `redisUrl`.
 */
export async function startReplica(options: {
  objects: (pod: { name: string; sidecarPort: number }) => TranslationInput;
  pod: string;
  redisUrl: string;
  /** Counters elsewhere than redisUrl (a Redis Cluster). */
  redisTarget?: RedisTarget;
}): Promise<Replica> {
  const { log, lines } = capturedLogger();
  const sidecarPort = await freePort();
  const input = options.objects({ name: options.pod, sidecarPort });
  const limits = limitsOf(input);
  const store = new FallbackStore(new RedisStore({ target: options.redisTarget ?? { kind: "single", url: options.redisUrl }, commandTimeoutMs: 200 }), log);
  const service = new RateLimitGrpcService({ store, limits: () => limits, domain: defaultSettings.rateLimitDomain, log });
  const grpcPort = await service.start("127.0.0.1", 0);
  const rendered = render(input, { ...defaultSettings, ratelimit: { host: "127.0.0.1", port: grpcPort, timeoutMs: 500 } });
  const workload = rendered.workloads.find((w) => w.sidecars.some((s) => s.startsWith(`${options.pod}.`)));
  if (!workload) throw new Error(`no workload for pod ${options.pod}: ${JSON.stringify(rendered.resolution.policies)}`);
  const envoy = await startEnvoy(standaloneBootstrap(workload.resources), `envoy-${options.pod}`);
  return { service, store, envoy, port: sidecarPort, logs: lines };
}

export async function stopReplica(replica: Replica | undefined): Promise<void> {
  if (!replica) return;
  await replica.envoy.stop();
  await replica.service.stop();
  await replica.store.close();
}
