import { parseArgs } from "node:util";
import { getHeapStatistics } from "node:v8";
import { componentLogger } from "./logger.js";
import { untilSignal } from "./until-signal.js";
import { collectDefaultMetrics } from "prom-client";
import { startHttpServer } from "../operator/kube/http-server.js";
import { FallbackStore } from "../services/ratelimit/fallback-store.js";
import type { KubernetesLimitSource } from "../services/ratelimit/kubernetes-limit-source.js";
import { limitsOf } from "../services/ratelimit/limit-source.js";
import type { LimitIndex } from "../services/ratelimit/limits.js";
import { DEFAULT_MAX_COUNTERS, MemoryStore } from "../services/ratelimit/memory-store.js";
import { COUNTER_BYTES, memoryCountersProblem } from "../services/ratelimit/heap-room.js";
import { RedisStore } from "../services/ratelimit/redis-store.js";
import { RateLimitGrpcService, RateLimitMetrics } from "../services/ratelimit/service.js";
import type { CounterStore } from "../services/ratelimit/store.js";
import { readObjectFlags } from "./object-files.js";
import { parseAddress, UsageError } from "./usage.js";
import { describeTarget, redisTarget, RedisTargetError, type RedisTarget } from "../common/redis-target.js";

export const ratelimitHelp = `usage: bulwark ratelimit [flags]

Serves envoy.service.ratelimit.v3.RateLimitService (the sidecars' Global rate limits) and
envoy.service.accesslog.v3.AccessLogService (finished requests of routes whose budgets count only
some response codes). The limits come from the same translation as the sidecars' configuration:
watched in Kubernetes, or read once from files with -f. Budgets are sliding windows counted in
Redis (shared by every replica) or, without --redis-url, in memory (one replica). When Redis is
unreachable each replica limits on its own in memory until Redis is back; so does a call whose
Redis reply takes over 50 ms (counted in bulwark_ratelimit_store_fallbacks_total).

Counters in memory are capped (--memory-counters). Past the cap, expired counters go first, then
the least-spent ones. An evicted counter's budget restarts (that key fails open), but a flood of
new keys evicts its own counters first: pushing out a counter that holds c requests takes about
cap x c requests. Evictions are counted in bulwark_ratelimit_memory_evictions_total.

flags (environment variable in brackets):
  --kubeconfig PATH          kubeconfig to use [KUBECONFIG]; in-cluster configuration when unset
  -f, --filename PATH        read the objects from a file or directory instead of watching Kubernetes (repeatable)
  --grpc-address HOST:PORT   where sidecars call [BULWARK_RATELIMIT_GRPC_ADDRESS] (default 0.0.0.0:8089)
  --http-address HOST:PORT   /healthz, /readyz and /metrics [BULWARK_RATELIMIT_HTTP_ADDRESS] (default 0.0.0.0:8090)
  --redis-url URL            redis://HOST:PORT of the shared counters [BULWARK_REDIS_URL]; memory only when unset
  --redis-cluster-nodes LIST the counters in a Redis Cluster instead: HOST:PORT,... of a few of its nodes
                             [BULWARK_REDIS_CLUSTER_NODES]; budgets of a shard that is down count in memory meanwhile
  --memory-counters N        most counters held in memory, about ${COUNTER_BYTES} bytes each [BULWARK_RATELIMIT_MEMORY_COUNTERS] (default ${DEFAULT_MAX_COUNTERS})
  --domain NAME              the rate-limit domain the sidecars send [BULWARK_RATELIMIT_DOMAIN] (default bulwark)
  --log-level LEVEL          trace, debug, info, warn, error [BULWARK_LOG_LEVEL] (default info)
  -h, --help                 this text
`;

/** The counters' store from the two flags; a usage error names what is wrong. */
function counterTarget(url: string, clusterNodes: string): RedisTarget | undefined {
  try {
    return redisTarget({ url, clusterNodes });
  } catch (error) {
    if (error instanceof RedisTargetError) throw new UsageError(error.message);
    throw error;
  }
}

function flag(values: Record<string, unknown>, name: string, env: string, fallback: string): string {
  const v = values[name];
  return typeof v === "string" ? v : (process.env[env] ?? fallback);
}

async function limitsFromFiles(paths: string[]): Promise<LimitIndex> {
  const { input, problems } = await readObjectFlags(paths);
  for (const problem of problems) process.stderr.write(`bulwark ratelimit: ${problem.source}: ${problem.message}\n`);
  return limitsOf({ ...input, now: new Date().toISOString() });
}

/** Runs bulwark ratelimit until SIGTERM or SIGINT; resolves with the exit code. */
export async function runRatelimit(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: "string" },
      filename: { type: "string", short: "f", multiple: true },
      "grpc-address": { type: "string" },
      "http-address": { type: "string" },
      "redis-url": { type: "string" },
      "redis-cluster-nodes": { type: "string" },
      domain: { type: "string" },
      "memory-counters": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(ratelimitHelp);
    return 0;
  }
  const levels = ["trace", "debug", "info", "warn", "error"];
  const level = flag(values, "log-level", "BULWARK_LOG_LEVEL", "info");
  if (!levels.includes(level)) throw new UsageError(`--log-level ${level} is not one of ${levels.join(", ")}`);
  const log = componentLogger("ratelimit", level);
  const grpcAddress = parseAddress(flag(values, "grpc-address", "BULWARK_RATELIMIT_GRPC_ADDRESS", "0.0.0.0:8089"), "--grpc-address");
  const httpAddress = parseAddress(flag(values, "http-address", "BULWARK_RATELIMIT_HTTP_ADDRESS", "0.0.0.0:8090"), "--http-address");
  const target = counterTarget(flag(values, "redis-url", "BULWARK_REDIS_URL", ""), flag(values, "redis-cluster-nodes", "BULWARK_REDIS_CLUSTER_NODES", ""));
  const domain = flag(values, "domain", "BULWARK_RATELIMIT_DOMAIN", "bulwark");
  const memoryCounters = flag(values, "memory-counters", "BULWARK_RATELIMIT_MEMORY_COUNTERS", String(DEFAULT_MAX_COUNTERS));
  if (!/^[1-9][0-9]{0,9}$/.test(memoryCounters) || Number(memoryCounters) < 100) throw new UsageError(`--memory-counters ${memoryCounters} is not a whole number from 100 up`);
  const heapProblem = memoryCountersProblem(Number(memoryCounters), getHeapStatistics().heap_size_limit);
  if (heapProblem) throw new UsageError(heapProblem);

  let limits: () => LimitIndex;
  let synced: () => boolean;
  let source: KubernetesLimitSource | undefined;
  if (values.filename?.length) {
    const index = await limitsFromFiles(values.filename);
    log.info({ limits: index.byName.size }, "limits read from files");
    limits = () => index;
    synced = () => true;
  } else {
    // The Kubernetes client is loaded only here: ratelimit reading files stays small (#19).
    const [{ loadClusterConfig }, { KubernetesLimitSource }] = await Promise.all([import("./cluster-config.js"), import("../services/ratelimit/kubernetes-limit-source.js")]);
    const watched = new KubernetesLimitSource(loadClusterConfig(values.kubeconfig), log);
    source = watched;
    limits = () => watched.current();
    synced = () => watched.isSynced();
  }

  const metrics = new RateLimitMetrics();
  collectDefaultMetrics({ register: metrics.registry });
  metrics.knownLimits = () => limits().byName.size;
  let store: CounterStore;
  let warned = false;
  const memory = {
    maxCounters: Number(memoryCounters),
    onEvict: (count: number): void => {
      metrics.memoryEvictions.inc(count);
      if (!warned)
        log.warn(
          { evicted: count, maxCounters: Number(memoryCounters) },
          "rate-limit counters in memory reached --memory-counters; evicting the least-spent (their budgets restart)",
        );
      warned = true;
    },
  };
  if (target) {
    const fallback = new FallbackStore(new RedisStore({ target }), log, memory, () => metrics.storeFallbacks.inc());
    metrics.isDegraded = () => fallback.isDegraded;
    metrics.memoryCounters = () => fallback.memory.size;
    store = fallback;
  } else {
    const inMemory = new MemoryStore(memory);
    metrics.memoryCounters = () => inMemory.size;
    store = inMemory;
  }
  const service = new RateLimitGrpcService({ store, limits, domain, log, metrics });
  await source?.start();
  const port = await service.start(grpcAddress.host, grpcAddress.port);
  let alive = true;
  const http = await startHttpServer({ host: httpAddress.host, port: httpAddress.port, registry: metrics.registry, checks: { live: () => alive, ready: synced } });
  log.info({ grpc: `${grpcAddress.host}:${port}`, http: `${httpAddress.host}:${httpAddress.port}`, store: describeTarget(target) }, "ratelimit started");

  return untilSignal(log, async () => {
    alive = false;
    await service.stop();
    await source?.stop();
    await store.close();
    await new Promise((r) => http.close(r));
  });
}
