import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisTarget } from "../../common/redis-target.js";
import type { CountRequest, CountResult, CounterStore } from "./store.js";
import { ReplyDeadline } from "./reply-deadline.js";
import { windowPosition } from "./window.js";

/**
 * Reads both window counters and spends in one step, so concurrent replicas never overspend.
 * The arithmetic is window.ts's (usedInWindow, fits), in the same floating-point order.
 * KEYS: current window, previous window (same hash tag, same slot).
 * ARGV: cost, limit, window ms, elapsed ms, mode ("take" spends only when it fits, "add" always).
 */
const COUNT_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local e = tonumber(ARGV[4])
local spend = ARGV[5] == 'add' and cost > 0
if ARGV[5] == 'take' and cost > 0 then
  spend = cur + math.floor(prev * (w - e) / w) + cost <= limit
end
if spend then
  cur = redis.call('INCRBY', KEYS[1], cost)
  redis.call('PEXPIRE', KEYS[1], 2 * w)
  return {cur, prev, 1}
end
return {cur, prev, 0}
`;

type CountCommand = (
  current: string,
  previous: string,
  cost: number,
  limit: number,
  windowMs: number,
  elapsedMs: number,
  mode: "take" | "add",
) => Promise<[number, number, number]>;

/**
 * One Redis by URL, or a target (one Redis or a Redis Cluster: budgetKey's hash tag puts both
 * window counters of a budget in one slot, so the script runs on one shard; a budget whose shard
 * is down fails its command and the caller counts it in memory meanwhile).
 */
export type RedisStoreOptions = ({ url: string } | { target: RedisTarget }) & {
  /** A command whose reply takes longer fails (and the caller falls back); default 50 ms. Time the process could not read the reply (a busy event loop) does not count: see ReplyDeadline. */
  commandTimeoutMs?: number;
};

/**
 * A Redis Cluster client with the same fail-fast behaviour: a command to a shard that is down
 * fails at once (the caller falls back), and the slot map is refreshed every second and on every
 * lost node, so a promoted replica is used as soon as the cluster says so.
 */
function clusterClient(nodes: { host: string; port: number }[]): Cluster {
  return new Cluster(nodes, {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRedirections: 4,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    slotsRefreshInterval: 1000,
    slotsRefreshTimeout: 1000,
    clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
    redisOptions: { maxRetriesPerRequest: 0 },
  });
}

/**
 * Counters in Redis, shared by every replica: one script call (one round trip) per budget,
 * commands of concurrent decisions pipelined on one connection (ioredis auto-pipelining).
 * Fails fast while disconnected (no offline queue) and reconnects by itself.
 */
export class RedisStore implements CounterStore {
  readonly redis: Redis | Cluster;
  private readonly command: CountCommand;
  private readonly deadline: ReplyDeadline;

  constructor(options: RedisStoreOptions) {
    const redisOptions: RedisOptions = {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
    };
    this.deadline = new ReplyDeadline(options.commandTimeoutMs ?? 50);
    const target: RedisTarget = "target" in options ? options.target : { kind: "single", url: options.url };
    this.redis = target.kind === "single" ? new Redis(target.url, redisOptions) : clusterClient(target.nodes);
    // Errors surface on the commands; the connection's own errors would otherwise be unhandled.
    this.redis.on("error", () => undefined);
    this.redis.defineCommand("bulwarkCount", { numberOfKeys: 2, lua: COUNT_SCRIPT });
    this.command = (this.redis as unknown as { bulwarkCount: CountCommand }).bulwarkCount.bind(this.redis);
  }

  /** True while connected; commands are refused immediately otherwise. */
  get ready(): boolean {
    return this.redis.status === "ready";
  }

  private count(request: CountRequest, mode: "take" | "add"): Promise<[number, number, number]> {
    const position = windowPosition(request.nowMs, request.windowMs);
    return this.deadline.within(
      this.command(`${request.key}:${position.index}`, `${request.key}:${position.index - 1}`, request.cost, request.limit, request.windowMs, position.elapsedMs, mode),
    );
  }

  async take(request: CountRequest): Promise<CountResult> {
    const [current, previous, spent] = await this.count(request, "take");
    return { current, previous, spent: spent === 1 };
  }

  async add(request: Omit<CountRequest, "limit">): Promise<void> {
    await this.count({ ...request, limit: 0 }, "add");
  }

  async close(): Promise<void> {
    this.deadline.close();
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
