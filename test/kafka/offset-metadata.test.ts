import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BanditJoinError } from '../../src/errors.js'
import { decodeCommittedState, encodeCommittedState } from '../../src/kafka/offset-metadata.js'

const settings = { expUnitMs: 10_000, earlyRewardMs: 0, rewardAgg: 'median', defaultReward: -0.5 } as const

test('a partition checkpoint survives the offset metadata round trip, a collision time of -Infinity too', () => {
  for (const lastCollisionMs of [Number.NEGATIVE_INFINITY, 1_800_000_000_123]) {
    const state = { timeMs: 1_800_000_000_500, lastCollisionMs, settings }
    const text = encodeCommittedState(state)
    assert.ok(text.length < 200, text)
    assert.deepEqual(decodeCommittedState(text, 'events/0'), state)
  }
})

test('metadata banditjoin did not write is refused with the partition named, never guessed at', () => {
  for (const text of [
    '',
    'not json',
    '{"v":2,"t":1,"c":null,"s":[1,0,"last",0]}',
    '{"v":1,"t":1,"c":null,"s":[1,0,"avg",0]}',
  ]) {
    assert.throws(
      () => decodeCommittedState(text, 'banditjoin.events/3'),
      (error: unknown) =>
        error instanceof BanditJoinError &&
        error.code === 'BJ_ERR_KAFKA' &&
        error.message.includes('banditjoin.events/3'),
    )
  }
})
