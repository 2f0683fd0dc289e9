/**
 * Overrides, deferred activation and key memory (SPEC §3), one test per sentence of behaviour.
 * Unless a test says otherwise: E = 10, G = 5, H = 10, REWARD_AGG = last, DEFAULT_REWARD = 0.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fingerprintOf } from '../../src/engine/fingerprint.js'
import { LogBuilder, newEngine, run, SETTINGS, settings, summary } from '../helpers/engine-events.js'

const NO_REWARD = { reward: 0, rewardCount: 0, rewardDeltaMs: null }

test('an override inside the window cancels the decision: dead letter overridden with its outcome', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000)
  log.reward('k', 1002, 3)
  log.override('k', 1009)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.records, [])
  assert.deepEqual(sink.deadLetters, [
    {
      event: d,
      reason: 'overridden',
      releaseMs: 1010,
      outcome: { reward: 3, rewardCount: 1, rewardDeltaMs: 2 },
    },
  ])
})

test('an override logged exactly G before its decision cancels it', () => {
  const log = new LogBuilder()
  log.override('k', 995)
  const d = log.decision('k', 1000)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.outputs, [
    { kind: 'dead', deadLetter: { event: d, reason: 'overridden', releaseMs: 1010, outcome: NO_REWARD } },
  ])
})

test('an override logged G + 1 before its decision is an orphan and the decision is emitted', () => {
  const log = new LogBuilder()
  const o = log.override('k', 994)
  log.decision('k', 1000)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.deadLetters, [{ event: o, reason: 'orphan', releaseMs: 1000 }])
  assert.deepEqual(sink.records.map(summary), [{ key: 'k', dueMs: 1010, ...NO_REWARD }])
})

test('an override at the due time is late and the decision is emitted', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  const o = log.override('k', 1010)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.records.map(summary), [{ key: 'k', dueMs: 1010, ...NO_REWARD }])
  assert.deepEqual(sink.deadLetters, [{ event: o, reason: 'late', releaseMs: 1010 }])
})

test('a second override changes nothing', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000)
  log.override('k', 1001)
  log.override('k', 1002)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.deadLetters, [
    { event: d, reason: 'overridden', releaseMs: 1010, outcome: NO_REWARD },
  ])
  assert.deepEqual(sink.observations, [{ kind: 'no_effect', type: 'override' }])
})

test('a deferred decision never activated is dead-lettered as not_activated with its outcome', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000, { deferred: true })
  log.reward('k', 1001, 2)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.records, [])
  assert.deepEqual(sink.deadLetters, [
    {
      event: d,
      reason: 'not_activated',
      releaseMs: 1010,
      outcome: { reward: 2, rewardCount: 1, rewardDeltaMs: 1 },
    },
  ])
})

test('a deferred decision activated just before its due time is emitted, with the default reward if none counted', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000, { deferred: true })
  log.activate('k', 1009)
  const sink = run(settings({ defaultReward: 0.5 }), log.events, 1010)
  assert.deepEqual(sink.outputs, [
    {
      kind: 'record',
      record: { decision: d, dueMs: 1010, outcome: { reward: 0.5, rewardCount: 0, rewardDeltaMs: null } },
    },
  ])
})

test('an activation logged exactly G before its deferred decision activates it', () => {
  const log = new LogBuilder()
  log.activate('k', 995)
  log.decision('k', 1000, { deferred: true })
  assert.deepEqual(run(SETTINGS, log.events, 1010).records.map(summary), [
    { key: 'k', dueMs: 1010, ...NO_REWARD },
  ])
})

test('an activation at the due time is late and the deferred decision is not_activated', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000, { deferred: true })
  const a = log.activate('k', 1010)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.deadLetters, [
    { event: d, reason: 'not_activated', releaseMs: 1010, outcome: NO_REWARD },
    { event: a, reason: 'late', releaseMs: 1010 },
  ])
})

test('activating a decision that is not deferred changes nothing', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  log.activate('k', 1001)
  log.reward('k', 1002, 1)
  const sink = run(SETTINGS, log.events, 1010)
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 1, rewardCount: 1, rewardDeltaMs: 2 },
  ])
  assert.deepEqual(sink.deadLetters, [])
  assert.equal(sink.count('no_effect'), 1)
})

test('a second activation changes nothing', () => {
  const log = new LogBuilder()
  log.decision('k', 1000, { deferred: true })
  log.activate('k', 1001)
  log.activate('k', 1002)
  const sink = run(SETTINGS, log.events, 1010)
  assert.equal(sink.records.length, 1)
  assert.deepEqual(sink.deadLetters, [])
  assert.deepEqual(sink.observations, [{ kind: 'no_effect', type: 'activate' }])
})

test('an override wins over an activation, whichever comes first', () => {
  for (const overrideFirst of [false, true]) {
    const log = new LogBuilder()
    if (overrideFirst) log.override('k', 996)
    const d = log.decision('k', 1000, { deferred: true })
    log.activate('k', 1003)
    if (!overrideFirst) log.override('k', 1004)
    const sink = run(SETTINGS, log.events, 1010)
    assert.deepEqual(sink.deadLetters, [
      { event: d, reason: 'overridden', releaseMs: 1010, outcome: NO_REWARD },
    ])
    assert.deepEqual(sink.records, [])
  }
})

test('a follow-up for a remembered key is late until H past the due time, then held', () => {
  // due 1010, remembered until 1020
  const log = new LogBuilder()
  log.decision('k', 1000)
  const lates = [
    log.reward('k', 1015, 1),
    log.override('k', 1019),
    log.activate('k', 1019),
    log.reward('k', 1019, 1),
  ]
  const held = log.reward('k', 1020, 1)
  const { engine, sink } = newEngine()
  for (const e of log.events) engine.apply(e)
  assert.deepEqual(
    sink.deadLetters,
    lates.map((event) => ({ event, reason: 'late', releaseMs: event.insertMs })),
  )
  assert.equal(engine.heldEvents, 1)
  assert.deepEqual(
    sink.observations.filter((o) => o.kind === 'reward_late'),
    [
      { kind: 'reward_late', delayMs: 15 },
      { kind: 'reward_late', delayMs: 19 },
    ],
  )
  engine.advanceTo(1026)
  assert.deepEqual(sink.deadLetters.at(-1), { event: held, reason: 'orphan', releaseMs: 1026 })
})

test('of several held events for a key only those within G of its decision count', () => {
  const log = new LogBuilder()
  const tooEarly = log.reward('k', 990, 1)
  log.reward('k', 996, 2)
  log.reward('k', 999, 3)
  log.decision('k', 1000)
  const sink = run(settings({ rewardAgg: 'sum' }), log.events, 1010)
  assert.deepEqual(sink.deadLetters, [{ event: tooEarly, reason: 'orphan', releaseMs: 996 }])
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, reward: 5, rewardCount: 2, rewardDeltaMs: -1 },
  ])
})

test('an identical decision whose key is remembered is dropped, whether pending or past due', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000)
  log.decision('k', 1005)
  log.decision('k', 1019)
  const sink = run(SETTINGS, log.events, 1100)
  assert.deepEqual(
    sink.records.map((r) => r.decision),
    [d],
  )
  assert.deepEqual(sink.deadLetters, [])
  assert.equal(sink.count('duplicate_decision'), 2)
})

test('a conflicting decision whose key is remembered is dead-lettered and the first one stands', () => {
  const log = new LogBuilder()
  const d = log.decision('k', 1000)
  const pendingConflict = log.decision('k', 1005, { body: '{"action":2}' })
  log.reward('k', 1006, 4)
  const rememberedConflict = log.decision('k', 1019, { deferred: true, body: '{"deferred":true}' })
  const sink = run(SETTINGS, log.events, 1100)
  assert.deepEqual(sink.records, [
    { decision: d, dueMs: 1010, outcome: { reward: 4, rewardCount: 1, rewardDeltaMs: 6 } },
  ])
  assert.deepEqual(sink.deadLetters, [
    { event: pendingConflict, reason: 'conflicting_duplicate', releaseMs: 1005 },
    { event: rememberedConflict, reason: 'conflicting_duplicate', releaseMs: 1019 },
  ])
})

test('H past its due time a key may be used again by a new decision', () => {
  const log = new LogBuilder()
  const first = log.decision('k', 1000)
  const second = log.decision('k', 1020, { body: '{"action":2}' })
  const { engine, sink } = newEngine(SETTINGS, log.events)
  assert.equal(engine.rememberedDecision('k', 1000), undefined)
  engine.apply(first)
  assert.deepEqual(engine.rememberedDecision('k', 1005), { fingerprint: fingerprintOf(first.fingerprint) })
  engine.advanceTo(1019)
  assert.deepEqual(engine.rememberedDecision('k', 1019), { fingerprint: fingerprintOf(first.fingerprint) })
  assert.equal(engine.rememberedDecision('k', 1020), undefined)
  assert.equal(engine.rememberedDecision('other', 1005), undefined)
  engine.apply(second)
  engine.advanceTo(1030)
  assert.deepEqual(
    sink.records.map((r) => [r.decision, r.dueMs]),
    [
      [first, 1010],
      [second, 1030],
    ],
  )
  assert.deepEqual(sink.deadLetters, [])
})

test('a reward held after the key was forgotten counts for the decision that reuses the key', () => {
  const log = new LogBuilder()
  log.decision('k', 1000)
  log.reward('k', 1021, 7)
  log.decision('k', 1022, { body: 'new' })
  const sink = run(SETTINGS, log.events, 1032)
  assert.deepEqual(sink.records.map(summary), [
    { key: 'k', dueMs: 1010, ...NO_REWARD },
    { key: 'k', dueMs: 1032, reward: 7, rewardCount: 1, rewardDeltaMs: -1 },
  ])
})

test('with G larger than E the key is remembered for G after the due time', () => {
  // E = 5, G = 20, H = 20: due 1005, remembered until 1025; rewards count from 20 ms before.
  const s = settings({ expUnitMs: 5, earlyRewardMs: 20 })
  const log = new LogBuilder()
  log.reward('k', 980, 1)
  const d = log.decision('k', 1000)
  const late = log.reward('k', 1024, 1)
  const conflict = log.decision('k', 1024, { body: 'other' })
  const reused = log.decision('k', 1025, { body: 'other' })
  const sink = run(s, log.events, 1030)
  assert.deepEqual(
    sink.records.map((r) => [r.decision, r.outcome.rewardDeltaMs]),
    [
      [d, -20],
      [reused, null],
    ],
  )
  assert.deepEqual(sink.deadLetters, [
    { event: late, reason: 'late', releaseMs: 1024 },
    { event: conflict, reason: 'conflicting_duplicate', releaseMs: 1024 },
  ])
})
