// Summaries of repeated measurements: medians and spreads, never a single run.

export interface Summary {
  n: number;
  median: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  /** Interquartile range: where the middle half of the samples lie. */
  p25: number;
  p75: number;
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error('no samples to summarize');
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? 0,
    max: sorted.at(-1) ?? 0,
    p25: percentile(sorted, 25),
    p75: percentile(sorted, 75),
  };
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function ratio(value: number, baseline: number): number {
  return baseline === 0 ? Number.NaN : value / baseline;
}

/** "12.3 ms (11.9–13.0)": median with its interquartile range. */
export function formatMs({ median, p25, p75 }: Summary, digits = 2): string {
  return `${median.toFixed(digits)} ms (${p25.toFixed(digits)}–${p75.toFixed(digits)})`;
}

export function round(value: number, digits = 3): number {
  return Number(value.toFixed(digits));
}
