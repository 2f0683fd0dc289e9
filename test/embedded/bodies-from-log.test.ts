/**
 * The engine keeps no decision bodies: the joiner builds each record and cancelled decision's
 * dead letter from the body read back from the log, or, while the decision's commit has not
 * settled, from the events in memory. The output is what it was when bodies stayed in memory.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { toIncomingEvent } from '../../src/ingest/validate.js'
import { readJsonLines, startInProcess, tempDir } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { waitFor } from '../kit/wait.js'

const E = 1000
const LIMITS = { maxContextBytes: 1 << 20, maxFieldBytes: 1024 }

type Row = Record<string, unknown>
const withoutEmitted = ({ emitted_ms: _emitted, ...rest }: Row) => rest

const fields = (key: string) => ({
  key,
  action: `a-${key}`,
  probability: 0.5,
  context: { user: key, text: 'é😀 "quoted"', n: [1, 2.5] },
})

test('a decision applied and due in the same cycle, before its commit, is built from the events in memory', async (t) => {
  const clock = new ManualClock()
  const svc = await startInProcess({ EXP_UNIT_MS: String(E) }, { clock })
  t.after(() => svc.close())
  const t0 = clock.ms
  const { joiner } = svc.service
  const events = ['m1', 'm2'].map((key) => toIncomingEvent('decision', fields(key), LIMITS))
  assert.deepEqual(
    joiner.admit(events).map((a) => a.kind),
    ['accept', 'accept'],
  )
  const committed = joiner.append(events)
  // The cycle that applies them runs after this: at a time when they are already due.
  clock.ms = t0 + 2 * E
  await committed
  await waitFor('2 records', () => svc.stdout.lines().length >= 2)
  assert.deepEqual(
    (svc.stdout.lines() as Row[]).map(withoutEmitted),
    ['m1', 'm2'].map((key) => ({
      ...fields(key),
      reward: 0,
      reward_count: 0,
      decision_insert_ms: t0,
      reward_delta_ms: null,
    })),
  )
})

test('decisions pending across a restart are emitted with their bodies read back from the log, records and dead letters alike', async (t) => {
  const dir = tempDir()
  t.after(() => dir.remove())
  const dataDir = join(dir.path, 'data')
  const deadPath = join(dir.path, 'dead.jsonl')
  const env = { EXP_UNIT_MS: String(E), DEAD_LETTER: `file:${deadPath}` }
  const clock = new ManualClock()
  const t0 = clock.ms
  const first = await startInProcess(env, { clock, dataDir })
  const decisions = ['r1', 'r2', 'r3'].map((key) => toIncomingEvent('decision', fields(key), LIMITS))
  await first.service.joiner.append(decisions)
  clock.ms = t0 + 100
  const followUps = [
    toIncomingEvent('reward', { key: 'r1', reward: 2 }, LIMITS),
    toIncomingEvent('override', { key: 'r2' }, LIMITS),
  ]
  await first.service.joiner.append(followUps)
  await first.close()
  assert.deepEqual(first.stdout.lines(), [])

  const later = new ManualClock(t0 + 200)
  const second = await startInProcess(env, { clock: later, dataDir })
  t.after(() => second.close())
  assert.equal(second.service.joiner.pendingDecisions, 3)
  later.ms = t0 + E
  await waitFor(
    '2 records and a dead letter',
    () => second.stdout.lines().length >= 2 && readJsonLines(deadPath).length >= 1,
  )
  assert.deepEqual((second.stdout.lines() as Row[]).map(withoutEmitted), [
    { ...fields('r1'), reward: 2, reward_count: 1, decision_insert_ms: t0, reward_delta_ms: 100 },
    { ...fields('r3'), reward: 0, reward_count: 0, decision_insert_ms: t0, reward_delta_ms: null },
  ])
  assert.deepEqual((readJsonLines(deadPath) as Row[]).map(withoutEmitted), [
    {
      type: 'decision',
      ...fields('r2'),
      insert_ms: t0,
      reason: 'overridden',
      reward: 0,
      reward_count: 0,
      decision_insert_ms: t0,
      reward_delta_ms: null,
    },
  ])
})
