import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DecisionTable } from '../../src/engine/decision-table.js'
import { fingerprintOf } from '../../src/engine/fingerprint.js'
import type { DecisionEvent, JoinSettings } from '../../src/engine/types.js'

const SETTINGS: JoinSettings = { expUnitMs: 1000, earlyRewardMs: 0, rewardAgg: 'sum', defaultReward: 0 }

function decision(key: string, pos: number, deferred = false): DecisionEvent {
  return { type: 'decision', key, pos, insertMs: pos, fingerprint: `fp-${key}`, deferred } as DecisionEvent
}

test('fields survive the growth of the arrays and read back per slot', () => {
  const table = new DecisionTable(SETTINGS.rewardAgg)
  const slots: number[] = []
  for (let i = 0; i < 5000; i++)
    slots.push(table.add(decision(`k${i}`, 2 ** 40 + i, i % 3 === 0), 1.5e12 + i))
  for (let i = 0; i < 5000; i++) {
    const slot = slots[i] as number
    assert.equal(table.slotOf(`k${i}`), slot)
    assert.equal(table.key(slot), `k${i}`)
    assert.equal(table.pos(slot), 2 ** 40 + i)
    assert.equal(table.dueMs(slot), 1.5e12 + i)
    assert.deepEqual(table.fingerprint(slot), fingerprintOf(`fp-k${i}`))
    assert.equal(table.pending(slot), true)
    assert.equal(table.deferred(slot), i % 3 === 0)
  }
})

test('a removed slot is reused with nothing left of its former decision', () => {
  const table = new DecisionTable(SETTINGS.rewardAgg)
  const a = table.add(decision('a', 1, true), 10)
  table.markOverridden(a)
  table.markActivated(a)
  table.count(a, { type: 'reward', key: 'a', pos: 2, insertMs: 5, reward: 3, id: 'r1' } as never)
  table.forgetDetails(a)
  assert.equal(table.pending(a), false)
  assert.equal(table.rewardsSeen(a).count, 0)
  table.remove(a)
  assert.equal(table.slotOf('a'), -1)
  const b = table.add(decision('b', 3), 20)
  assert.equal(b, a)
  assert.equal(table.key(b), 'b')
  assert.equal(table.overridden(b), false)
  assert.equal(table.activated(b), false)
  assert.equal(table.deferred(b), false)
  assert.equal(table.rewardsSeen(b).has('r1'), false)
  assert.deepEqual(table.outcome(b, SETTINGS.defaultReward, 10), {
    reward: 0,
    rewardCount: 0,
    rewardDeltaMs: null,
  })
})
