/**
 * Bounded building blocks of the signal detectors: a table capped by least-recent use, a small
 * HyperLogLog for approximate distinct counts, and a two-bucket sliding-window counter. Every
 * structure has a fixed upper size, so a flood of distinct identities costs a bounded amount of
 * memory however long it lasts.
 */

/**
 * A table of at most `capacity` entries that forgets the least recently used ones, in two
 * generations (as quick-lru does): new and touched entries go to the young generation; when it
 * holds capacity/2 entries, the old generation is dropped whole and the young one becomes old. An
 * entry touched in the old generation moves to the young one. Every operation is O(1) with no
 * list to maintain, and the size stays between capacity/2 and capacity once full: an
 * approximation of LRU that never forgets an entry used within the last capacity/2 distinct keys.
 */
export class LruTable<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;
  /** Entries forgotten since creation: a table that forgets often is sized too small for its traffic (or under a flood). */
  evictions = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new Error(`capacity must be an integer of at least 2, got ${capacity}`);
    this.half = Math.floor(capacity / 2);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The entry for `key`, created by `create` when absent; in both cases in the young generation afterwards. */
  upsert(key: string, create: () => V): V {
    const young = this.young.get(key);
    if (young !== undefined) return young;
    const old = this.old.get(key);
    if (old !== undefined) this.old.delete(key);
    const value = old ?? create();
    if (this.young.size >= this.half) {
      this.evictions += this.old.size;
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
    return value;
  }

  get(key: string): V | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  /** Old generation first. */
  *[Symbol.iterator](): IterableIterator<[string, V]> {
    yield* this.old;
    yield* this.young;
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

/** Sets the register an item falls in, within the 64 registers at `offset`; true when it grew. */
function addToRegisters(registers: Uint8Array, offset: number, text: string): boolean {
  const h = hash32(text);
  const index = offset + (h >>> (32 - HLL_BITS));
  const rest = (h << HLL_BITS) >>> 0;
  const rank = rest === 0 ? 32 - HLL_BITS + 1 : Math.clz32(rest) + 1;
  if (rank <= registers[index]!) return false;
  registers[index] = rank;
  return true;
}

/** 2^-r for every rank a register can hold (0 to 27): a lookup instead of a power per register (the same values, exactly). */
const INVERSE_POWERS = Float64Array.from({ length: 33 }, (_, r) => 2 ** -r);

/** The HyperLogLog estimate of the union of the sketches at offsets `a` and `b` (the same offset for one sketch). */
function estimateRegisters(registers: Uint8Array, a: number, b: number): number {
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < HLL_REGISTERS; i++) {
    const r = Math.max(registers[a + i]!, registers[b + i]!);
    sum += INVERSE_POWERS[r]!;
    if (r === 0) zeros++;
  }
  const raw = (HLL_ALPHA * HLL_REGISTERS * HLL_REGISTERS) / sum;
  if (raw <= 2.5 * HLL_REGISTERS && zeros > 0) return HLL_REGISTERS * Math.log(HLL_REGISTERS / zeros);
  return raw;
}

/**
 * A HyperLogLog distinct counter of 64 one-byte registers. The signals compare distinct counts
 * with thresholds of tens to hundreds, where the sketch answers by linear counting (close to
 * exact); above that its error is about 13%, which only moves the moment a large count is reported.
 */
export class DistinctSketch {
  readonly registers = new Uint8Array(HLL_REGISTERS);

  /** Adds an item; true when a register changed (the estimate may have moved). */
  add(text: string): boolean {
    return addToRegisters(this.registers, 0, text);
  }

  estimate(): number {
    return estimateRegisters(this.registers, 0, 0);
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
}

/**
 * Distinct items over a sliding window: two 64-register sketches (the current bucket and the one
 * before) in one 128-byte buffer; the estimate is of their union, so it covers the last one to
 * two windows.
 */
export class WindowDistinct {
  private start = 0;
  private readonly registers = new Uint8Array(2 * HLL_REGISTERS);
  /** Offset of the current bucket's sketch: 0 or 64. */
  private current = 0;
  private cached = 0;

  constructor(readonly windowMs: number) {}

  add(nowMs: number, item: string): number {
    this.roll(nowMs);
    if (addToRegisters(this.registers, this.current, item)) this.cached = estimateRegisters(this.registers, 0, HLL_REGISTERS);
    return this.cached;
  }

  /** The estimate over the window ending at `nowMs` (buckets that ended are rolled out first). */
  value(nowMs: number): number {
    this.roll(nowMs);
    return this.cached;
  }

  private roll(nowMs: number): void {
    if (this.start === 0) this.start = nowMs;
    const elapsed = nowMs - this.start;
    if (elapsed >= this.windowMs) this.rollBuckets(Math.floor(elapsed / this.windowMs));
  }

  private rollBuckets(buckets: number): void {
    this.current = HLL_REGISTERS - this.current;
    this.registers.fill(0, this.current, this.current + HLL_REGISTERS);
    if (buckets > 1) this.registers.fill(0);
    this.start += buckets * this.windowMs;
    this.cached = estimateRegisters(this.registers, 0, HLL_REGISTERS);
  }
}
