import type { CountRequest, CountResult, CounterStore } from "./store.js";
import { fits, usedInWindow, windowPosition } from "./window.js";

interface Counter {
  count: number;
  expiresAtMs: number;
}

/** Counters in this process: exact for a single replica, per replica when several run. */
export class MemoryStore implements CounterStore {
  private readonly counters = new Map<string, Counter>();
  private lastSweepMs = 0;

  get size(): number {
    return this.counters.size;
  }

  private read(key: string, nowMs: number): number {
    const c = this.counters.get(key);
    return c && c.expiresAtMs > nowMs ? c.count : 0;
  }

  private increment(key: string, by: number, nowMs: number, ttlMs: number): number {
    const count = this.read(key, nowMs) + by;
    this.counters.set(key, { count, expiresAtMs: nowMs + ttlMs });
    return count;
  }

  /** Drops expired counters, at most once a second. */
  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < 1000) return;
    this.lastSweepMs = nowMs;
    for (const [key, c] of this.counters) if (c.expiresAtMs <= nowMs) this.counters.delete(key);
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
