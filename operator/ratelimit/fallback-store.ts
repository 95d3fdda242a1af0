import type { Logger } from "pino";
import { MemoryStore } from "./memory-store.js";
import type { RedisStore } from "./redis-store.js";
import type { CountRequest, CountResult, CounterStore } from "./store.js";

/**
 * Redis while it answers; per-replica memory counters while it does not. The switch is logged
 * once each way, and Redis is used again as soon as its connection is back (ioredis reconnects
 * by itself). Budgets counted in memory during an outage are not carried over to Redis.
 */
export class FallbackStore implements CounterStore {
  readonly memory = new MemoryStore();
  private degraded = false;

  constructor(
    private readonly primary: RedisStore,
    private readonly log: Logger,
  ) {}

  /** True while counting in memory. */
  get isDegraded(): boolean {
    return this.degraded;
  }

  private fallBack(error: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.log.warn({ err: error instanceof Error ? error.message : String(error) }, "redis unavailable; limiting per replica in memory until it returns");
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.log.info("redis is back; budgets are shared again");
  }

  private async use<T>(viaRedis: () => Promise<T>, viaMemory: () => Promise<T>): Promise<T> {
    if (!this.primary.ready) {
      this.fallBack(new Error(`redis connection is ${this.primary.redis.status}`));
      return viaMemory();
    }
    try {
      const result = await viaRedis();
      this.recovered();
      return result;
    } catch (error) {
      this.fallBack(error);
      return viaMemory();
    }
  }

  take(request: CountRequest): Promise<CountResult> {
    return this.use(
      () => this.primary.take(request),
      () => this.memory.take(request),
    );
  }

  add(request: Omit<CountRequest, "limit">): Promise<void> {
    return this.use(
      () => this.primary.add(request),
      () => this.memory.add(request),
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.memory.close()]);
  }
}
