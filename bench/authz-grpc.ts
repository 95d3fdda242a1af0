/**
 * Benchmark: the most Check calls bulwark authz answers per second on one core, direct over gRPC.
 * The server (bench/authz-worker.ts, as `bulwark authz` builds it) runs in its own process pinned
 * to core 1, the load generator in another pinned to core 0 (when there are two cores), with 64
 * calls in flight on one channel and CheckRequests serialised beforehand, each with a fresh
 * DPoP proof. Checks per core-second = calls / CPU seconds of the server process.
 * BENCH_AUTHZ_QUICK=1 runs 1 s per case and writes no results file;
 * The server runs with the chart's authz.nodeOptions (BENCH_NODE_OPTIONS replaces them).
 * BENCH_AUTHZ_PROFILE=DIR writes the server's CPU profiles there; BENCH_AUTHZ_SERVER_FLAGS adds Node
 * flags to the server (e.g. "--max-semi-space-size=32").
 */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { provisionRedis } from "../test/env/provision/redis-binary.js";
import { startRedis } from "../test/env/redis.js";
import { TestIssuer } from "../test/support/authz-client.js";
import { benchInput, cores, ISSUER, RESULTS_DIR, routeOf, Worker, type Scenario } from "./authz-stack.js";
import type { Benchmark } from "./benchmark.js";
import { authzServerFlags } from "./compiled-cli.js";
import { runQueueSeconds } from "./ratelimit-service.js";

const quick = process.env.BENCH_AUTHZ_QUICK === "1";
const DURATION_MS = quick ? 1000 : 5000;
const WARMUP_CALLS = quick ? 500 : 3000;
const IN_FLIGHT = 64;
/**
 * Fresh proofs for the warm-up and DURATION_MS at up to 10,000 calls per second (a run that uses
 * them all says so). More would take longer to sign than the route's 60 s proof age on a busy
 * machine, and the first proofs would be refused as stale.
 */
const PROOFS = WARMUP_CALLS + Math.ceil((DURATION_MS / 1000) * 10_000);

export interface AuthzGrpcResult {
  scenario: Scenario;
  replayStore: "memory" | "redis" | "none";
  inFlight: number;
  calls: number;
  seconds: number;
  callsPerSecond: number;
  /** Calls per CPU second of the server process. */
  callsPerServerCoreSecond: number;
  serverCpuSeconds: number;
  /** Share of the measured time the server's main thread waited for its core while runnable (contention). */
  serverRunQueueWait: number;
  loadCpuSeconds: number;
  p50Us: number;
  p99Us: number;
  pinned: boolean;
}

async function serverCpuSeconds(server: Worker): Promise<number> {
  const cpu = await server.ask({ kind: "cpu" }, "cpu");
  return (cpu.userUs + cpu.systemUs) / 1e6;
}

async function runCase(options: {
  load: Worker;
  scenario: Scenario;
  store: AuthzGrpcResult["replayStore"];
  redisUrl: string;
  input: ReturnType<typeof benchInput>;
  run: number;
  /** Requests made once the server serves, so every proof is issued after its replay store began remembering. */
  proofs: number;
  cycle?: boolean;
}): Promise<AuthzGrpcResult> {
  const core = cores();
  const profileDir = process.env.BENCH_AUTHZ_PROFILE;
  const nodeFlags = authzServerFlags();
  const server = new Worker("authz-server", { cpu: core.server, nodeFlags, ...(profileDir ? { profileDir } : {}) });
  try {
    const redis = options.store === "redis" ? { redisUrl: options.redisUrl, redisPrefix: `bench:${Date.now()}:${options.run}:` } : {};
    const { port } = await server.ask({ kind: "serve", input: options.input, ...redis }, "serving");
    await options.load.ask({ kind: "grpc-prepare", route: routeOf(options.scenario), proofs: options.proofs }, "prepared");
    let before = 0;
    let waitedBefore = 0;
    let measuredFrom = 0;
    const measuring = options.load.ask(undefined, "measuring").then(async () => {
      waitedBefore = runQueueSeconds(server.pid);
      measuredFrom = performance.now();
      before = await serverCpuSeconds(server);
    });
    const done = await options.load.ask(
      { kind: "grpc-load", port, durationMs: DURATION_MS, warmupCalls: WARMUP_CALLS, inFlight: IN_FLIGHT, cycle: options.cycle ?? false },
      "grpc-done",
    );
    await measuring;
    const serverCpu = (await serverCpuSeconds(server)) - before;
    const serverRunQueueWait = (runQueueSeconds(server.pid) - waitedBefore) / ((performance.now() - measuredFrom) / 1000);
    if (done.errors > 0 || done.refused > 0) throw new Error(`${options.scenario}/${options.store}: ${done.errors} errors, ${done.refused} refusals (${done.firstProblem})`);
    if (done.exhausted) console.log(`(${options.scenario}/${options.store}: ran out of pre-generated proofs after ${done.seconds.toFixed(1)} s)`);
    return {
      scenario: options.scenario,
      replayStore: options.store,
      inFlight: IN_FLIGHT,
      calls: done.calls,
      seconds: Number(done.seconds.toFixed(2)),
      callsPerSecond: Math.round(done.calls / done.seconds),
      callsPerServerCoreSecond: Math.round(done.calls / serverCpu),
      serverCpuSeconds: Number(serverCpu.toFixed(2)),
      serverRunQueueWait: Number(serverRunQueueWait.toFixed(3)),
      loadCpuSeconds: Number(done.loadCpuSeconds.toFixed(2)),
      p50Us: Math.round(done.p50Us),
      p99Us: Math.round(done.p99Us),
      pinned: server.pinned && options.load.pinned,
    };
  } finally {
    await server.stop();
  }
}

export async function runAuthzGrpcBench(): Promise<AuthzGrpcResult[]> {
  const { redisServer } = await provisionRedis();
  const redis = await startRedis({ dir: await mkdtemp(join(tmpdir(), "bulwark-bench-authz-redis-")), redisServer, keepAlive: false });
  const idp = await TestIssuer.create(ISSUER);
  const input = benchInput({ jwks: idp.jwks });
  const load = new Worker("authz-load-grpc", { cpu: cores().load });
  const results: AuthzGrpcResult[] = [];
  try {
    let run = 0;
    // Fresh proofs for each server, made once it serves: a replay store refuses proofs issued before it began remembering.
    for (const store of ["memory", "redis"] as const)
      results.push(await runCase({ load, scenario: "authz-jwt-dpop", store, redisUrl: redis.url, input, run: run++, proofs: PROOFS }));
    // Without DPoP nothing is single-use: a few thousand requests, sent again and again.
    results.push(await runCase({ load, scenario: "authz-jwt", store: "none", redisUrl: redis.url, input, run: run++, proofs: 4000, cycle: true }));
  } finally {
    await load.stop();
    await redis.process.stop();
  }
  return results;
}

export const authzGrpc: Benchmark = {
  name: "authz-grpc",
  async run(): Promise<void> {
    const results = await runAuthzGrpcBench();
    const core = cores();
    console.log(
      `Check direct over gRPC, ${IN_FLIGHT} in flight, ${DURATION_MS / 1000} s per case; server on core ${core.server ?? "any"}, load generator on core ${core.load ?? "any"} (${core.count} cores, load average ${loadavg()[0]?.toFixed(2)}), Node ${process.version}`,
    );
    console.log("route            replay   calls/s  calls/server-core-s  p50 µs  p99 µs  server CPU s  load CPU s  server waited");
    for (const r of results) {
      console.log(
        `${r.scenario.padEnd(16)} ${r.replayStore.padEnd(7)} ${String(r.callsPerSecond).padStart(8)} ${String(r.callsPerServerCoreSecond).padStart(20)} ${String(r.p50Us).padStart(7)} ${String(r.p99Us).padStart(7)} ${String(r.serverCpuSeconds).padStart(13)} ${String(r.loadCpuSeconds).padStart(11)} ${`${Math.round(r.serverRunQueueWait * 100)}%`.padStart(14)}`,
      );
    }
    if (quick) return;
    await mkdir(RESULTS_DIR, { recursive: true });
    const meta = {
      node: process.version,
      /** The server's Node.js flags: the chart's authz.nodeOptions unless BENCH_NODE_OPTIONS replaced them. */
      nodeFlags: authzServerFlags(),
      cpu: cpus()[0]?.model,
      cores: core.count,
      loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(2)),
      serverCore: core.server ?? null,
      loadCore: core.load ?? null,
      durationMs: DURATION_MS,
      warmupCalls: WARMUP_CALLS,
    };
    await writeFile(join(RESULTS_DIR, "authz-grpc.json"), `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
  },
};
