import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  bodyText,
  type DecisionEvent,
  type DecisionRef,
  type JoinOutcome,
  type LoggedEvent,
} from '../../src/engine/types.js'
import { eventLine, toIncomingEvent } from '../../src/ingest/validate.js'
import { deadLetterLine, recordLine, withSeq } from '../../src/output/format.js'

const LIMITS = { maxContextBytes: 1 << 20, maxFieldBytes: 1024 }
const EMITTED_MS = 1_764_150_010_003
const INSERT_MS = 1_764_150_000_000

/** A decision as the ingest path logs it. */
function decision(fields: Record<string, unknown>, insertMs = INSERT_MS, pos = 1): DecisionEvent {
  const incoming = toIncomingEvent('decision', fields, LIMITS)
  assert.equal(incoming.type, 'decision')
  return { ...(incoming as Omit<DecisionEvent, 'pos' | 'insertMs'>), pos, insertMs }
}

function followUp(type: 'reward' | 'override' | 'activate', fields: Record<string, unknown>): LoggedEvent {
  return { ...toIncomingEvent(type, fields, LIMITS), pos: 9, insertMs: INSERT_MS + 700 } as LoggedEvent
}

/** Where the formatters read a released decision's body: here, the one decision at hand. */
const bodyOf =
  (d: DecisionEvent) =>
  (pos: number): string => {
    assert.equal(pos, d.pos)
    return bodyText(d.body)
  }

/** A decision as the engine releases it: by position, without its body. */
const ref = ({ type, pos, insertMs, key, deferred }: DecisionEvent): DecisionRef => ({
  type,
  pos,
  insertMs,
  key,
  deferred,
})

const noBody = (pos: number): string => assert.fail(`no body should be read (asked for ${pos})`)

const parse = (line: string) => JSON.parse(line) as Record<string, unknown>

const FULL = {
  key: 'd-1',
  action: 'b',
  probability: 0.25,
  context: { user: { id: 7, tags: ['x', 'y'] }, hour: 13 },
  actions: ['a', 'b', 'c'],
  probabilities: [0.5, 0.25, 0.25],
  model: 'v3',
  timestamp: '2025-11-26T10:00:00Z',
  deferred: true,
}

const OUTCOME: JoinOutcome = { reward: 1.5, rewardCount: 2, rewardDeltaMs: 5300 }

test('a joined record is the decision fields followed by the reward fields of SPEC §3', () => {
  const d = decision({ ...FULL, ignored: 'not echoed' })
  const line = recordLine(
    { decision: ref(d), dueMs: INSERT_MS + 10_000, outcome: OUTCOME },
    bodyOf(d),
    EMITTED_MS,
  )
  assert.deepEqual(parse(line), {
    ...FULL,
    reward: 1.5,
    reward_count: 2,
    decision_insert_ms: INSERT_MS,
    reward_delta_ms: 5300,
    emitted_ms: EMITTED_MS,
  })
  assert.deepEqual(Object.keys(parse(line)).slice(-5), [
    'reward',
    'reward_count',
    'decision_insert_ms',
    'reward_delta_ms',
    'emitted_ms',
  ])
  assert.ok(!line.includes('\n'))
})

test('a record without counted rewards has the default reward, count 0 and a null reward_delta_ms', () => {
  const d = decision({ key: 'k', action: 3, probability: 1, context: 'raw text' })
  const outcome: JoinOutcome = { reward: -1, rewardCount: 0, rewardDeltaMs: null }
  const record = parse(recordLine({ decision: ref(d), dueMs: 0, outcome }, bodyOf(d), EMITTED_MS))
  assert.deepEqual(record, {
    key: 'k',
    action: 3,
    probability: 1,
    context: 'raw text',
    reward: -1,
    reward_count: 0,
    decision_insert_ms: INSERT_MS,
    reward_delta_ms: null,
    emitted_ms: EMITTED_MS,
  })
  assert.ok('reward_delta_ms' in record)
})

test('a negative reward_delta_ms (early reward) and fractional rewards are written as numbers', () => {
  const d = decision({ key: 'k', action: 'a', probability: 1e-7, context: {} })
  const outcome: JoinOutcome = { reward: -0.125, rewardCount: 1, rewardDeltaMs: -4000 }
  const record = parse(recordLine({ decision: ref(d), dueMs: 0, outcome }, bodyOf(d), EMITTED_MS))
  assert.equal(record.reward, -0.125)
  assert.equal(record.reward_delta_ms, -4000)
  assert.equal(record.probability, 1e-7)
})

const CONTEXTS: unknown[] = [
  'JSON/byte encoded',
  '',
  { a: { b: { c: [1, 2, { d: null }] } } },
  [],
  {},
  [[], [[]], {}],
  null,
  true,
  0,
  -1.5e-300,
  12345678901234,
  { 'é😀': 'line\u2028sep\u2029 "quoted" \\ back', '': 'empty key', '\u0000': '\u0007' },
  { order: 1, matters: 2, not: 3, a: 4 },
]

/** JSON text with every character outside printable ASCII escaped, for test names. */
const printable = (value: unknown) =>
  JSON.stringify(value).replace(/[^\x20-\x7e]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`)

for (const context of CONTEXTS) {
  test(`the context ${printable(context)} comes back deep-equal in the record`, () => {
    const d = decision({ key: 'c', action: 1, probability: 0.5, context })
    const outcome: JoinOutcome = { reward: 0, rewardCount: 0, rewardDeltaMs: null }
    const record = parse(recordLine({ decision: ref(d), dueMs: 0, outcome }, bodyOf(d), EMITTED_MS))
    assert.deepEqual(record.context, context)
  })
}

test('a dead letter of a late reward is the reward as logged with type, insert_ms and reason', () => {
  const event = followUp('reward', { key: 'k', reward: 2, id: 'r-1', extra: true })
  const line = deadLetterLine({ event, reason: 'late', releaseMs: 0 }, noBody, EMITTED_MS)
  assert.deepEqual(parse(line), {
    type: 'reward',
    key: 'k',
    reward: 2,
    id: 'r-1',
    insert_ms: INSERT_MS + 700,
    reason: 'late',
  })
})

test('dead letters of orphaned overrides and activations carry their type, key, insert_ms and reason', () => {
  for (const type of ['override', 'activate'] as const) {
    const event = followUp(type, { key: 'gone' })
    assert.deepEqual(parse(deadLetterLine({ event, reason: 'orphan', releaseMs: 0 }, noBody, EMITTED_MS)), {
      type,
      key: 'gone',
      insert_ms: INSERT_MS + 700,
      reason: 'orphan',
    })
  }
})

test('a cancelled decision has a dead letter with its logged fields and the fields its record would have had', () => {
  const d = decision(FULL)
  const dueMs = INSERT_MS + 10_000
  for (const reason of ['overridden', 'not_activated'] as const) {
    const letter = parse(
      deadLetterLine({ event: ref(d), reason, releaseMs: dueMs, outcome: OUTCOME }, bodyOf(d), EMITTED_MS),
    )
    const record = parse(recordLine({ decision: ref(d), dueMs, outcome: OUTCOME }, bodyOf(d), EMITTED_MS))
    assert.deepEqual(letter, { type: 'decision', ...record, insert_ms: INSERT_MS, reason })
  }
})

test('withSeq adds seq as the last field and keeps every other field', () => {
  const d = decision(FULL)
  const line = recordLine({ decision: ref(d), dueMs: 0, outcome: OUTCOME }, bodyOf(d), EMITTED_MS)
  const tailed = withSeq(line, 42)
  assert.deepEqual(parse(tailed), { ...parse(line), seq: 42 })
  assert.equal(tailed, `${line.slice(0, -1)},"seq":42}`)
  assert.equal(Object.keys(parse(tailed)).at(-1), 'seq')
})

test('a conflicting duplicate keeps its own logged body: only decisions released by position are looked up', () => {
  const d = decision({ key: 'k', action: 'x', probability: 1, context: {} })
  const letter = parse(
    deadLetterLine({ event: d, reason: 'conflicting_duplicate', releaseMs: 0 }, noBody, EMITTED_MS),
  )
  assert.deepEqual(letter, {
    type: 'decision',
    key: 'k',
    action: 'x',
    probability: 1,
    context: {},
    insert_ms: INSERT_MS,
    reason: 'conflicting_duplicate',
  })
})

test('an event whose body came as UTF-8 bytes (a view of a batch checked on a worker) gives the same dead letter and event line as its text', () => {
  const event = followUp('reward', { key: 'k-é😀', reward: 2, id: 'r-€' })
  const text = bodyText(event.body)
  const batch = Buffer.from(`{"other":1}${text}{"next":2}`)
  const start = Buffer.byteLength('{"other":1}')
  const asBytes = { ...event, body: batch.subarray(start, start + Buffer.byteLength(text)) }
  assert.equal(
    deadLetterLine({ event: asBytes, reason: 'late', releaseMs: 0 }, noBody, EMITTED_MS),
    deadLetterLine({ event, reason: 'late', releaseMs: 0 }, noBody, EMITTED_MS),
  )
  assert.equal(eventLine(asBytes), eventLine(event))
})
