/**
 * Recovery after a crash by replaying the last replayHorizonMs of the log into a new engine
 * (the random version is property B in engine.property.test.ts). E = 10, G = 5, H = 10 unless
 * a test says otherwise, so replayHorizonMs = 2E + G + H = 35.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { replayHorizonMs } from '../../src/engine/types.js'
import { LogBuilder, recoverAndRun, run, SETTINGS, settings, summary } from '../helpers/engine-events.js'

test('the replay horizon is 2E + G + H', () => {
  assert.equal(replayHorizonMs(SETTINGS), 35)
  assert.equal(replayHorizonMs(settings({ expUnitMs: 5, earlyRewardMs: 20 })), 50)
  assert.equal(replayHorizonMs(settings({ earlyRewardMs: 0 })), 30)
})

test('after a crash, records already output are not repeated and held rewards still count', () => {
  const log = new LogBuilder()
  log.decision('a', 990) // due 1000, output before the crash
  log.reward('k', 1000, 5) // held for k
  log.decision('k', 1004) // after the crash at 1003
  const endMs = 1014
  const whole = run(SETTINGS, log.events, endMs)
  const after = recoverAndRun(SETTINGS, log.events, 2, 1003, endMs)
  assert.deepEqual(after.records.map(summary), [
    { key: 'k', dueMs: 1014, reward: 5, rewardCount: 1, rewardDeltaMs: -4 },
  ])
  assert.deepEqual(after.outputs, whole.outputs.slice(1))
})

test('replaying from the horizon rebuilds the oldest state that still matters at the checkpoint', () => {
  // Checkpoint W = 1100, horizon 35: the replay starts at 1065. The tightest dependency:
  // decision 1 at 1067 (due 1077) makes the reward at 1086 late; decision 2 at 1091 (pending at
  // W, its window starts at 1086) must therefore not count that reward.
  const log = new LogBuilder()
  log.decision('k', 1067)
  log.reward('k', 1086, 9)
  log.decision('k', 1091, { body: 'second' })
  const whole = run(SETTINGS, log.events, 1101)
  const expected = [{ key: 'k', dueMs: 1101, reward: 0, rewardCount: 0, rewardDeltaMs: null }]
  assert.deepEqual(whole.records.slice(1).map(summary), expected)
  assert.deepEqual(recoverAndRun(SETTINGS, log.events, 3, 1100, 1101).records.map(summary), expected)
  // The horizon is needed: replaying 3 ms less misses decision 1, and the late reward counts.
  const tooShort = recoverAndRun(SETTINGS, log.events, 3, 1100, 1101, replayHorizonMs(SETTINGS) - 3)
  assert.deepEqual(tooShort.records.map(summary), [
    { ...expected[0], reward: 9, rewardCount: 1, rewardDeltaMs: -5 },
  ])
})
