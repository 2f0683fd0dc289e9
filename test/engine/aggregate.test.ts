import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createAccumulator } from '../../src/engine/aggregate.js'
import { REWARD_AGGREGATIONS, type RewardAggregation } from '../../src/engine/types.js'
import { aggregate } from '../helpers/engine-model.js'

function fold(agg: RewardAggregation, values: readonly number[]): number {
  const acc = createAccumulator(agg)
  for (const v of values) acc.add(v)
  return acc.result()
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

test('result can be read repeatedly and more values added afterwards', () => {
  for (const agg of REWARD_AGGREGATIONS) {
    const acc = createAccumulator(agg)
    acc.add(3)
    acc.add(1)
    const once = acc.result()
    assert.equal(acc.result(), once, agg)
    acc.add(2)
    assert.equal(acc.result(), aggregate(agg, [3, 1, 2]), agg)
  }
})

test('each accumulator is independent of the others', () => {
  const a = createAccumulator('median')
  const b = createAccumulator('median')
  a.add(1)
  b.add(100)
  assert.equal(a.result(), 1)
  assert.equal(b.result(), 100)
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
