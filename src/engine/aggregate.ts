import type { RewardAggregation } from './types.js'

/** Folds the counted rewards of one decision, in log order, into one value. */
export interface RewardAccumulator {
  add(value: number): void
  /** The combined reward; only called after at least one add. */
  result(): number
}

class Last implements RewardAccumulator {
  private value = 0
  add(value: number) {
    this.value = value
  }
  result() {
    return this.value
  }
}

class First implements RewardAccumulator {
  private value: number | undefined
  add(value: number) {
    if (this.value === undefined) this.value = value
  }
  result() {
    return this.value as number
  }
}

class Sum implements RewardAccumulator {
  private sum = 0
  add(value: number) {
    this.sum += value
  }
  result() {
    return this.sum
  }
}

class Mean implements RewardAccumulator {
  private sum = 0
  private count = 0
  add(value: number) {
    this.sum += value
    this.count++
  }
  result() {
    return this.sum / this.count
  }
}

class Min implements RewardAccumulator {
  private value = Number.POSITIVE_INFINITY
  add(value: number) {
    if (value < this.value) this.value = value
  }
  result() {
    return this.value
  }
}

class Max implements RewardAccumulator {
  private value = Number.NEGATIVE_INFINITY
  add(value: number) {
    if (value > this.value) this.value = value
  }
  result() {
    return this.value
  }
}

/** The middle value; for an even count the mean of the two middle values. */
class Median implements RewardAccumulator {
  private values: number[] = []
  add(value: number) {
    this.values.push(value)
  }
  result() {
    const sorted = [...this.values].sort((a, b) => a - b)
    const mid = sorted.length >> 1
    return sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  }
}

const ACCUMULATORS: Record<RewardAggregation, new () => RewardAccumulator> = {
  last: Last,
  first: First,
  sum: Sum,
  mean: Mean,
  min: Min,
  max: Max,
  median: Median,
}

export function createAccumulator(agg: RewardAggregation): RewardAccumulator {
  return new ACCUMULATORS[agg]()
}
