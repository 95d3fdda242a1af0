import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { homedir, loadavg, tmpdir, cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { percentile } from "./stats.js";
import { exec } from "../test/env/exec.js";
import { freePort, sleep, startProcess, waitUntilReady, type ManagedProcess } from "../test/env/processes.js";
import { provisionRedis } from "../test/env/provision/redis-binary.js";
import type { Benchmark } from "./benchmark.js";
import type { LoadCase } from "./ratelimit-load.js";
import { chartNodeOptions } from "./compiled-cli.js";
import { cpuSeconds, httpOk, LIMIT_NAME, LoadGenerator, objects, OTHER_CORE, pinned, ratelimitServerArgs, runQueueSeconds, SERVER_CORE } from "./ratelimit-service.js";

/**
 * bulwark ratelimit beside envoyproxy/ratelimit (issue #19, goal 1): the same Redis, the same
 * load generator, byte-identical ShouldRateLimit requests (domain bulwark, 10,000 devices, one
 * descriptor limit + header:x-device-id), each server pinned to the same core and idle while the
 * other is measured, rounds interleaved (bulwark, peer, bulwark, peer, ...). The peer is built
 * from the Go module proxy with `go install` (a build-time tool of the benchmark, never vendored)
 * into the bench cache. Reported per case: decisions per CPU-second of each server, the ratio
 * Bulwark ÷ peer per round (min, median, max), p50/p99, RSS after the rounds, each server's
 * run-queue wait, and the machine's load average.
 * BENCH_PEER_ROUNDS (default 3), BENCH_PEER_RATES (default "1000,0"; 0 = closed loop at 64 in flight).
 */
const here = dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = join(here, "results", "ratelimit-peer.json");
const PEER_MODULE = "github.com/envoyproxy/ratelimit/src/service_cmd";
const PEER_VERSION = process.env.BENCH_PEER_VERSION ?? "v1.4.1-0.20260122083618-3fb702589d36";
const ROUNDS = Number(process.env.BENCH_PEER_ROUNDS ?? "3");
const RATES = (process.env.BENCH_PEER_RATES ?? "1000,0").split(",").map(Number);
const KEYS = 10_000;
const DURATION_MS = 5000;
const WARMUP_MS = 1000;

/** `go install` of the peer into a cache folder of its own; returns the binary. */
async function provisionPeer(): Promise<string> {
  const gobin = join(process.env.BULWARK_CACHE_DIR ?? join(homedir(), ".cache", "bulwark"), `ratelimit-peer-${PEER_VERSION}`, "bin");
  const binary = join(gobin, "service_cmd");
  try {
    readFileSync(binary);
    return binary;
  } catch {
    console.log(`building the peer: go install ${PEER_MODULE}@${PEER_VERSION} (first run only)`);
    await exec("go", ["install", `${PEER_MODULE}@${PEER_VERSION}`], { missingFix: "install Go 1.26+", env: { ...process.env, GOBIN: gobin } });
    return binary;
  }
}

function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

interface Server {
  name: "bulwark" | "peer";
  process: ManagedProcess;
  grpcPort: number;
}

interface Measured {
  perCoreSecond: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  runQueueWait: number;
  failed: number;
}

async function startBulwark(dir: string, redisPort: number): Promise<Server> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const s = pinned(SERVER_CORE, process.execPath, await ratelimitServerArgs({ objectsDir: join(dir, "objects"), grpcPort, httpPort, redisPort }));
  const process_ = startProcess({ name: "bulwark ratelimit", ...s, logFile: join(dir, "bulwark.log") });
  await waitUntilReady(process_, () => httpOk(httpPort, "/readyz"), 60_000);
  return { name: "bulwark", process: process_, grpcPort };
}

async function startPeer(binary: string, dir: string, redisPort: number): Promise<Server> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const debugPort = await freePort();
  // The same budget as Bulwark's policy: one limit per device, far above what the load spends.
  await mkdir(join(dir, "runtime", "ratelimit", "config"), { recursive: true });
  await writeFile(
    join(dir, "runtime", "ratelimit", "config", "bulwark.yaml"),
    stringify({
      domain: "bulwark",
      descriptors: [{ key: "limit", value: LIMIT_NAME, descriptors: [{ key: "header:x-device-id", rate_limit: { unit: "minute", requests_per_unit: 1_000_000_000 } }] }],
    }),
  );
  const s = pinned(SERVER_CORE, binary, []);
  const env = {
    ...process.env,
    GOMAXPROCS: "1",
    USE_STATSD: "false",
    LOG_LEVEL: "warn",
    REDIS_SOCKET_TYPE: "tcp",
    REDIS_URL: `127.0.0.1:${redisPort}`,
    RUNTIME_ROOT: join(dir, "runtime"),
    RUNTIME_SUBDIRECTORY: "ratelimit",
    RUNTIME_WATCH_ROOT: "false",
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: String(grpcPort),
    HOST: "127.0.0.1",
    PORT: String(httpPort),
    DEBUG_HOST: "127.0.0.1",
    DEBUG_PORT: String(debugPort),
  };
  const process_ = startProcess({ name: "envoyproxy/ratelimit", ...s, env, logFile: join(dir, "peer.log") });
  await waitUntilReady(process_, () => httpOk(httpPort, "/healthcheck"), 60_000);
  return { name: "peer", process: process_, grpcPort };
}

async function measure(load: LoadGenerator, server: Server, rate: number): Promise<Measured> {
  const c: LoadCase = { target: "grpc-raw", port: server.grpcPort, rate, inFlight: 64, keys: KEYS, durationMs: DURATION_MS, warmupMs: 0, limitName: LIMIT_NAME, path: "" };
  await load.run({ ...c, durationMs: WARMUP_MS });
  const pid = server.process.pid;
  const before = { cpu: cpuSeconds(pid), wait: runQueueSeconds(pid) };
  const result = await load.run(c);
  const cpu = cpuSeconds(pid) - before.cpu;
  return {
    perCoreSecond: cpu > 0 ? Math.round(result.answered / cpu) : 0,
    perSecond: Math.round(result.answered / result.seconds),
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    runQueueWait: Number(((runQueueSeconds(pid) - before.wait) / result.seconds).toFixed(3)),
    failed: result.failed,
  };
}

function spread(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x: number): number => Number(x.toFixed(2));
  return { min: round(sorted[0] ?? 0), median: round(percentile(sorted, 0.5)), max: round(sorted[sorted.length - 1] ?? 0) };
}

export const ratelimitPeer: Benchmark = {
  name: "ratelimit-peer",
  async run(): Promise<void> {
    const [{ redisServer }, peerBinary] = await Promise.all([provisionRedis(), provisionPeer()]);
    const dir = await mkdtemp(join(tmpdir(), "bulwark-bench-peer-"));
    const processes: ManagedProcess[] = [];
    let load: LoadGenerator | undefined;
    const cases: unknown[] = [];
    try {
      const redisPort = await freePort();
      const r = pinned(OTHER_CORE, redisServer, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]);
      processes.push(startProcess({ name: "redis-server", ...r, logFile: join(dir, "redis.log") }));
      await mkdir(join(dir, "objects"));
      const input = objects({ sidecar: 15006, app: 8080 });
      await writeFile(join(dir, "objects", "objects.yaml"), [...input.policies, ...input.services, ...input.pods].map((o) => stringify(o)).join("---\n"));
      const bulwark = await startBulwark(dir, redisPort);
      processes.push(bulwark.process);
      const peer = await startPeer(peerBinary, dir, redisPort);
      processes.push(peer.process);
      await sleep(500);
      load = await LoadGenerator.start();
      for (const rate of RATES) {
        const rounds: { bulwark: Measured; peer: Measured }[] = [];
        for (let i = 0; i < ROUNDS; i++) rounds.push({ bulwark: await measure(load, bulwark, rate), peer: await measure(load, peer, rate) });
        const ratio = spread(rounds.map((x) => (x.peer.perCoreSecond > 0 ? x.bulwark.perCoreSecond / x.peer.perCoreSecond : 0)));
        const p99 = spread(rounds.map((x) => (x.peer.p99Ms > 0 ? x.bulwark.p99Ms / x.peer.p99Ms : 0)));
        const label = rate === 0 ? "max (64 in flight)" : `${rate}/s`;
        console.log(
          `${label.padEnd(20)} decisions per CPU-second, Bulwark ÷ peer: min ${ratio.min} median ${ratio.median} max ${ratio.max}; p99 Bulwark ÷ peer: ${p99.median} (median)`,
        );
        for (const [i, x] of rounds.entries())
          console.log(
            `  round ${i + 1}: bulwark ${x.bulwark.perCoreSecond}/cpu-s ${x.bulwark.perSecond}/s p50 ${x.bulwark.p50Ms} p99 ${x.bulwark.p99Ms} ms waited ${(x.bulwark.runQueueWait * 100).toFixed(0)}% failed ${x.bulwark.failed} | peer ${x.peer.perCoreSecond}/cpu-s ${x.peer.perSecond}/s p50 ${x.peer.p50Ms} p99 ${x.peer.p99Ms} ms waited ${(x.peer.runQueueWait * 100).toFixed(0)}% failed ${x.peer.failed}`,
          );
        cases.push({ rate, rounds, ratioPerCoreSecond: ratio, ratioP99: p99 });
      }
      const rss = { bulwarkMiB: rssMiB(bulwark.process.pid), peerMiB: rssMiB(peer.process.pid) };
      console.log(
        `RSS after the rounds: bulwark ${rss.bulwarkMiB} MiB, peer ${rss.peerMiB} MiB; load average ${loadavg()
          .map((x) => x.toFixed(2))
          .join(" ")}`,
      );
      await mkdir(dirname(RESULTS_FILE), { recursive: true });
      await writeFile(
        RESULTS_FILE,
        `${JSON.stringify({ conditions: { cpu: cpus()[0]?.model, cores: cpus().length, loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))), node: process.version, nodeOptions: chartNodeOptions("ratelimit"), peer: `${PEER_MODULE}@${PEER_VERSION}`, rounds: ROUNDS, keys: KEYS, durationMs: DURATION_MS }, rss, cases }, null, 2)}\n`,
      );
    } finally {
      load?.stop();
      for (const p of processes.reverse()) await p.stop();
    }
  },
};
