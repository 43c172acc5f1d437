/**
 * Summary statistics for benchmark samples: median, p99 and range.
 * @module
 */

/** A summary of repeated measurements. */
export interface Summary {
  /** How many samples. */
  n: number;
  /** The median (NaN when empty). */
  median: number;
  /** The 99th percentile, nearest rank (NaN when empty). */
  p99: number;
  /** The smallest sample. */
  min: number;
  /** The largest sample. */
  max: number;
}

/**
 * The `p`-th percentile of samples by nearest rank.
 *
 * @param sorted Samples in ascending order.
 * @param p From 0 to 100.
 * @returns The sample at that rank, or NaN when there are none.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * Summarizes samples; non-finite samples are ignored.
 *
 * @param values The samples, in any order.
 * @returns Count, median, p99 and range.
 */
export function summarize(values: readonly number[]): Summary {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return { n: 0, median: NaN, p99: NaN, min: NaN, max: NaN };
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return {
    n: sorted.length,
    median,
    p99: percentile(sorted, 99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

/**
 * Waits `ms` milliseconds.
 *
 * @param ms How long.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
