/**
 * Bounded frequency counts (the space-saving algorithm): at most `capacity` keys; a new key
 * past that replaces the least counted one and inherits its count plus one, so the heavy
 * hitters are kept and their counts overestimate by at most the smallest count. Keys are what
 * clients send (app versions): a Map, so `__proto__` is a key like any other.
 */
export type Counts = Map<string, number>;

export function addCount(counts: Counts, key: string, capacity: number, by = 1): void {
  const current = counts.get(key);
  if (current !== undefined) {
    counts.set(key, current + by);
    return;
  }
  if (counts.size < capacity) {
    counts.set(key, by);
    return;
  }
  let min: string | undefined;
  let minCount = Infinity;
  for (const [k, n] of counts) {
    if (n < minCount) {
      min = k;
      minCount = n;
    }
  }
  if (min !== undefined) counts.delete(min);
  counts.set(key, minCount + by);
}

/** Merges `from` into `into` within `capacity`. */
export function mergeCounts(into: Counts, from: Counts, capacity: number): void {
  for (const [key, n] of from) addCount(into, key, capacity, n);
}

/** Keys, most counted first (ties in code-unit order), at most `limit`. */
export function topKeys(counts: Counts, limit: number): string[] {
  return [...counts]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, limit)
    .map(([k]) => k);
}

/** As JSON: [key, count] pairs, most counted first. */
export function countsToJSON(counts: Counts): [string, number][] {
  return topKeys(counts, counts.size).map((k) => [k, counts.get(k)!]);
}

/** From JSON, within `capacity` (stored state is input: never trusted to be small). */
export function countsFromJSON(pairs: readonly (readonly [string, number])[], capacity: number): Counts {
  const counts: Counts = new Map();
  for (const [k, n] of pairs.slice(0, capacity)) counts.set(k, n);
  return counts;
}
