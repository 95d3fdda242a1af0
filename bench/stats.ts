/**
 * The benchmarks' statistics, one definition for all: nearest-rank percentiles (the smallest
 * sample with at least q of the samples at or below it), q from 0 to 1.
 */

/** The q-quantile of samples already sorted ascending; `whenEmpty` when there are none. */
export function percentile(sorted: ArrayLike<number>, q: number, whenEmpty = Number.NaN): number {
  if (sorted.length === 0) return whenEmpty;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? whenEmpty;
}

/** The q-quantile of samples in any order (sorts a copy). */
export function percentileOf(values: readonly number[], q: number): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    q,
  );
}

export interface Percentiles {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** Median, 99th percentile and maximum, rounded to hundredths. */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 100) / 100;
  return { samples: sorted.length, p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)), max: round(sorted.at(-1) ?? Number.NaN) };
}
