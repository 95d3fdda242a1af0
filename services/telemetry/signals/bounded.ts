/**
 * Bounded building blocks of the signal detectors: a table capped by least-recent use, a small
 * HyperLogLog for approximate distinct counts, and a two-bucket sliding-window counter. Every
 * structure has a fixed upper size, so a flood of distinct identities costs a bounded amount of
 * memory however long it lasts.
 */

/** A Map capped at `capacity` entries; reading or writing an entry makes it the most recent, and the least recent one is evicted. */
export class LruTable<V> {
  private readonly entries = new Map<string, V>();
  /** Entries evicted since creation: a table that evicts often is sized too small for its traffic (or under a flood). */
  evictions = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry for `key`, created by `create` when absent; in both cases the most recent afterwards. */
  upsert(key: string, create: () => V): V {
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, found);
      return found;
    }
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
      this.evictions++;
    }
    const created = create();
    this.entries.set(key, created);
    return created;
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  /** Oldest first. */
  *[Symbol.iterator](): IterableIterator<[string, V]> {
    yield* this.entries;
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units, finished with murmur3's mixer so the low and high bits are both usable. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Registers of the small HyperLogLog: 2^6 = 64 bytes per sketch; relative error about 13% above ~160 items, near exact below (linear counting). */
const HLL_BITS = 6;
export const HLL_REGISTERS = 1 << HLL_BITS;
const HLL_ALPHA = 0.709; // the bias constant for m = 64 (Flajolet et al., 2007)

/**
 * A HyperLogLog distinct counter of 64 one-byte registers. The signals compare distinct counts
 * with thresholds of tens to hundreds, where the sketch answers by linear counting (close to
 * exact); above that its error is about 13%, which only moves the moment a large count is reported.
 */
export class DistinctSketch {
  readonly registers = new Uint8Array(HLL_REGISTERS);

  /** Adds an item; true when a register changed (the estimate may have moved). */
  add(text: string): boolean {
    const h = hash32(text);
    const index = h >>> (32 - HLL_BITS);
    const rest = (h << HLL_BITS) >>> 0;
    const rank = rest === 0 ? 32 - HLL_BITS + 1 : Math.clz32(rest) + 1;
    if (rank <= this.registers[index]!) return false;
    this.registers[index] = rank;
    return true;
  }

  clear(): void {
    this.registers.fill(0);
  }

  /** The estimated number of distinct items added to this sketch and to `other` together. */
  estimateWith(other?: DistinctSketch): number {
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < HLL_REGISTERS; i++) {
      const r = Math.max(this.registers[i]!, other?.registers[i] ?? 0);
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const raw = (HLL_ALPHA * HLL_REGISTERS * HLL_REGISTERS) / sum;
    if (raw <= 2.5 * HLL_REGISTERS && zeros > 0) return HLL_REGISTERS * Math.log(HLL_REGISTERS / zeros);
    return raw;
  }
}

/**
 * A count over a sliding window, approximated with two fixed buckets (the current one and the
 * one before, weighted by how much of it still lies inside the window), as rate limiters do.
 * Time only moves forward: an entry older than the current bucket counts in the current bucket.
 */
export class WindowCounter {
  private start = 0;
  private current = 0;
  private previous = 0;

  constructor(readonly windowMs: number) {}

  /** Moves the buckets to `nowMs`. */
  roll(nowMs: number): void {
    if (this.start === 0) {
      this.start = nowMs;
      return;
    }
    const elapsed = nowMs - this.start;
    if (elapsed < this.windowMs) return;
    const buckets = Math.floor(elapsed / this.windowMs);
    this.previous = buckets === 1 ? this.current : 0;
    this.current = 0;
    this.start += buckets * this.windowMs;
  }

  add(nowMs: number, amount = 1): void {
    this.roll(nowMs);
    this.current += amount;
  }

  /** The count over the window ending at `nowMs` (call `roll` or `add` first with the same time). */
  value(nowMs: number): number {
    const into = Math.min(1, Math.max(0, (nowMs - this.start) / this.windowMs));
    return this.current + this.previous * (1 - into);
  }

  /** True when a new bucket started at the last roll (so per-bucket state beside it must be rolled too). */
  bucketStart(): number {
    return this.start;
  }
}

/** Distinct items over a sliding window: two sketches, the current bucket and the one before, rolled with the counter they sit beside. */
export class WindowDistinct {
  private start = 0;
  private current = new DistinctSketch();
  private previous = new DistinctSketch();
  private cached = 0;

  constructor(readonly windowMs: number) {}

  add(nowMs: number, item: string): number {
    if (this.start === 0) this.start = nowMs;
    const elapsed = nowMs - this.start;
    if (elapsed >= this.windowMs) {
      const buckets = Math.floor(elapsed / this.windowMs);
      const old = this.previous;
      this.previous = this.current;
      this.current = old;
      this.current.clear();
      if (buckets > 1) this.previous.clear();
      this.start += buckets * this.windowMs;
      this.cached = this.current.estimateWith(this.previous);
    }
    if (this.current.add(item)) this.cached = this.current.estimateWith(this.previous);
    return this.cached;
  }

  value(): number {
    return this.cached;
  }
}
