/** Code-unit order (not the locale's): the same on every machine, so outputs sorted by it are deterministic. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
