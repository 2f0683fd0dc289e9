import type { RewardAggregation } from './types.js'

/** The aggregations whose running state is one number, so a decision's tally fits in typed arrays. */
export type ScalarAggregation = Exclude<RewardAggregation, 'median'>

/**
 * Folds a decision's next counted reward (in log order) into the running number: the last,
 * first, min or max so far, or the sum (also for the mean). `countBefore` is how many were
 * folded before; `running` is ignored when it is 0.
 */
export function foldReward(
  agg: ScalarAggregation,
  running: number,
  countBefore: number,
  value: number,
): number {
  if (countBefore === 0) return agg === 'sum' || agg === 'mean' ? 0 + value : value
  switch (agg) {
    case 'last':
      return value
    case 'first':
      return running
    case 'sum':
    case 'mean':
      return running + value
    case 'min':
      return Math.min(value, running)
    case 'max':
      return Math.max(value, running)
  }
}

/** The combined reward of `count` (at least one) rewards folded into `running`. */
export function scalarResult(agg: ScalarAggregation, running: number, count: number): number {
  return agg === 'mean' ? running / count : running
}

/** The middle value; for an even count the mean of the two middle values. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
