import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admitter } from '../../src/embedded/admission.js'
import { JoinEngine } from '../../src/engine/engine.js'
import type { Admission } from '../../src/ingest/ingestor.js'
import type { IncomingEvent } from '../../src/ingest/validate.js'
import { DISCARD, LogBuilder, settings } from '../helpers/engine-events.js'

const S = settings({ expUnitMs: 10_000, earlyRewardMs: 5_000 })
const LIMITS = { maxPending: 1, maxHeld: 1, maxRewardsPerDecision: 10 }

const incoming = (type: 'decision' | 'reward', key: string): IncomingEvent =>
  type === 'decision'
    ? { type, key, body: '{}', deferred: false, fingerprint: key }
    : { type, key, body: '{}', reward: 1, id: undefined }

function retryAfter(admission: Admission | undefined): number | undefined {
  assert.equal(admission?.kind, 'refuse')
  return admission.kind === 'refuse' ? admission.error.retryAfterSeconds : undefined
}

test('Retry-After for a full pending set is the seconds until the oldest decision is due, rounded up, at least 1', () => {
  const engine = new JoinEngine(S, DISCARD)
  engine.apply(new LogBuilder().decision('d', 0))
  const admitter = new Admitter(LIMITS)
  const at = (ms: number) => retryAfter(admitter.admit(engine, [incoming('decision', 'n')], ms)[0])
  assert.equal(at(0), 10)
  assert.equal(at(1), 10)
  assert.equal(at(999), 10)
  assert.equal(at(1000), 9)
  assert.equal(at(9_999), 1)
  // Due, but not yet released by the engine: room comes at once.
  assert.equal(at(10_000), 1)
})

test('Retry-After for a full held set is the seconds until the oldest held event is an orphan, at least 1', () => {
  const engine = new JoinEngine(S, DISCARD)
  engine.apply(new LogBuilder().reward('early', 0, 1))
  const admitter = new Admitter(LIMITS)
  const at = (ms: number) => retryAfter(admitter.admit(engine, [incoming('reward', 'other')], ms)[0])
  // An orphan at 0 + G + 1 = 5,001.
  assert.equal(at(0), 6)
  assert.equal(at(1), 5)
  assert.equal(at(5_000), 1)
})

test('events appended but not yet applied count against the budgets until the engine takes them', () => {
  const engine = new JoinEngine(S, DISCARD)
  const admitter = new Admitter(LIMITS)
  const log = new LogBuilder()
  admitter.appended(engine, log.decision('queued', 2_000))
  admitter.appended(engine, log.reward('held', 3_000, 1))
  const [decision, reward] = admitter.admit(
    engine,
    [incoming('decision', 'd'), incoming('reward', 'r')],
    4_000,
  )
  assert.equal(retryAfter(decision), 8)
  assert.equal(retryAfter(reward), 5)
  admitter.clear()
  for (const event of log.events) engine.apply(event)
  assert.equal(retryAfter(admitter.admit(engine, [incoming('decision', 'd')], 4_000)[0]), 8)
})

test('a decision checked without its fingerprint is refused as a fault, never judged or logged', () => {
  const engine = new JoinEngine(S, DISCARD)
  const admitter = new Admitter(LIMITS)
  const unfingerprinted: IncomingEvent = {
    type: 'decision',
    key: 'd',
    body: '{}',
    deferred: false,
    fingerprint: '',
  }
  assert.throws(() => admitter.admit(engine, [unfingerprinted], 0), /decision "d" has no fingerprint/)
  assert.equal(admitter.admit(engine, [incoming('decision', 'd')], 0)[0]?.kind, 'accept')
})
