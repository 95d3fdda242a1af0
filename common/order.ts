/** Code-unit order (not the locale's): the same on every machine, so outputs sorted by it are deterministic. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorted by `namespace/name` in code-unit order, each key made once (not once per comparison). */
export function sortedByKey<T extends { namespace: string; name: string }>(items: readonly T[]): T[] {
  return items
    .map((item) => ({ key: `${item.namespace}/${item.name}`, item }))
    .sort((a, b) => compareStrings(a.key, b.key))
    .map(({ item }) => item);
}
