import { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import type { RedisTarget } from "../common/redis-target.js";
import { RedisAdaptiveStore } from "../services/adaptive/redis-store.js";
import { MemoryAdaptiveStore, type AdaptiveStore } from "../services/adaptive/store.js";
import { MemoryStore } from "../services/ratelimit/memory-store.js";
import { RedisStore } from "../services/ratelimit/redis-store.js";
import type { CounterStore } from "../services/ratelimit/store.js";

/** A reply slower than this fails the lookup (the policy's adaptiveResponse.failureMode then decides). */
const COMMAND_TIMEOUT_MS = 200;

/**
 * A client for the adaptive actions. A service's fails fast while Redis is away (no offline queue:
 * the policy's failureMode decides at once); a one-shot command's (`failFast: false`) waits for
 * the connection it has just opened. Either says once per outage that Redis is unreachable.
 * Commands of one event-loop turn share a round trip (auto-pipelining: about 20 % more lookups per
 * second when most identities are new to the cache).
 */
export function adaptiveClient(target: RedisTarget, log?: Logger, options: { failFast?: boolean } = {}): Redis | Cluster {
  const failFast = options.failFast ?? true;
  const client =
    target.kind === "single"
      ? new Redis(target.url, { maxRetriesPerRequest: 1, enableOfflineQueue: !failFast, enableAutoPipelining: true, commandTimeout: failFast ? COMMAND_TIMEOUT_MS : 10_000 })
      : new Cluster(target.nodes, {
          enableOfflineQueue: !failFast,
          enableAutoPipelining: true,
          maxRedirections: 4,
          retryDelayOnFailover: 50,
          retryDelayOnClusterDown: 50,
          slotsRefreshInterval: 1000,
          slotsRefreshTimeout: 1000,
          clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
          redisOptions: { maxRetriesPerRequest: 1, commandTimeout: failFast ? COMMAND_TIMEOUT_MS : 10_000 },
        });
  let down = false;
  client.on("error", (error: Error) => {
    if (down) return;
    down = true;
    log?.warn({ err: error.message }, "Redis (adaptive actions) unreachable; each policy's adaptiveResponse.failureMode applies until it is back");
  });
  client.on("ready", () => {
    if (down) log?.info("Redis (adaptive actions) reachable again");
    down = false;
  });
  return client;
}

/** The adaptive actions and the throttle counters of a target (in memory without one: a single replica). */
export function adaptiveStoresFor(target: RedisTarget | undefined, log: Logger): { actions: AdaptiveStore; counters: CounterStore } {
  if (!target) return { actions: new MemoryAdaptiveStore(), counters: new MemoryStore() };
  return { actions: new RedisAdaptiveStore(adaptiveClient(target, log)), counters: new RedisStore({ target, commandTimeoutMs: 100 }) };
}
