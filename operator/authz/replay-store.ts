import type { Redis } from "ioredis";

/** Remembers one-time values (DPoP `jti`s) for a while; shared across replicas when backed by Redis. */
export interface ReplayStore {
  /** True when `key` was not seen within its lifetime (and is now remembered), false when it is a replay. Rejects when the store cannot answer. */
  firstUse(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * For a single replica. Entries leave in the order they came, a few at each use once expired, so
 * memory follows the rate of proofs without a pause to sweep a large map; an expired entry that
 * has not left yet counts as absent.
 */
export class MemoryReplayStore implements ReplayStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  firstUse(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    this.evictExpired(now);
    const expires = this.seen.get(key);
    if (expires !== undefined && expires > now) return Promise.resolve(false);
    // Re-inserted at the end: the map stays in order of insertion.
    this.seen.delete(key);
    this.seen.set(key, now + ttlMs);
    return Promise.resolve(true);
  }

  /** Up to four of the oldest entries, while they have expired (more than arrive per use). */
  private evictExpired(now: number): void {
    let evicted = 0;
    for (const [key, expires] of this.seen) {
      if (expires > now || evicted === 4) return;
      this.seen.delete(key);
      evicted += 1;
    }
  }

  get size(): number {
    return this.seen.size;
  }

  close(): Promise<void> {
    this.seen.clear();
    return Promise.resolve();
  }
}

interface PendingUse {
  key: string;
  ttlMs: number;
  resolve: (first: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Across replicas: `SET key 1 NX PX ttl` is atomic, so exactly one replica sees a value first.
 * The checks that reach the store in one turn of the event loop go to Redis together, in one
 * pipeline (one write, one round trip); each SET stays atomic and answers for its own key.
 */
export class RedisReplayStore implements ReplayStore {
  private pending: PendingUse[] | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = "bulwark:dpop:jti:",
  ) {}

  firstUse(key: string, ttlMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (!this.pending) {
        this.pending = [];
        // After this turn's I/O callbacks: every request read in the same turn joins the pipeline.
        setImmediate(() => this.flush());
      }
      this.pending.push({ key: this.prefix + key, ttlMs: Math.max(1, Math.ceil(ttlMs)), resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.pending ?? [];
    this.pending = undefined;
    const only = batch.length === 1 ? batch[0] : undefined;
    if (only) {
      this.redis.set(only.key, "1", "PX", only.ttlMs, "NX").then((result) => only.resolve(result === "OK"), only.reject);
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const use of batch) pipeline.set(use.key, "1", "PX", use.ttlMs, "NX");
    pipeline.exec().then(
      (results) => {
        batch.forEach((use, i) => {
          const [error, result] = results?.[i] ?? [new Error("no reply from Redis"), null];
          if (error) use.reject(error);
          else use.resolve(result === "OK");
        });
      },
      (error: unknown) => {
        for (const use of batch) use.reject(error);
      },
    );
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
