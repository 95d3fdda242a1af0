import type { Logger } from "pino";
import { MemoryStore, type MemoryStoreOptions } from "./memory-store.js";
import type { RedisStore } from "./redis-store.js";
import type { CountRequest, CountResult, CounterStore } from "./store.js";
import { errorMessage } from "../../common/errors.js";

/**
 * Redis while it answers; per-replica memory counters while it does not. The switch is logged
 * once each way, and Redis is used again as soon as its connection is back (ioredis reconnects
 * by itself). Budgets counted in memory during an outage are not carried over to Redis.
 */
export class FallbackStore implements CounterStore {
  readonly memory: MemoryStore;
  private degraded = false;

  constructor(
    private readonly primary: RedisStore,
    private readonly log: Logger,
    memory: MemoryStoreOptions = {},
    /** Told of every count made in memory because Redis did not answer (each one is per replica). */
    private readonly onFallback: () => void = () => undefined,
  ) {
    this.memory = new MemoryStore(memory);
  }

  /** True while counting in memory. */
  get isDegraded(): boolean {
    return this.degraded;
  }

  private fallBack(error: unknown): void {
    this.onFallback();
    if (this.degraded) return;
    this.degraded = true;
    this.log.warn({ err: errorMessage(error) }, "redis unavailable; limiting per replica in memory until it returns");
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.log.info("redis is back; budgets are shared again");
  }

  async take(request: CountRequest): Promise<CountResult> {
    if (!this.primary.ready) {
      this.fallBack(new Error(`redis connection is ${this.primary.redis.status}`));
      return this.memory.take(request);
    }
    try {
      const result = await this.primary.take(request);
      if (this.degraded) this.recovered();
      return result;
    } catch (error) {
      this.fallBack(error);
      return this.memory.take(request);
    }
  }

  async add(request: Omit<CountRequest, "limit">): Promise<void> {
    if (!this.primary.ready) {
      this.fallBack(new Error(`redis connection is ${this.primary.redis.status}`));
      return this.memory.add(request);
    }
    try {
      await this.primary.add(request);
      if (this.degraded) this.recovered();
    } catch (error) {
      this.fallBack(error);
      await this.memory.add(request);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.memory.close()]);
  }
}
