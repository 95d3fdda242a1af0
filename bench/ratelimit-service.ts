import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { standaloneBootstrap } from "../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../operator/resolve/objects.js";
import { policy, service, sidecarPod } from "../operator/testdata/objects.js";
import { defaultSettings, render } from "../operator/translate/render.js";
import { exec } from "../test/env/exec.js";
import { freePort, sleep, startProcess, waitUntilReady, type ManagedProcess } from "../test/env/processes.js";
import { provisionEnvoy } from "../test/env/provision/envoy-binary.js";
import { provisionRedis } from "../test/env/provision/redis-binary.js";
import type { Benchmark } from "./benchmark.js";
import { chartNodeOptions, compiledCli } from "./compiled-cli.js";
import type { LoadCase, LoadResult } from "./ratelimit-load.js";

/**
 * bulwark ratelimit as it runs: the `bulwark ratelimit` CLI in its own process pinned to one
 * core (taskset -c 1), counting in a real Redis; the load generator (bench/ratelimit-load.ts) in
 * another process on the other core, with Redis and Envoy. Open loop at fixed rates and a closed
 * loop for the maximum, for 1 and 10,000 distinct keys:
 *   - grpc: ShouldRateLimit straight to the service;
 *   - envoy: HTTP through a real Envoy (--concurrency 1) whose route has a Global limit, i.e. the
 *     ratelimit filter calling the service, then the app; and the same Envoy on a route without
 *     a limit, as the baseline of what Envoy and the app cost.
 * Decisions per core = decisions / CPU seconds of the ratelimit process (from /proc).
 * Decisions per core is the figure that survives a shared machine; latency needs quiet cores
 * (each row reports how long the server waited for its core).
 * BENCH_RATELIMIT_QUICK=1 runs 1 s per case and does not write the results file;
 * BENCH_RATELIMIT_GRPC_RATES / BENCH_RATELIMIT_ENVOY_RATES ("1000,0"; 0 = max) choose the cases;
 * BENCH_RATELIMIT_PROFILE_DIR writes a CPU profile of the server, BENCH_RATELIMIT_NODE_FLAGS adds
 * Node.js flags to it, BENCH_RATELIMIT_SERVER_REPO runs another checkout's compiled server (before/after;
 * run `npm run build:js` there first).
 */
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..");
const RESULTS_FILE = join(here, "results", "ratelimit-service.json");
const quick = process.env.BENCH_RATELIMIT_QUICK === "1";
const DURATION_MS = quick ? 1000 : 5000;
const WARMUP_MS = quick ? 300 : 1000;
export const SERVER_CORE = "1";
export const OTHER_CORE = "0";
const GRPC_RATES = (process.env.BENCH_RATELIMIT_GRPC_RATES ?? "1000,2500,5000,0").split(",").map(Number);
const ENVOY_RATES = (process.env.BENCH_RATELIMIT_ENVOY_RATES ?? "500,1000,2500").split(",").filter(Boolean).map(Number);
const MAX_IN_FLIGHT = 64;
const KEYS = [1, 10_000];
const NAMESPACE = "bench";
export const LIMIT_NAME = `apisecuritypolicy/${NAMESPACE}/api/rule/images/ratelimit/per-device`;

interface Row {
  path: "grpc" | "envoy" | "envoy-no-limit";
  keys: number;
  /** Offered requests/s; 0 = closed loop with `inFlight` outstanding. */
  rate: number;
  inFlight?: number;
  answered: number;
  failed: number;
  perSecond: number;
  /** Decisions per CPU second of the ratelimit process. */
  perServerCoreSecond: number | null;
  serverCpu: number;
  redisCpu: number;
  generatorCpu: number;
  /** Share of the time the ratelimit process was runnable but waited for its core (other work on it). */
  serverRunQueueWait: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export function objects(ports: { sidecar: number; app: number }): TranslationInput {
  return {
    policies: [
      policy({
        namespace: NAMESPACE,
        name: "api",
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "api" }],
          rules: [
            {
              name: "images",
              authentication: "None",
              match: { pathPrefix: "/v1/images/" },
              rateLimits: [{ name: "per-device", key: ["header:X-Device-Id"], limit: { requests: 1_000_000_000, per: "1m" } }],
            },
            { name: "static", authentication: "None", match: { pathPrefix: "/static/" } },
          ],
        },
      }),
    ],
    services: [service(NAMESPACE, "api", { app: "api" })],
    pods: [sidecarPod(NAMESPACE, "api-0", { app: "api" }, ports)],
    secrets: [],
    now: new Date().toISOString(),
  };
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Seconds the process's main thread waited for a CPU while runnable (contention). */
export function runQueueSeconds(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
}

export function tsxLoader(): string {
  return pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;
}

export function pinned(core: string, command: string, args: string[]): { command: string; args: string[] } {
  return { command: "taskset", args: ["-c", core, command, ...args] };
}

/** `node dist/cli/main.js ratelimit` (compiled, as production runs it) reading `objectsDir`, counting in the Redis on `redisPort`: the server both ratelimit benchmarks run. */
export async function ratelimitServerArgs(o: {
  objectsDir: string;
  grpcPort: number;
  httpPort: number;
  redisPort: number;
  repo?: string;
  nodeFlags?: string[];
}): Promise<string[]> {
  return [
    // As the Helm chart runs it (its NODE_OPTIONS), then the bench's own flags.
    ...chartNodeOptions("ratelimit").split(" ").filter(Boolean),
    ...(o.nodeFlags ?? []),
    await compiledCli(o.repo),
    "ratelimit",
    "-f",
    o.objectsDir,
    "--grpc-address",
    `127.0.0.1:${o.grpcPort}`,
    "--http-address",
    `127.0.0.1:${o.httpPort}`,
    "--redis-url",
    `redis://127.0.0.1:${o.redisPort}`,
    "--log-level",
    "warn",
  ];
}

/** The load generator process, answering LoadCases over IPC. */
export class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<LoadGenerator> {
    const p = pinned(OTHER_CORE, process.execPath, ["--import", tsxLoader(), join(here, "ratelimit-load.ts")]);
    const child = spawn(p.command, p.args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`load generator exited with ${code}`)));
    });
    return new LoadGenerator(child);
  }

  run(c: LoadCase): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.child.once("message", (m: { ok: boolean; result?: LoadResult; error?: string }) =>
        m.ok && m.result ? resolve(m.result) : reject(new Error(m.error ?? "load generator failed")),
      );
      this.child.send(c);
    });
  }

  stop(): void {
    this.child.kill("SIGTERM");
  }
}

async function startApp(): Promise<{ server: Server; port: number }> {
  const body = Buffer.from('{"ok":true}');
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length }).end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("no port");
  return { server, port: address.port };
}

export async function httpOk(port: number, path: string): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return response.status === 200;
  } catch {
    return false;
  }
}

function line(r: Row): string {
  const rate = r.rate === 0 ? `max(${r.inFlight ?? 0} in flight)` : `${r.rate}/s`;
  return `${r.path.padEnd(14)} keys=${String(r.keys).padEnd(6)} ${rate.padEnd(18)} ${String(r.perSecond).padStart(6)}/s  ${String(r.perServerCoreSecond ?? "-").padStart(6)}/server-core-s  server cpu ${(r.serverCpu * 100).toFixed(0).padStart(3)}%  redis ${(r.redisCpu * 100).toFixed(0).padStart(3)}%  load ${(r.generatorCpu * 100).toFixed(0).padStart(3)}%  server waited ${(r.serverRunQueueWait * 100).toFixed(0).padStart(3)}%  p50 ${r.p50Ms} p90 ${r.p90Ms} p99 ${r.p99Ms} p99.9 ${r.p999Ms} ms${r.failed ? `  FAILED ${r.failed}` : ""}`;
}

export const ratelimitService: Benchmark = {
  name: "ratelimit-service",
  async run(): Promise<void> {
    const [{ redisServer }, { envoy: envoyBinary }] = await Promise.all([provisionRedis(), provisionEnvoy()]);
    const dir = await mkdtemp(join(tmpdir(), "bulwark-bench-ratelimit-"));
    const processes: ManagedProcess[] = [];
    let load: LoadGenerator | undefined;
    let app: { server: Server; port: number } | undefined;
    const rows: Row[] = [];
    try {
      const redisPort = await freePort();
      const r = pinned(OTHER_CORE, redisServer, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]);
      const redis = startProcess({ name: "redis-server", ...r, logFile: join(dir, "redis.log") });
      processes.push(redis);

      app = await startApp();
      const sidecarPort = await freePort();
      const input = objects({ sidecar: sidecarPort, app: app.port });
      await mkdir(join(dir, "objects"));
      await writeFile(join(dir, "objects", "objects.yaml"), [...input.policies, ...input.services, ...input.pods].map((o) => stringify(o)).join("---\n"));

      const grpcPort = await freePort();
      const httpPort = await freePort();
      const profile = process.env.BENCH_RATELIMIT_PROFILE_DIR;
      const s = pinned(
        SERVER_CORE,
        process.execPath,
        await ratelimitServerArgs({
          nodeFlags: [...(profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : []), ...(process.env.BENCH_RATELIMIT_NODE_FLAGS ?? "").split(" ").filter(Boolean)],
          // BENCH_RATELIMIT_SERVER_REPO: another checkout's server (before/after comparisons).
          repo: process.env.BENCH_RATELIMIT_SERVER_REPO ?? repoRoot,
          objectsDir: join(dir, "objects"),
          grpcPort,
          httpPort,
          redisPort,
        }),
      );
      const server = startProcess({ name: "bulwark ratelimit", ...s, logFile: join(dir, "ratelimit.log") });
      if (profile) console.log(`server log: ${server.logFile}`);
      processes.push(server);
      await waitUntilReady(server, () => httpOk(httpPort, "/readyz"), 60_000);
      await sleep(500); // Redis connected

      const rendered = render(input, { ...defaultSettings, ratelimit: { host: "127.0.0.1", port: grpcPort, timeoutMs: 1000 } });
      const workload = rendered.workloads[0];
      if (!workload) throw new Error("no workload rendered");
      const adminPort = await freePort();
      const bootstrap = { ...standaloneBootstrap(workload.resources), admin: { address: { socket_address: { address: "127.0.0.1", port_value: adminPort } } } };
      await writeFile(join(dir, "envoy.yaml"), stringify(bootstrap));
      const e = pinned(OTHER_CORE, envoyBinary, ["--config-path", join(dir, "envoy.yaml"), "--disable-hot-restart", "--log-level", "warn", "--concurrency", "1"]);
      const envoy = startProcess({ name: "envoy", ...e, logFile: join(dir, "envoy.log") });
      processes.push(envoy);
      await waitUntilReady(envoy, () => httpOk(adminPort, "/ready"), 30_000);

      load = await LoadGenerator.start();
      const measure = async (path: Row["path"], keys: number, rate: number): Promise<void> => {
        const c: LoadCase = {
          target: path === "grpc" ? "grpc-raw" : "http",
          port: path === "grpc" ? grpcPort : sidecarPort,
          rate,
          inFlight: MAX_IN_FLIGHT,
          keys,
          durationMs: DURATION_MS,
          warmupMs: WARMUP_MS,
          limitName: LIMIT_NAME,
          path: path === "envoy-no-limit" ? "/static/x" : "/v1/images/x.jpg",
        };
        // CPU is sampled around the whole case; the warm-up is subtracted by measuring it apart.
        const warm = { ...c, durationMs: WARMUP_MS, warmupMs: 0 };
        await load?.run(warm);
        const before = { server: cpuSeconds(server.pid), redis: cpuSeconds(redis.pid), wait: runQueueSeconds(server.pid) };
        const result = await (load as LoadGenerator).run({ ...c, warmupMs: 0 });
        const used = { server: cpuSeconds(server.pid) - before.server, redis: cpuSeconds(redis.pid) - before.redis, wait: runQueueSeconds(server.pid) - before.wait };
        const decisions = path === "envoy-no-limit" ? 0 : result.answered;
        const row: Row = {
          path,
          keys,
          rate,
          ...(rate === 0 ? { inFlight: MAX_IN_FLIGHT } : {}),
          answered: result.answered,
          failed: result.failed,
          perSecond: Math.round(result.answered / result.seconds),
          perServerCoreSecond: decisions > 0 && used.server > 0 ? Math.round(decisions / used.server) : null,
          serverCpu: Number((used.server / result.seconds).toFixed(3)),
          redisCpu: Number((used.redis / result.seconds).toFixed(3)),
          generatorCpu: Number((result.generatorCpuSeconds / result.seconds).toFixed(3)),
          serverRunQueueWait: Number((used.wait / result.seconds).toFixed(3)),
          p50Ms: result.p50Ms,
          p90Ms: result.p90Ms,
          p99Ms: result.p99Ms,
          p999Ms: result.p999Ms,
          maxMs: result.maxMs,
        };
        rows.push(row);
        console.log(line(row));
        if (result.failures.length) console.log(`  failures: ${result.failures.join("; ")}`);
      };
      // JIT warm-up of the server before the first measured case (the warm-up of each case is shorter).
      await load.run({ target: "grpc-raw", port: grpcPort, rate: 2000, inFlight: 1, keys: 10_000, durationMs: 3 * WARMUP_MS, warmupMs: 0, limitName: LIMIT_NAME, path: "" });
      for (const keys of KEYS) for (const rate of GRPC_RATES) await measure("grpc", keys, rate);
      await measure("envoy-no-limit", 1, 1000);
      for (const keys of KEYS) for (const rate of ENVOY_RATES) await measure("envoy", keys, rate);
    } finally {
      load?.stop();
      for (const p of processes.reverse()) await p.stop();
      if (app) await new Promise((resolve) => app?.server.close(resolve));
    }
    if (quick) return;
    const envoyVersion = /version: (\S+)/.exec((await exec(envoyBinary, ["--version"], { missingFix: "" })).stdout)?.[1] ?? "";
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(
      RESULTS_FILE,
      `${JSON.stringify(
        {
          conditions: {
            cpu: cpus()[0]?.model,
            cores: cpus().length,
            loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
            node: process.version,
            envoy: envoyVersion,
            durationMs: DURATION_MS,
            warmupMs: WARMUP_MS,
            layout: `bulwark ratelimit (CLI, Redis store, log level warn) pinned to core ${SERVER_CORE}; load generator, redis-server and Envoy (--concurrency 1) pinned to core ${OTHER_CORE}; the app in the benchmark process. gRPC load: ShouldRateLimit messages encoded once, sent on one HTTP/2 connection (what Envoy's client does, without a gRPC library's cost in the generator). Latency from the request handed to the client library to its answer; open loop at a fixed rate, or closed loop with ${MAX_IN_FLIGHT} in flight (rate 0).`,
          },
          results: rows,
        },
        null,
        2,
      )}\n`,
    );
  },
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ratelimitService.run().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
