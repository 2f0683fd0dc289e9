/**
 * The window rules of SPEC §3, one test per sentence of behaviour. Unless a test says
 * otherwise: E = 10, G = 5, H = 10, REWARD_AGG = last, DEFAULT_REWARD = 0.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { REWARD_AGGREGATIONS, type RewardAggregation, type RewardEvent } from '../../src/engine/types.js'
import { LogBuilder, letter, newEngine, run, SETTINGS, settings, summary } from '../helpers/engine-events.js'

test('a decision is emitted at its due time t_d + E and not a millisecond before', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000)
  const { engine, sink } = newEngine(SETTINGS, log.events)
  engine.apply(d)
  engine.advanceTo(1009)
  assert.deepEqual(sink.outputs, [])
  engine.advanceTo(1010)
  assert.deepEqual(sink.records, [
    { decision: d, dueMs: 1010, outcome: { reward: 0, rewardCount: 0, rewardDeltaMs: null } },
  ])
})

test('a reward logged one millisecond before the due time counts', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  log.reward('k', 1009, 7)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 7, rewardCount: 1, rewardDeltaMs: 9 },
  ])
  assert.deepEqual(sink.deadLetters, [])
})

test('a reward logged at the due time does not count and is late, released at its own time', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  const r = log.reward('k', 1010, 7)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 0, rewardCount: 0, rewardDeltaMs: null },
  ])
  assert.deepEqual(sink.deadLetters, [{ event: r, reason: 'late', releaseMs: 1010 }])
  assert.equal(sink.count('reward_late'), 1)
})

test('a reward logged at the decision time counts with a zero delta', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  log.reward('k', 1000, 3)
  assert.deepEqual(run(SETTINGS, log.events, 1010).records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 3, rewardCount: 1, rewardDeltaMs: 0 },
  ])
})

test('a reward logged exactly G before its decision is held and counts with a negative delta', () => {
  const log = new LogBuilder()
  log.reward('k', 995, 4)
  log.decision('k', 1000)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 4, rewardCount: 1, rewardDeltaMs: -5 },
  ])
  assert.deepEqual(sink.deadLetters, [])
  assert.deepEqual(
    sink.observations.filter((o) => o.kind === 'held_early'),
    [{ kind: 'held_early', type: 'reward' }],
  )
})

test('a reward logged G + 1 before its decision is an orphan, released once G has passed', () => {
  const log = new LogBuilder()
  const r = log.reward('k', 994, 4)
  log.decision('k', 1000)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.deadLetters, [{ event: r, reason: 'orphan', releaseMs: 1000 }])
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 0, rewardCount: 0, rewardDeltaMs: null },
  ])
})

test('a held reward becomes an orphan only when more than G has passed since it was logged', () => {
  const log = new LogBuilder()
  const r = log.reward('k', 1000, 1)
  const { engine, sink } = newEngine()
  engine.apply(r)
  assert.equal(engine.heldEvents, 1)
  engine.advanceTo(1005)
  assert.deepEqual(sink.outputs, [])
  engine.advanceTo(1006)
  assert.deepEqual(sink.deadLetters, [{ event: r, reason: 'orphan', releaseMs: 1006 }])
  assert.equal(engine.heldEvents, 0)
})

test('with G = 0 the join is causal: earlier rewards are orphans, same-millisecond ones count', () => {
  const s = settings({ earlyRewardMs: 0 })
  const log = new LogBuilder()
  const before = log.reward('k', 999, 1)
  log.reward('k', 1000, 2)
  log.decision('k', 1000)
  const sink = run(s, log.events, 1010)
  assert.deepEqual(sink.deadLetters, [{ event: before, reason: 'orphan', releaseMs: 1000 }])
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 2, rewardCount: 1, rewardDeltaMs: 0 },
  ])
})

/** Rewards 2, 8, -1, 4 (even count) and then 10 (odd count), logged in that order. */
const EXPECTED: Record<RewardAggregation, [even: number, odd: number]> = {
  last: [4, 10],
  first: [2, 2],
  sum: [13, 23],
  mean: [3.25, 4.6],
  min: [-1, -1],
  max: [8, 10],
  median: [3, 4],
}

for (const agg of REWARD_AGGREGATIONS) {
  test(`REWARD_AGG=${agg} combines the counted rewards as defined (even and odd count)`, () => {
    const s = settings({ rewardAgg: agg, earlyRewardMs: 5 })
    const even = new LogBuilder()
    even.reward('k', 998, 2)
    even.decision('k', 1000)
    even.reward('k', 1002, 8)
    even.reward('k', 1002, -1)
    even.reward('k', 1006, 4)
    const [evenExpected, oddExpected] = EXPECTED[agg]
    assert.deepEqual(run(s, even.events, 1010).records.map(summary), [
      { key: 'k', dueMs: 1010, reward: evenExpected, rewardCount: 4, rewardDeltaMs: 6 },
    ])
    even.reward('k', 1009, 10)
    assert.deepEqual(run(s, even.events, 1010).records.map(summary), [
      { key: 'k', dueMs: 1010, reward: oddExpected, rewardCount: 5, rewardDeltaMs: 9 },
    ])
  })
}

test('last and first break ties of equal insert_ms by log order', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  log.reward('k', 1003, 5)
  log.reward('k', 1003, 6)
  assert.equal(run(settings({ rewardAgg: 'last' }), log.events, 1010).records[0]?.outcome.reward, 6)
  assert.equal(run(settings({ rewardAgg: 'first' }), log.events, 1010).records[0]?.outcome.reward, 5)
})

test('reward_delta_ms is that of the last counted reward whatever the aggregation', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  log.reward('k', 1001, -5)
  log.reward('k', 1007, 9)
  for (const agg of REWARD_AGGREGATIONS) {
    assert.equal(
      run(settings({ rewardAgg: agg }), log.events, 1010).records[0]?.outcome.rewardDeltaMs,
      7,
      agg,
    )
  }
})

test('a decision with no counted reward gets DEFAULT_REWARD, a count of 0 and a null delta', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  assert.deepEqual(run(settings({ defaultReward: -1.5 }), log.events, 1010).records.map(summary), [
    { key: 'k', dueMs: 1010, reward: -1.5, rewardCount: 0, rewardDeltaMs: null },
  ])
})

test('rewards with the same key and id count once: the first one counts, repeats move nothing', () => {
  const log = new LogBuilder()
  log.reward('k', 998, 1, { id: 'a' })
  log.decision('k', 1000)
  log.reward('k', 1002, 50, { id: 'a' })
  log.reward('k', 1003, 2)
  log.reward('k', 1004, 2)
  log.reward('k', 1005, 3, { id: 'b' })
  log.reward('k', 1008, 70, { id: 'b' })
  const sink = run(settings({ rewardAgg: 'sum' }), log.events, 1010)
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 8, rewardCount: 4, rewardDeltaMs: 5 },
  ])
  assert.equal(sink.count('reward_repeated'), 2)
  assert.equal(sink.count('reward_counted'), 4)
  assert.deepEqual(sink.deadLetters, [])
})

test('a reward late for an earlier decision is never held for a later decision with the same key', () => {
  // E = 10, G = 15, H = 15: the first decision (due 1010) remembers its key until 1025.
  const s = settings({ earlyRewardMs: 15 })
  const log = new LogBuilder()
  log.decision('k', 1000)
  const late = log.reward('k', 1020, 5)
  log.reward('k', 1025, 6)
  const second = log.decision('k', 1025, { body: '{"second":true}' })
  const sink = run(s, log.events, 1035)
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 0, rewardCount: 0, rewardDeltaMs: null },
    { key: 'k', dueMs: 1035, reward: 6, rewardCount: 1, rewardDeltaMs: 0 },
  ])
  assert.equal(sink.records[1]?.decision, second)
  assert.deepEqual(sink.deadLetters, [{ event: late, reason: 'late', releaseMs: 1020 }])
})

test('records come out in due-time order, equal due times in log order', () => {
  const log = new LogBuilder()
  log.decision('b', 1000)
  log.decision('a', 1000)
  log.decision('c', 1001)
  log.decision('d', 1001)
  const sink = run(SETTINGS, log.events, 2000)
  assert.deepEqual(
    sink.records.map((r) => [r.decision.key, r.dueMs]),
    [
      ['b', 1010],
      ['a', 1010],
      ['c', 1011],
      ['d', 1011],
    ],
  )
})

test('records and dead letters released at the same time come out in log order', () => {
  // E = 6, G = 5: a decision at t and an event for another key held at t - 1 are released together.
  const log = new LogBuilder()
  log.reward('x', 999, 1) // orphan at 1005, logged before a
  log.decision('a', 999) // due 1005
  log.decision('b', 1000) // due 1006
  log.reward('y', 1000, 1) // orphan at 1006, logged after b
  const sink = run(settings({ expUnitMs: 6 }), log.events, 1006)
  assert.deepEqual(
    sink.outputs.map((o) =>
      o.kind === 'record'
        ? ['record', o.record.decision.key, o.record.dueMs]
        : [o.deadLetter.reason, o.deadLetter.event.key, o.deadLetter.releaseMs],
    ),
    [
      ['orphan', 'x', 1005],
      ['record', 'a', 1005],
      ['record', 'b', 1006],
      ['orphan', 'y', 1006],
    ],
  )
})

test('advanceTo releases nothing before the due time, and a later event releases what is due first', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000)
  const other = log.decision('other', 1010)
  const { engine, sink } = newEngine(SETTINGS, log.events)
  engine.apply(d)
  for (let t = 1000; t < 1010; t++) engine.advanceTo(t)
  assert.deepEqual(sink.outputs, [])
  assert.equal(engine.pendingDecisions, 1)
  engine.apply(other)
  assert.deepEqual(
    sink.records.map((r) => r.decision),
    [d],
  )
  assert.equal(engine.pendingDecisions, 1)
  assert.equal(engine.timeMs, 1010)
})

test('outputs are identical whether advanceTo is called every millisecond or never between events', () => {
  const log = new LogBuilder()
  log.reward('a', 995, 1)
  log.decision('a', 1000, { deferred: true })
  log.reward('b', 1001, 2)
  log.activate('a', 1003)
  log.decision('b', 1004)
  log.override('c', 1004)
  log.reward('a', 1010, 3)
  log.decision('a', 1015, { body: 'other' })
  log.reward('b', 1016, 4)
  log.decision('c', 1030)
  const never = run(SETTINGS, log.events, 1100)
  const { engine, sink: often } = newEngine(SETTINGS, log.events)
  let t = 990
  for (const event of log.events) {
    for (; t <= event.insertMs; t++) engine.advanceTo(t)
    engine.apply(event)
  }
  engine.advanceTo(1100)
  assert.deepEqual(often.outputs, never.outputs)
  assert.deepEqual(
    never.deadLetters.map(letter).map((l) => l.reason),
    ['orphan', 'late', 'conflicting_duplicate', 'late'],
  )
  assert.equal(never.records.length, 3)
})

test('an event held with its body as bytes (a view of a batch checked on a worker) is held with it as text: no view keeps the batch', () => {
  const text = JSON.stringify({ key: 'k', reward: 2 })
  const batch = Buffer.from(`${text}{"key":"other"}`)
  const reward: RewardEvent = {
    type: 'reward',
    pos: 1,
    insertMs: 1000,
    key: 'k',
    body: batch.subarray(0, text.length),
    reward: 2,
  }
  const { engine, sink } = newEngine(SETTINGS)
  engine.apply(reward)
  assert.deepEqual(
    engine.exportState().held.map((event) => event.body),
    [text],
  )
  // Never claimed: it leaves as an orphan, still as text.
  engine.advanceTo(2000)
  assert.deepEqual(
    sink.deadLetters.map(({ event, reason }) => ['body' in event ? event.body : undefined, reason]),
    [[text, 'orphan']],
  )
})
