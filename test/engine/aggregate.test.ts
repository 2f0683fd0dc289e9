import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { foldReward, median, scalarResult } from '../../src/engine/aggregate.js'
import { REWARD_AGGREGATIONS, type RewardAggregation } from '../../src/engine/types.js'
import { aggregate } from '../helpers/engine-model.js'

/** What the engine keeps for a decision's rewards, folded one by one, then its result. */
function fold(agg: RewardAggregation, values: readonly number[]): number {
  if (agg === 'median') return median(values)
  let running = Number.NaN
  values.forEach((value, countBefore) => {
    running = foldReward(agg, running, countBefore, value)
  })
  return scalarResult(agg, running, values.length)
}

test('every aggregation of a single reward is that reward', () => {
  for (const agg of REWARD_AGGREGATIONS) {
    for (const v of [0, 1, -3.5, 1e9]) assert.equal(fold(agg, [v]), v, `${agg} of ${v}`)
  }
})

test('last and first take the last and first value added, even when equal values repeat', () => {
  assert.equal(fold('last', [3, 1, 2]), 2)
  assert.equal(fold('first', [3, 1, 2]), 3)
  assert.equal(fold('first', [0, 5]), 0)
  assert.equal(fold('last', [5, 0]), 0)
})

test('sum and mean add in order and divide by the count', () => {
  assert.equal(fold('sum', [1, 2, 3, -10]), -4)
  assert.equal(fold('mean', [1, 2, 3, -10]), -1)
  assert.equal(fold('mean', [1, 2]), 1.5)
})

test('min and max work with negative values only', () => {
  assert.equal(fold('min', [-1, -7, -3]), -7)
  assert.equal(fold('max', [-1, -7, -3]), -1)
})

test('median of an odd count is the middle value of the sorted rewards', () => {
  assert.equal(fold('median', [5, 1, 9]), 5)
  assert.equal(fold('median', [9, -2, 4, 100, 3]), 4)
})

test('median of an even count is the mean of the two middle values', () => {
  assert.equal(fold('median', [4, 1]), 2.5)
  assert.equal(fold('median', [10, 1, 3, 2]), 2.5)
  assert.equal(fold('median', [-1, 8, 2, 4]), 3)
})

test('median sorts numerically, not as strings', () => {
  assert.equal(fold('median', [10, 9, 100]), 10)
  assert.equal(fold('median', [-10, -9, 2]), -9)
})

test('a sum or mean starting with -0 is 0, as adding to an empty sum gives', () => {
  assert.ok(Object.is(fold('sum', [-0]), 0))
  assert.ok(Object.is(fold('mean', [-0]), 0))
  assert.ok(Object.is(fold('min', [-0]), -0))
})

test('median leaves the values it was given in their order', () => {
  const values = [3, 1, 2]
  assert.equal(median(values), 2)
  assert.deepEqual(values, [3, 1, 2])
})

test('every aggregation agrees with its definition on random rewards', () => {
  // `+ 0` turns -0 into 0: which zero min/max return among equal zeros is of no interest.
  const double = fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => v + 0)
  const reward = fc.oneof(fc.integer({ min: -1000, max: 1000 }), double)
  fc.assert(
    fc.property(
      fc.constantFrom(...REWARD_AGGREGATIONS),
      fc.array(reward, { minLength: 1, maxLength: 30 }),
      (agg, values) => {
        assert.equal(fold(agg, values), aggregate(agg, values))
      },
    ),
    { numRuns: 500, seed: 20240601 },
  )
})
