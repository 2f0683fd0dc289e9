import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DecisionEvent } from '../../src/engine/types.js'
import { BanditJoinError } from '../../src/errors.js'
import { checkSchema, toIncomingEvent } from '../../src/ingest/validate.js'

const LIMITS = { maxContextBytes: 1000, maxFieldBytes: 1024 }

type Decision = Omit<DecisionEvent, 'pos' | 'insertMs'>

function decision(fields: Record<string, unknown>): Decision {
  const event = toIncomingEvent('decision', fields, LIMITS)
  assert.equal(event.type, 'decision')
  return event as Decision
}

const FULL: Record<string, unknown> = {
  key: 'd-1',
  action: 2,
  probability: 0.5,
  context: { user: 'u', features: [1, 2] },
  actions: [1, 2],
  probabilities: [0.5, 0.5],
  model: 'v1',
  timestamp: 1764150000,
  deferred: false,
}

function refuses(fn: () => unknown, statusCode: number, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BanditJoinError, `expected a BanditJoinError, got ${String(error)}`)
    assert.equal(error.statusCode, statusCode)
    if (typeof message === 'string') assert.equal(error.message, message)
    else assert.match(error.message, message)
    return true
  })
}

test('a decision body holds only the known fields, in a fixed order, whatever order they came in', () => {
  const shuffled = {
    zzz: 'unknown',
    deferred: false,
    timestamp: 1764150000,
    model: 'v1',
    probabilities: [0.5, 0.5],
    actions: [1, 2],
    context: { user: 'u', features: [1, 2] },
    probability: 0.5,
    action: 2,
    key: 'd-1',
    type: 'decision',
  }
  const event = decision(shuffled)
  assert.equal(
    event.body,
    '{"key":"d-1","action":2,"probability":0.5,"context":{"user":"u","features":[1,2]},"actions":[1,2],"probabilities":[0.5,0.5],"model":"v1","timestamp":1764150000,"deferred":false}',
  )
  assert.deepEqual(JSON.parse(event.body), FULL)
  assert.equal(event.key, 'd-1')
  assert.equal(event.deferred, false)
})

test('a decision body leaves out optional fields that were not given', () => {
  const event = decision({ key: 'k', action: 'a', probability: 1, context: 'ctx' })
  assert.equal(event.body, '{"key":"k","action":"a","probability":1,"context":"ctx"}')
})

test('the deferred flag is true only for "deferred": true', () => {
  assert.equal(decision({ ...FULL, deferred: true }).deferred, true)
  assert.equal(decision({ ...FULL, deferred: false }).deferred, false)
  const { deferred: _omitted, ...withoutDeferred } = FULL
  assert.equal(decision(withoutDeferred).deferred, false)
})

test('fingerprints are equal whatever the key order, the timestamp or unknown fields', () => {
  const base = decision(FULL).fingerprint
  const reversed = Object.fromEntries(Object.entries(FULL).reverse())
  assert.equal(decision(reversed).fingerprint, base)
  assert.equal(decision({ ...FULL, timestamp: 'another clock' }).fingerprint, base)
  const { timestamp: _omitted, ...withoutTimestamp } = FULL
  assert.equal(decision(withoutTimestamp).fingerprint, base)
  assert.equal(decision({ ...FULL, extra: 1 }).fingerprint, base)
  assert.equal(decision({ ...FULL, context: { features: [1, 2], user: 'u' } }).fingerprint, base)
})

// Logs hold fingerprints: a retried decision must still match the one an earlier version logged.
test('fingerprints are those earlier versions logged (SHA-256 of the canonical JSON of the compared fields)', () => {
  assert.equal(decision(FULL).fingerprint, 'YCfgrGLnnsZdkr3trwEeX8l87tiETzzas5utLst5t+s=')
  const plain = { key: 'k', action: 'a', probability: 1, context: '{"user":7}' }
  assert.equal(decision(plain).fingerprint, 'aBd5GveNMBSVxfy0So01ypK3mIkOLxuCewcAXTRji58=')
  const unusual = {
    key: 'é\u0000',
    action: 'a',
    probability: 1e-7,
    context: { b: [{ y: null, x: -0 }], a: '\u2028' },
  }
  assert.equal(decision(unusual).fingerprint, 'Plf8zmO7Td3C/EguCIU5i6oeSRih9JzCqSE3Hmiq6ls=')
})

test('fingerprints differ when any compared field differs', () => {
  const base = decision(FULL).fingerprint
  const variants: Record<string, unknown>[] = [
    { ...FULL, key: 'd-2' },
    { ...FULL, action: 1, probability: 0.5 },
    { ...FULL, action: '2', actions: ['1', '2'] },
    { ...FULL, probability: 0.5000001, probabilities: [0.4999999, 0.5000001] },
    { ...FULL, context: { user: 'v', features: [1, 2] } },
    { ...FULL, context: { user: 'u', features: [2, 1] } },
    { ...FULL, context: JSON.stringify(FULL.context) },
    { ...FULL, actions: [2, 1], probabilities: [0.5, 0.5] },
    { ...FULL, probabilities: [0.5000001, 0.4999999] },
    { ...FULL, model: 'v2' },
    { ...FULL, deferred: true },
  ]
  for (const variant of variants) {
    assert.notEqual(decision(variant).fingerprint, base, JSON.stringify(variant))
  }
})

test('a reward body holds key, reward and id only', () => {
  assert.deepEqual(toIncomingEvent('reward', { reward: -1.5, key: 'k', extra: true }, LIMITS), {
    type: 'reward',
    key: 'k',
    reward: -1.5,
    id: undefined,
    body: '{"key":"k","reward":-1.5}',
  })
  const withId = toIncomingEvent('reward', { id: 'r1', reward: 0, key: 'k' }, LIMITS)
  assert.equal(withId.body, '{"key":"k","reward":0,"id":"r1"}')
})

test('override and activate bodies hold the key only', () => {
  for (const type of ['override', 'activate'] as const) {
    assert.deepEqual(toIncomingEvent(type, { key: 'k', reward: 1 }, LIMITS), {
      type,
      key: 'k',
      body: '{"key":"k"}',
    })
  }
})

test('a context larger than MAX_CONTEXT_BYTES in UTF-8 JSON text is refused with 413', () => {
  const fits = 'é'.repeat(499) // 998 bytes + 2 quotes = 1000
  assert.doesNotThrow(() => decision({ ...FULL, context: fits }))
  refuses(
    () => decision({ ...FULL, context: `${fits}a` }),
    413,
    /context is 1001 bytes.*MAX_CONTEXT_BYTES=1000/,
  )
})

test('the candidate list rules beyond JSON Schema are checked with messages naming the rule', () => {
  refuses(
    () => decision({ ...FULL, probabilities: undefined }),
    422,
    'actions and probabilities must be given together',
  )
  refuses(
    () => decision({ ...FULL, probabilities: [1] }),
    422,
    'probabilities must have the same length as actions (got 1 for 2)',
  )
  refuses(() => decision({ ...FULL, actions: [2, 2] }), 422, 'actions must not repeat an action id')
  refuses(() => decision({ ...FULL, actions: [1, 3] }), 422, 'actions must include the chosen action (2)')
  refuses(() => decision({ ...FULL, probabilities: [0.5, 0.6] }), 422, /^probabilities must sum to 1/)
  refuses(
    () => decision({ ...FULL, probabilities: [0.75, 0.25] }),
    422,
    'probabilities[1] must equal probability for the chosen action (got 0.25, probability 0.5)',
  )
  assert.doesNotThrow(() => decision({ ...FULL, probabilities: [0.5 + 5e-7, 0.5 - 5e-7] }))
})

const SCHEMA_CASES: [type: Parameters<typeof checkSchema>[0], value: unknown, message: string][] = [
  ['decision', { ...FULL, probability: 0 }, 'probability must be > 0 (got 0)'],
  ['decision', { ...FULL, probability: 1.5 }, 'probability must be <= 1 (got 1.5)'],
  ['decision', { ...FULL, probability: '0.5' }, 'probability must be a number (got "0.5")'],
  ['decision', { action: 1, probability: 0.5, context: {} }, 'key is required'],
  ['decision', { key: 'k', probability: 0.5, context: {} }, 'action is required'],
  ['decision', { key: 'k', action: 1, probability: 0.5 }, 'context is required'],
  ['decision', { ...FULL, key: '' }, 'key must NOT have fewer than 1 characters (got "")'],
  ['decision', { ...FULL, key: 7 }, 'key must be a string (got 7)'],
  ['decision', { ...FULL, action: 1.5 }, 'action must be a string or an integer (got 1.5)'],
  ['decision', { ...FULL, action: true }, 'action must be a string or an integer (got true)'],
  ['decision', { ...FULL, probabilities: [0.5, 2] }, 'probabilities[1] must be <= 1 (got 2)'],
  ['decision', { ...FULL, deferred: 'yes' }, 'deferred must be a boolean (got "yes")'],
  ['decision', { ...FULL, model: 3 }, 'model must be a string (got 3)'],
  ['decision', [], 'body must be an object'],
  ['decision', { ...FULL, actions: 'x' }, 'actions must be an array (got "x")'],
  ['reward', { key: 'k', reward: '1' }, 'reward must be a number (got "1")'],
  ['reward', { key: 'k' }, 'reward is required'],
  ['reward', { key: 'k', reward: 1, id: '' }, 'id must NOT have fewer than 1 characters (got "")'],
  ['override', {}, 'key is required'],
  ['activate', { key: null }, 'key must be a string (got null)'],
  ['line', { type: 'decisions' }, 'type must be equal to one of the allowed values (got "decisions")'],
  ['line', {}, 'type is required'],
]

for (const [type, value, message] of SCHEMA_CASES) {
  test(`checkSchema(${type}) refuses a body with '${message}'`, () => {
    refuses(() => checkSchema(type, value), 422, message)
  })
}

test('a key of 256 code points is accepted and one of 257 refused, counting code points not UTF-16 units', () => {
  assert.doesNotThrow(() => checkSchema('override', { key: '😀'.repeat(256) }))
  refuses(
    () => checkSchema('override', { key: '😀'.repeat(257) }),
    422,
    /^key must NOT have more than 256 characters/,
  )
})

test('checkSchema accepts valid events of every type, ignoring unknown fields', () => {
  assert.doesNotThrow(() => checkSchema('decision', { ...FULL, extra: { anything: 1 } }))
  assert.doesNotThrow(() => checkSchema('decision', { key: 'k', action: 'a', probability: 1, context: null }))
  assert.doesNotThrow(() => checkSchema('reward', { key: 'k', reward: -3, id: 'x' }))
  assert.doesNotThrow(() => checkSchema('override', { key: 'k', extra: 1 }))
  assert.doesNotThrow(() => checkSchema('activate', { key: 'k' }))
  assert.doesNotThrow(() => checkSchema('line', { type: 'reward', key: 'k', reward: 1 }))
})

test('a reward id is bounded by MAX_FIELD_BYTES alone: 1024 bytes pass, 1025 get 413 naming the field', () => {
  const id = (length: number) => ({ key: 'k', reward: 1, id: 'i'.repeat(length) })
  assert.doesNotThrow(() => checkSchema('reward', id(1024)))
  assert.equal(toIncomingEvent('reward', id(1024), LIMITS).type, 'reward')
  refuses(
    () => toIncomingEvent('reward', id(1025), LIMITS),
    413,
    'id is 1025 bytes of UTF-8, more than MAX_FIELD_BYTES=1024',
  )
})

test('each string of actions is bounded by MAX_FIELD_BYTES, counting UTF-8 bytes of strings only', () => {
  const long = '€'.repeat(342) // 1,026 bytes, 342 UTF-16 units
  refuses(
    () => decision({ ...FULL, action: 1, actions: [1, long], probabilities: [0.5, 0.5] }),
    413,
    'actions[1] is 1026 bytes of UTF-8, more than MAX_FIELD_BYTES=1024',
  )
  assert.doesNotThrow(() =>
    decision({ ...FULL, action: 1, actions: [1, '€'.repeat(341)], probabilities: [0.5, 0.5] }),
  )
})
