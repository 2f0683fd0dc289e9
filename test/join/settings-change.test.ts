/**
 * SPEC §3: the settings a log was joined with may change only once nothing joined under them is
 * remembered. One rule for both modes (the embedded log at start, a Kafka partition at takeover).
 */

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { JoinSettings } from '../../src/engine/types.js'
import { sameSettings, settingsChangeRefusal } from '../../src/join/settings-change.js'
import { startInProcess, tempDir } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'

const OLD: JoinSettings = { expUnitMs: 1000, earlyRewardMs: 0, rewardAgg: 'sum', defaultReward: 0 }
const NEW: JoinSettings = { ...OLD, expUnitMs: 2000 }

test('settings are the same only when every one of the four is', () => {
  assert.ok(sameSettings(OLD, { ...OLD }))
  for (const changed of [
    { expUnitMs: 1001 },
    { earlyRewardMs: 1 },
    { rewardAgg: 'last' as const },
    { defaultReward: -1 },
  ]) {
    assert.ok(!sameSettings(OLD, { ...OLD, ...changed }), JSON.stringify(changed))
  }
})

test('a change is refused while decisions are remembered, naming both settings and when it may happen', () => {
  const quietFromMs = Date.UTC(2026, 0, 1, 0, 0, 10)
  const refusal = settingsChangeRefusal({
    what: 'the log',
    recorded: OLD,
    wanted: NEW,
    quietFromMs,
    nowMs: quietFromMs - 1,
  })
  assert.match(refusal ?? '', /^the log was joined with EXP_UNIT_MS=1000 /)
  assert.match(refusal ?? '', /until 2026-01-01T00:00:10\.000Z/)
  assert.match(refusal ?? '', /now asked: EXP_UNIT_MS=2000 /)
  assert.equal(
    settingsChangeRefusal({ what: 'the log', recorded: OLD, wanted: NEW, quietFromMs, nowMs: quietFromMs }),
    undefined,
  )
  assert.equal(
    settingsChangeRefusal({ what: 'the log', recorded: OLD, wanted: NEW, quietFromMs: undefined, nowMs: 0 }),
    undefined,
  )
})

test('a restart with other settings is refused while a decision is remembered, and accepted once none is', async (t) => {
  const dir = tempDir()
  t.after(() => dir.remove())
  const clock = new ManualClock()
  const first = await startInProcess(
    { EXP_UNIT_MS: '1000', EARLY_REWARD_MS: '0' },
    { clock, dataDir: dir.path },
  )
  const answer = await first.service.app.inject({
    method: 'POST',
    url: '/log_decision',
    payload: { key: 'k', action: 'a', probability: 0.5, context: {} },
  })
  assert.equal(answer.statusCode, 200)
  await first.close()

  // Due at +1000 and remembered for H = max(E, G) = 1000 more: until +2000.
  await assert.rejects(
    startInProcess({ EXP_UNIT_MS: '2000', EARLY_REWARD_MS: '0' }, { clock, dataDir: dir.path }),
    (error: Error & { code?: string }) =>
      error.code === 'BJ_ERR_CONFIG' &&
      /the log was joined with EXP_UNIT_MS=1000 .*now asked: EXP_UNIT_MS=2000/.test(error.message),
  )
  clock.ms += 2000
  const second = await startInProcess(
    { EXP_UNIT_MS: '2000', EARLY_REWARD_MS: '0' },
    { clock, dataDir: dir.path },
  )
  await second.close()
})
