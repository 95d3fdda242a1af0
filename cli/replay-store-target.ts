import { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import type { RedisTarget } from "../common/redis-target.js";
import { ClusterReplayStore } from "../services/authz/cluster-replay-store.js";
import { MemoryReplayStore, RedisReplayStore, type ReplayStore } from "../services/authz/replay-store.js";

/** Logs the first error of an outage and the return, once each. */
function logOutages(client: Redis | Cluster, log: Logger): void {
  let down = false;
  client.on("error", (error: Error) => {
    if (down) return;
    down = true;
    log.warn({ err: error.message }, "Redis (DPoP replay cache) unreachable; DPoP checks are refused until it is back");
  });
  client.on("ready", () => {
    if (down) log.info("Redis (DPoP replay cache) reachable again");
    down = false;
  });
}

/**
 * The replay cache of a target: commands fail at once while Redis (or the shard of a jti) is
 * away, and the checks then refuse with replay_store_unavailable. In memory without a target.
 */
export function replayStoreFor(target: RedisTarget | undefined, log: Logger): { replay: ReplayStore; disconnect: () => void } {
  if (!target) return { replay: new MemoryReplayStore(), disconnect: () => undefined };
  if (target.kind === "single") {
    const redis = new Redis(target.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    logOutages(redis, log);
    return { replay: new RedisReplayStore(redis), disconnect: () => redis.disconnect() };
  }
  const cluster = new Cluster(target.nodes, {
    enableOfflineQueue: false,
    maxRedirections: 4,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    slotsRefreshInterval: 1000,
    slotsRefreshTimeout: 1000,
    clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
    redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 1000 },
  });
  logOutages(cluster, log);
  return { replay: new ClusterReplayStore(cluster), disconnect: () => cluster.disconnect() };
}
