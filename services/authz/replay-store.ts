import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/** Remembers one-time values (DPoP `jti`s) for a while; shared across replicas when backed by Redis. */
export interface ReplayStore {
  /** True when `key` was not seen within its lifetime (and is now remembered), false when it is a replay. Rejects when the store cannot answer. */
  firstUse(key: string, ttlMs: number): Promise<boolean>;
  /**
   * Milliseconds since the epoch from which the store is known to remember every use: a store
   * that starts empty (a restarted process, a Redis restarted without persistence or flushed)
   * forgot what was used before. A one-time value that could have been used before this moment
   * must be refused whatever `firstUse` says. Read it after `firstUse` has answered: answering
   * is how a shared store notices it was emptied. Infinity until the store has answered once.
   */
  rememberedSince(): number;
  close(): Promise<void>;
}

/**
 * For a single replica. Entries leave in the order they came, a few at each use once expired, so
 * memory follows the rate of proofs without a pause to sweep a large map; an expired entry that
 * has not left yet counts as absent.
 */
export class MemoryReplayStore implements ReplayStore {
  private readonly seen = new Map<string, number>();
  private readonly since: number;

  /** `rememberedSince` defaults to the moment the store is made: it starts empty. */
  constructor(
    private readonly now: () => number = Date.now,
    options: { rememberedSince?: number } = {},
  ) {
    this.since = options.rememberedSince ?? now();
  }

  rememberedSince(): number {
    return this.since;
  }

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

/** The key of the marker saying since when a Redis replay store under `prefix` remembers every use. */
export function replayStoreMarkerKey(prefix: string): string {
  // '~' is in no key the store writes otherwise (jtis are keyed by base64url values).
  return `${prefix}~store`;
}

/** The marker's value: when it was written (ms since the epoch) and a random part, so that two markers never look alike. */
export function markerValue(nowMs: number): string {
  return `${nowMs}:${randomUUID()}`;
}

/** When a marker was written; `nowMs` for one nobody can read the time of (it proves nothing about the past). */
function markerTime(value: string, nowMs: number): number {
  const ms = Number.parseInt(value.split(":")[0] ?? "", 10);
  return Number.isFinite(ms) ? ms : nowMs;
}

/**
 * Across replicas: `SET key 1 NX PX ttl` is atomic, so exactly one replica sees a value first.
 * The checks that reach the store in one turn of the event loop go to Redis together, in one
 * pipeline (one write, one round trip); each SET stays atomic and answers for its own key.
 *
 * Emptied stores: a marker key without expiry (`<prefix>~store`) holds the moment the store
 * started remembering. It is written when missing at every connection, and read back after the
 * SETs of every pipeline. A marker that is missing, or differs from the one last seen, means the
 * store was emptied (a restart without persistence, a flush) since: rememberedSince moves to the
 * moment it was noticed (or the newer marker's, written by another replica), so the proofs it may
 * have forgotten are refused. Redis must not evict keys to make room (maxmemory-policy
 * noeviction): an evicted jti is a forgotten one.
 */
export class RedisReplayStore implements ReplayStore {
  private pending: PendingUse[] | undefined;
  private readonly markerKey: string;
  /** The marker last seen; undefined before the first answer. */
  private marker: string | undefined;
  private since = Number.POSITIVE_INFINITY;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = "bulwark:dpop:jti:",
    private readonly now: () => number = Date.now,
  ) {
    this.markerKey = replayStoreMarkerKey(prefix);
    redis.on("ready", () => void this.markOnConnect());
    if (redis.status === "ready") void this.markOnConnect();
  }

  rememberedSince(): number {
    return this.since;
  }

  /** At each connection: the marker, written when the store has none (so a fresh store remembers from its first connection on). */
  private async markOnConnect(): Promise<void> {
    try {
      this.observe(await this.redis.get(this.markerKey));
    } catch {
      // The next pipeline reads the marker again.
    }
  }

  /** What the marker says about the store; writes a new one when it is missing. */
  private observe(value: string | null): void {
    if (value === null) {
      // Emptied (or new): nothing used before now is remembered.
      this.since = Math.max(Number.isFinite(this.since) ? this.since : 0, this.now());
      const fresh = markerValue(this.now());
      this.marker = fresh;
      // SET NX: when another replica wrote one first, the next read sees it and adopts the later time.
      this.redis.set(this.markerKey, fresh, "NX").catch(() => undefined);
      return;
    }
    if (value === this.marker) return;
    const time = markerTime(value, this.now());
    this.since = this.marker === undefined && !Number.isFinite(this.since) ? time : Math.max(this.since, time);
    this.marker = value;
  }

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
    const pipeline = this.redis.pipeline();
    for (const use of batch) pipeline.set(use.key, "1", "PX", use.ttlMs, "NX");
    // After the SETs: a marker still the same proves the store was not emptied before them.
    pipeline.get(this.markerKey);
    pipeline.exec().then(
      (results) => {
        const [markerError, marker] = results?.[batch.length] ?? [new Error("no reply from Redis"), null];
        if (markerError) {
          for (const use of batch) use.reject(markerError);
          return;
        }
        this.observe(typeof marker === "string" ? marker : null);
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
