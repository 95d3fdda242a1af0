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

/**
 * COUNT_SCRIPT for several budgets in one call, in order (two requests for one budget see each
 * other, as two calls would): the counts of concurrent decisions in one round trip and one
 * script run. KEYS: current and previous window of each budget; ARGV: the five arguments of
 * each; returns cur, prev, spent of each. One Redis only: in a cluster the budgets' keys live on
 * different shards.
 */
const COUNT_MANY_SCRIPT = `
local out = {}
for i = 0, #KEYS / 2 - 1 do
  local k = KEYS[2 * i + 1]
  local a = 5 * i
  local cur = tonumber(redis.call('GET', k) or '0')
  local prev = tonumber(redis.call('GET', KEYS[2 * i + 2]) or '0')
  local cost = tonumber(ARGV[a + 1])
  local limit = tonumber(ARGV[a + 2])
  local w = tonumber(ARGV[a + 3])
  local e = tonumber(ARGV[a + 4])
  local spend = ARGV[a + 5] == 'add' and cost > 0
  if ARGV[a + 5] == 'take' and cost > 0 then
    spend = cur + math.floor(prev * (w - e) / w) + cost <= limit
  end
  local spent = 0
  if spend then
    cur = redis.call('INCRBY', k, cost)
    redis.call('PEXPIRE', k, 2 * w)
    spent = 1
  end
  out[3 * i + 1] = cur
  out[3 * i + 2] = prev
  out[3 * i + 3] = spent
end
return out
`;

/** Budgets counted in one COUNT_MANY_SCRIPT call at most (a longer batch is split). */
const MAX_BATCH = 128;

interface Queued {
  current: string;
  previous: string;
  cost: number;
  limit: number;
  windowMs: number;
  elapsedMs: number;
  mode: "take" | "add";
  resolve: (counts: [number, number, number]) => void;
  reject: (error: Error) => void;
}

type CountManyCommand = (numberOfKeys: number, ...keysThenArgs: (string | number)[]) => Promise<number[]>;

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
 * Counters in Redis, shared by every replica: one script call (one round trip) per budget, or
 * with one Redis one call for the budgets of all the decisions read together. With one Redis the
 * store batches by itself (count(): one call per turn of the event loop), so ioredis's
 * auto-pipelining would only add a second turn and a Pipeline object to every call; with a Redis
 * Cluster, commands of concurrent decisions are pipelined per shard (ioredis auto-pipelining).
 * Fails fast while disconnected (no offline queue) and reconnects by itself.
 */
export class RedisStore implements CounterStore {
  readonly redis: Redis | Cluster;
  private readonly command: CountCommand;
  private readonly countMany: CountManyCommand | undefined;
  private readonly deadline: ReplyDeadline;
  /** Counts asked for since the last flush (one Redis only). */
  private queued: Queued[] = [];

  constructor(options: RedisStoreOptions) {
    const redisOptions: RedisOptions = {
      // count() batches the calls of one turn of the event loop itself (see the class's comment).
      enableAutoPipelining: false,
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
    if (target.kind === "single") {
      this.redis.defineCommand("bulwarkCountMany", { lua: COUNT_MANY_SCRIPT });
      this.countMany = (this.redis as unknown as { bulwarkCountMany: CountManyCommand }).bulwarkCountMany.bind(this.redis);
    }
  }

  /** True while connected; commands are refused immediately otherwise. */
  get ready(): boolean {
    return this.redis.status === "ready";
  }

  /**
   * One budget's counts. With one Redis, the counts asked for in one turn of the event loop (the
   * decisions of the requests read together) go in one script call, flushed after the loop's
   * poll phase.
   */
  private count(request: CountRequest, mode: "take" | "add"): Promise<[number, number, number]> {
    const position = windowPosition(request.nowMs, request.windowMs);
    const current = `${request.key}:${position.index}`;
    const previous = `${request.key}:${position.index - 1}`;
    if (this.countMany === undefined) return this.deadline.within(this.command(current, previous, request.cost, request.limit, request.windowMs, position.elapsedMs, mode));
    return new Promise((resolve, reject) => {
      if (this.queued.length === 0) setImmediate(this.flush);
      this.queued.push({ current, previous, cost: request.cost, limit: request.limit, windowMs: request.windowMs, elapsedMs: position.elapsedMs, mode, resolve, reject });
    });
  }

  private readonly flush = (): void => {
    const queued = this.queued;
    this.queued = [];
    for (let i = 0; i < queued.length; i += MAX_BATCH) this.send(queued.length <= MAX_BATCH ? queued : queued.slice(i, i + MAX_BATCH));
  };

  private send(batch: Queued[]): void {
    if (batch.length === 1) {
      const q = batch[0] as Queued;
      this.deadline.within(this.command(q.current, q.previous, q.cost, q.limit, q.windowMs, q.elapsedMs, q.mode)).then(q.resolve, q.reject);
      return;
    }
    const keysThenArgs = new Array<string | number>(batch.length * 7);
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i] as Queued;
      keysThenArgs[2 * i] = q.current;
      keysThenArgs[2 * i + 1] = q.previous;
      const a = 2 * batch.length + 5 * i;
      keysThenArgs[a] = q.cost;
      keysThenArgs[a + 1] = q.limit;
      keysThenArgs[a + 2] = q.windowMs;
      keysThenArgs[a + 3] = q.elapsedMs;
      keysThenArgs[a + 4] = q.mode;
    }
    this.deadline.within((this.countMany as CountManyCommand)(2 * batch.length, ...keysThenArgs)).then(
      (out) => {
        for (let i = 0; i < batch.length; i++) (batch[i] as Queued).resolve([out[3 * i] as number, out[3 * i + 1] as number, out[3 * i + 2] as number]);
      },
      (error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error));
        for (const q of batch) q.reject(e);
      },
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
