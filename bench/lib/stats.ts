/** Median, min and max of a figure over the runs of a scenario. */
export interface Stat {
  median: number
  min: number
  max: number
  values: number[]
}

export function summarize(values: readonly number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    median: percentileOfSorted(sorted, 50),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    values: [...values],
  }
}

/** Percentile of an ascending array by linear interpolation (p in [0, 100]); the median of an even count is the mean of the middle two. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const rank = (p / 100) * (n - 1)
  const low = Math.floor(rank)
  const high = Math.min(low + 1, n - 1)
  const a = sorted[low] as number
  const b = sorted[high] as number
  return a + (b - a) * (rank - low)
}

/** p50, p99 and max of a sample, which is sorted in place. */
export function tail(sample: Float64Array): { p50: number; p99: number; max: number; count: number } {
  sample.sort()
  return {
    p50: percentileOfSorted(sample, 50),
    p99: percentileOfSorted(sample, 99),
    max: sample[sample.length - 1] ?? Number.NaN,
    count: sample.length,
  }
}

/** A growable array of doubles (millions of samples without boxing). */
export class Samples {
  private data = new Float64Array(1024)
  length = 0

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.length++] = value
  }

  /** A copy of the samples, trimmed to length. */
  toArray(): Float64Array {
    return this.data.slice(0, this.length)
  }
}
