import type { Redis } from "ioredis";

/** Remembers one-time values (DPoP `jti`s) for a while; shared across replicas when backed by Redis. */
export interface ReplayStore {
  /** True when `key` was not seen within its lifetime (and is now remembered), false when it is a replay. Rejects when the store cannot answer. */
  firstUse(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** For a single replica: entries expire lazily, and a sweep bounds memory. */
export class MemoryReplayStore implements ReplayStore {
  private readonly seen = new Map<string, number>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  firstUse(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    if (now - this.lastSweep > 10_000) this.sweep(now);
    const expires = this.seen.get(key);
    if (expires !== undefined && expires > now) return Promise.resolve(false);
    this.seen.set(key, now + ttlMs);
    return Promise.resolve(true);
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, expires] of this.seen) if (expires <= now) this.seen.delete(key);
  }

  get size(): number {
    return this.seen.size;
  }

  close(): Promise<void> {
    this.seen.clear();
    return Promise.resolve();
  }
}

/** Across replicas: `SET key 1 NX PX ttl` is atomic, so exactly one replica sees a value first. */
export class RedisReplayStore implements ReplayStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "bulwark:dpop:jti:",
  ) {}

  async firstUse(key: string, ttlMs: number): Promise<boolean> {
    const result = await this.redis.set(this.prefix + key, "1", "PX", Math.max(1, Math.ceil(ttlMs)), "NX");
    return result === "OK";
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
