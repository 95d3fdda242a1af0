import type { CountRequest, CountResult, CounterStore } from "./store.js";
import { fits, usedInWindow, windowPosition } from "./window.js";

interface Counter {
  count: number;
  expiresAtMs: number;
}

/** Counters kept in memory by default: about 330 bytes each, so about 80 MiB when full. */
export const DEFAULT_MAX_COUNTERS = 250_000;

export interface MemoryStoreOptions {
  /** Most counters kept (two per budget in use: this window's and the previous one's). */
  maxCounters?: number;
  /** Told how many counters were evicted to stay within maxCounters. */
  onEvict?: (count: number) => void;
}

/**
 * Counters in this process: exact for a single replica, per replica when several run.
 *
 * Bounded: past `maxCounters`, expired counters go first, then the least-spent ones (lowest
 * count; of equal counts, the least recently written), down to 90 % of the cap, so that eviction
 * runs once per many new keys. An evicted counter is forgotten: its budget restarts, which is
 * failing open for that key. Evicting the least-spent first bounds what that gives away: a flood
 * of new keys (each counted once) evicts its own counters, and pushing out a counter that holds
 * c requests takes filling the whole store with counters above c — about maxCounters × c
 * requests, for at most c requests regained. Refusing new keys when full (failing closed) would
 * instead let the same flood lock out every new client until the counters expire.
 */
export class MemoryStore implements CounterStore {
  private readonly counters = new Map<string, Counter>();
  private lastSweepMs = 0;
  readonly maxCounters: number;

  constructor(private readonly options: MemoryStoreOptions = {}) {
    this.maxCounters = options.maxCounters ?? DEFAULT_MAX_COUNTERS;
    if (!Number.isInteger(this.maxCounters) || this.maxCounters < 1) throw new Error(`maxCounters must be a positive integer, not ${this.maxCounters}`);
  }

  get size(): number {
    return this.counters.size;
  }

  private read(key: string, nowMs: number): number {
    const c = this.counters.get(key);
    return c && c.expiresAtMs > nowMs ? c.count : 0;
  }

  private increment(key: string, by: number, nowMs: number, ttlMs: number): number {
    const count = this.read(key, nowMs) + by;
    // Re-inserted at the end: the map stays in order of last write.
    this.counters.delete(key);
    this.counters.set(key, { count, expiresAtMs: nowMs + ttlMs });
    if (this.counters.size > this.maxCounters) this.evict(nowMs, key);
    return count;
  }

  /** Drops expired counters, at most once a second. */
  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < 1000) return;
    this.lastSweepMs = nowMs;
    this.dropExpired(nowMs);
  }

  private dropExpired(nowMs: number): void {
    for (const [key, c] of this.counters) if (c.expiresAtMs <= nowMs) this.counters.delete(key);
  }

  /** Down to 90 % of the cap: expired counters, then the lowest counts, least recently written first; never `keep` (just written). */
  private evict(nowMs: number, keep: string): void {
    this.dropExpired(nowMs);
    const excess = this.counters.size - Math.floor(this.maxCounters * 0.9);
    if (excess <= 0) return;
    const byCount = new Map<number, number>();
    for (const [key, c] of this.counters) if (key !== keep) byCount.set(c.count, (byCount.get(c.count) ?? 0) + 1);
    // Every counter below `threshold` goes, and `atThreshold` of those at it.
    let threshold = 0;
    let atThreshold = excess;
    for (const count of [...byCount.keys()].sort((a, b) => a - b)) {
      threshold = count;
      const n = byCount.get(count) ?? 0;
      if (n >= atThreshold) break;
      atThreshold -= n;
    }
    let evicted = 0;
    for (const [key, c] of this.counters) {
      if (key === keep || c.count > threshold) continue;
      if (c.count === threshold) {
        if (atThreshold === 0) continue;
        atThreshold -= 1;
      }
      this.counters.delete(key);
      evicted += 1;
    }
    this.options.onEvict?.(evicted);
  }

  take(request: CountRequest): Promise<CountResult> {
    const { key, windowMs, nowMs, cost, limit } = request;
    this.sweep(nowMs);
    const position = windowPosition(nowMs, windowMs);
    const previous = this.read(`${key}:${position.index - 1}`, nowMs);
    let current = this.read(`${key}:${position.index}`, nowMs);
    const spent = cost > 0 && fits(usedInWindow({ previous, current }, position), cost, limit);
    if (spent) current = this.increment(`${key}:${position.index}`, cost, nowMs, 2 * windowMs);
    return Promise.resolve({ previous, current, spent });
  }

  add(request: Omit<CountRequest, "limit">): Promise<void> {
    const { key, windowMs, nowMs, cost } = request;
    this.sweep(nowMs);
    const position = windowPosition(nowMs, windowMs);
    this.increment(`${key}:${position.index}`, cost, nowMs, 2 * windowMs);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.counters.clear();
    return Promise.resolve();
  }
}
