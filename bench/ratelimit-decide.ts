import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import type { GlobalRateLimitIR, IR } from "../contract/ir.js";
import { decide, type DescriptorInput } from "../services/ratelimit/decide.js";
import { indexLimits } from "../services/ratelimit/limits.js";
import { MemoryStore } from "../services/ratelimit/memory-store.js";
import { ratelimitServices, type RateLimitRequestMessage, type RateLimitResponseMessage } from "../services/ratelimit/protocol.js";
import { RedisStore } from "../services/ratelimit/redis-store.js";
import { RateLimitGrpcService } from "../services/ratelimit/service.js";
import type { CounterStore } from "../services/ratelimit/store.js";
import { provisionRedis } from "../test/env/provision/redis-binary.js";
import { startRedis } from "../test/env/redis.js";
import type { Benchmark } from "./benchmark.js";
import { percentile } from "./stats.js";

/**
 * bulwark ratelimit decisions: decide() directly and ShouldRateLimit over gRPC (client in the
 * same process), against Redis (auto-pipelined, one script call per decision) and memory, for 1
 * and 10,000 distinct keys, 1 and 64 decisions in flight. Decisions per core = decisions / CPU seconds
 * of this Node.js process (Redis's own CPU not included).
 * BENCH_RATELIMIT_QUICK=1 runs 1 s per case and does not write the results file.
 */
const here = dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = join(here, "results", "ratelimit-decide.json");
const quick = process.env.BENCH_RATELIMIT_QUICK === "1";
const DURATION_MS = quick ? 1000 : 5000;
/** 1 in flight: the latency of one decision; 64: throughput under load (latency includes queueing). */
const IN_FLIGHT = [1, 64] as const;

const limit: GlobalRateLimitIR = {
  name: "apisecuritypolicy/bench/api/rule/images/ratelimit/per-device",
  key: [{ kind: "header", header: "x-device-id" }],
  requests: 1_000_000_000,
  windowSeconds: 60,
  shadow: false,
  failureMode: "Allow",
  responseHeaders: true,
};

const ir: IR = {
  workloads: [
    {
      name: "bench",
      namespace: "bench",
      sidecars: [],
      listener: { port: 15006 },
      app: { port: 8080 },
      jwtProviders: [],
      routes: [
        {
          name: "apisecuritypolicy/bench/api/rule/images",
          match: { path: { kind: "prefix", prefix: "/" }, methods: [] },
          action: { kind: "forward", checks: { authentication: "None", globalRateLimits: [limit] }, responseHeaders: [] },
        },
      ],
    },
  ],
};

interface Result {
  path: "decide" | "grpc";
  store: "redis" | "memory";
  keys: number;
  inFlight: number;
  decisions: number;
  decisionsPerSecond: number;
  decisionsPerCoreSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function descriptor(i: number, keys: number): DescriptorInput {
  return {
    entries: [
      { key: "limit", value: limit.name },
      { key: "header:x-device-id", value: `device-${i % keys}` },
    ],
  };
}

/** Runs `one` with `inFlight` concurrent loops for DURATION_MS. */
async function measure(one: (i: number) => Promise<void>, inFlight: number): Promise<{ decisions: number; seconds: number; cpuSeconds: number; p50Ms: number; p99Ms: number }> {
  for (let i = 0; i < 2000; i++) await one(i); // warm-up
  const latencies: number[] = [];
  let n = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + DURATION_MS;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await one(n++);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const sorted = Float64Array.from(latencies).sort();
  return { decisions: latencies.length, seconds, cpuSeconds: (used.user + used.system) / 1e6, p50Ms: percentile(sorted, 0.5, 0), p99Ms: percentile(sorted, 0.99, 0) };
}

type RlsClient = Client & { ShouldRateLimit(request: RateLimitRequestMessage, callback: (error: ServiceError | null, response?: RateLimitResponseMessage) => void): void };

async function runCase(path: Result["path"], storeName: Result["store"], keys: number, inFlight: number, redisUrl: string): Promise<Result> {
  const store: CounterStore = storeName === "redis" ? new RedisStore({ url: redisUrl, commandTimeoutMs: 1000 }) : new MemoryStore();
  if (store instanceof RedisStore) while (!store.ready) await new Promise((r) => setTimeout(r, 20));
  const limits = indexLimits(ir);
  let one: (i: number) => Promise<void>;
  let cleanup = (): Promise<void> => Promise.resolve();
  if (path === "decide") {
    one = async (i) => {
      const d = await decide({ descriptors: [descriptor(i, keys)], hitsAddend: 0 }, limits, store, Date.now());
      if (d.code !== "OK") throw new Error("refused");
    };
  } else {
    const service = new RateLimitGrpcService({ store, limits: () => limits, domain: "bulwark", log: pino({ level: "error" }) });
    const port = await service.start("127.0.0.1", 0);
    const Ctor = makeGenericClientConstructor(ratelimitServices().rateLimit, "RateLimitService");
    const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as RlsClient;
    one = (i) =>
      new Promise((resolve, reject) => {
        const d = descriptor(i, keys);
        client.ShouldRateLimit({ domain: "bulwark", descriptors: [{ entries: [...d.entries] }] }, (error, response) =>
          error ? reject(error) : response?.overall_code === "OK" ? resolve() : reject(new Error("refused")),
        );
      });
    cleanup = async (): Promise<void> => {
      client.close();
      await service.stop();
    };
  }
  const m = await measure(one, inFlight);
  await cleanup();
  await store.close();
  return {
    path,
    store: storeName,
    keys,
    inFlight,
    decisions: m.decisions,
    decisionsPerSecond: Math.round(m.decisions / m.seconds),
    decisionsPerCoreSecond: Math.round(m.decisions / m.cpuSeconds),
    p50Ms: Number(m.p50Ms.toFixed(3)),
    p99Ms: Number(m.p99Ms.toFixed(3)),
  };
}

export const ratelimitDecide: Benchmark = {
  name: "ratelimit-decide",
  async run(): Promise<void> {
    const { redisServer } = await provisionRedis();
    const dir = await mkdtemp(join(tmpdir(), "bulwark-bench-redis-"));
    const redis = await startRedis({ dir, redisServer, keepAlive: false });
    const results: Result[] = [];
    try {
      for (const path of ["decide", "grpc"] as const)
        for (const store of ["redis", "memory"] as const)
          for (const keys of [1, 10_000])
            for (const inFlight of IN_FLIGHT) {
              const r = await runCase(path, store, keys, inFlight, redis.url);
              results.push(r);
              console.log(
                `${r.path.padEnd(6)} ${r.store.padEnd(6)} keys=${String(r.keys).padEnd(6)} in-flight=${String(r.inFlight).padEnd(3)}${String(r.decisionsPerSecond).padStart(7)} decisions/s  ${String(r.decisionsPerCoreSecond).padStart(7)} /core-s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms`,
              );
            }
    } finally {
      await redis.process.stop();
    }
    if (quick) return;
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, `${JSON.stringify({ inFlight: IN_FLIGHT, durationMs: DURATION_MS, cpu: cpus()[0]?.model, node: process.version, results }, null, 2)}\n`);
  },
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ratelimitDecide.run().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
