/**
 * The memory budgets of SPEC §7 in the embedded mode: MAX_PENDING counts pending decisions only,
 * MAX_HELD counts events held for keys with no decision, MAX_REWARDS_PER_DECISION bounds the
 * rewards of one decision. Times are on a manual clock, so Retry-After values are exact.
 */

import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { assertAccepted, assertRefused, decision, postBatch, postJson, send } from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'

const E = 10_000
const G = 120_000

async function start(t: TestContext, env: Record<string, string>) {
  const clock = new ManualClock()
  const svc = await startInProcess({ EXP_UNIT_MS: String(E), EARLY_REWARD_MS: String(G), ...env }, { clock })
  t.after(() => svc.close())
  return { svc, clock }
}

const logDecision = (svc: InProcessService, key: string) => () =>
  postJson(svc, '/log_decision', decision(key))
const logReward =
  (svc: InProcessService, key: string, extra: Record<string, unknown> = {}) =>
  () =>
    postJson(svc, '/log_reward', { key, reward: 1, ...extra })
/** A batch that must be logged whole: 200 with every line accepted, and as many events in the log. */
async function acceptBatch(svc: InProcessService, lines: readonly unknown[]): Promise<void> {
  const before = svc.loggedEvents()
  const res = await postBatch(svc, lines)
  assert.equal(res.statusCode, 200, res.text)
  assert.deepEqual(res.json(), { ok: true, accepted: lines.length, duplicates: 0 })
  assert.equal(svc.loggedEvents(), before + lines.length)
}

const rewardLine = (key: string, extra: Record<string, unknown> = {}) => ({
  type: 'reward',
  key,
  reward: 1,
  ...extra,
})

describe('MAX_PENDING counts pending decisions only (SPEC §7)', () => {
  it('is not used up by held orphan rewards: after a batch of MAX_PENDING orphan rewards, MAX_PENDING decisions are accepted', async (t) => {
    const { svc } = await start(t, { MAX_PENDING: '3' })
    await acceptBatch(
      svc,
      ['o1', 'o2', 'o3'].map((key) => rewardLine(key)),
    )
    await svc.service.joiner.flush()
    assert.equal(svc.service.joiner.heldEvents, 3)
    for (const key of ['d1', 'd2', 'd3']) await assertAccepted(svc, logDecision(svc, key))
    await assertRefused(svc, logDecision(svc, 'd4'), 503, /MAX_PENDING=3 decisions pending/)
  })

  it('answers the decision beyond it with Retry-After: the seconds until the oldest pending one is due, rounded up', async (t) => {
    const { svc, clock } = await start(t, { MAX_PENDING: '2' })
    await assertAccepted(svc, logDecision(svc, 'p1'))
    clock.advance(2500)
    await assertAccepted(svc, logDecision(svc, 'p2'))
    clock.advance(300)
    // p1 is due 10,000 ms after it was logged: 7,200 ms from now.
    const res = await assertRefused(svc, logDecision(svc, 'p3'), 503, /MAX_PENDING=2/)
    assert.equal(res.headers['retry-after'], '8')
  })

  it('gives a batch whose own decisions fill it the Retry-After of its first decision', async (t) => {
    const { svc } = await start(t, { MAX_PENDING: '2' })
    const lines = ['a', 'b', 'c'].map((key) => ({ type: 'decision', ...decision(key) }))
    const res = await assertRefused(svc, () => postBatch(svc, lines), 503, /line 3: MAX_PENDING=2/)
    assert.equal(res.headers['retry-after'], String(E / 1000))
  })
})

describe('MAX_HELD bounds rewards, overrides and activations held for keys with no decision (SPEC §3, §7)', () => {
  it('holds exactly MAX_HELD events; one more gets 503 with Retry-After until the oldest held one expires', async (t) => {
    const { svc, clock } = await start(t, { MAX_HELD: '3' })
    await assertAccepted(svc, logReward(svc, 'early-1'))
    clock.advance(1000)
    await assertAccepted(svc, () => postJson(svc, '/override_decision', { key: 'early-2' }))
    clock.advance(1000)
    await assertAccepted(svc, () => postJson(svc, '/activate_decision', { key: 'early-3' }))
    clock.advance(3000)
    // early-1 is an orphan once G has passed since it was logged (120,001 ms): 115,001 ms from now.
    for (const refused of [
      logReward(svc, 'early-4'),
      () => postJson(svc, '/override_decision', { key: 'early-4' }),
      () => postJson(svc, '/activate_decision', { key: 'early-4' }),
      () => send(svc, 'POST', '/log_override?key=early-4'),
    ]) {
      const res = await assertRefused(
        svc,
        refused,
        503,
        /MAX_HELD=3 rewards, overrides and activations held for keys with no decision/,
      )
      assert.equal(res.headers['retry-after'], '116')
    }
  })

  it('does not affect decisions, nor rewards for known decisions, while it is reached', async (t) => {
    const { svc, clock } = await start(t, { MAX_HELD: '1', MAX_PENDING: '10' })
    await assertAccepted(svc, logDecision(svc, 'old'))
    clock.advance(E)
    await svc.service.joiner.flush()
    await assertAccepted(svc, logReward(svc, 'orphan'))
    await assertRefused(svc, logReward(svc, 'orphan-2'), 503, /MAX_HELD=1/)
    await assertAccepted(svc, logDecision(svc, 'd1'))
    await assertAccepted(svc, logReward(svc, 'd1'))
    await assertAccepted(svc, () => postJson(svc, '/override_decision', { key: 'd1' }))
    // A reward for an emitted decision is late, not held.
    await assertAccepted(svc, logReward(svc, 'old'))
  })

  it('frees a place when a held event is claimed by its decision or expires as an orphan', async (t) => {
    const { svc, clock } = await start(t, { MAX_HELD: '1' })
    await assertAccepted(svc, logReward(svc, 'k1'))
    await assertRefused(svc, logReward(svc, 'k2'), 503, /MAX_HELD=1/)
    await assertAccepted(svc, logDecision(svc, 'k1'))
    await svc.service.joiner.flush()
    await assertAccepted(svc, logReward(svc, 'k2'))
    clock.advance(G + 1)
    await svc.service.joiner.flush()
    await assertAccepted(svc, logReward(svc, 'k3'))
  })

  it('in a batch, counts a reward before its own decision as not held, and refuses the line beyond it', async (t) => {
    const { svc } = await start(t, { MAX_HELD: '1' })
    await assertAccepted(svc, logReward(svc, 'held'))
    await acceptBatch(svc, [rewardLine('k'), { type: 'decision', ...decision('k') }])
    const res = await assertRefused(
      svc,
      () => postBatch(svc, [{ type: 'decision', ...decision('d') }, rewardLine('orphan')]),
      503,
      /line 2: MAX_HELD=1/,
    )
    assert.ok(Number(res.headers['retry-after']) >= 1)
  })
})

describe('MAX_REWARDS_PER_DECISION bounds the rewards counted or held for one decision (SPEC §7)', () => {
  it('accepts exactly the limit for a pending decision and refuses one more with 422 naming the limit', async (t) => {
    const { svc } = await start(t, { MAX_REWARDS_PER_DECISION: '3' })
    await assertAccepted(svc, logDecision(svc, 'k'))
    for (let i = 0; i < 3; i++) await assertAccepted(svc, logReward(svc, 'k'))
    await assertRefused(
      svc,
      logReward(svc, 'k', { id: 'new' }),
      422,
      /^MAX_REWARDS_PER_DECISION=3 rewards for key "k" reached$/,
    )
    await assertAccepted(svc, logReward(svc, 'other'))
  })

  it('counts a repeated (key, id) once and never refuses it as extra (SPEC §3)', async (t) => {
    const { svc } = await start(t, { MAX_REWARDS_PER_DECISION: '2' })
    await assertAccepted(svc, logDecision(svc, 'k'))
    await assertAccepted(svc, logReward(svc, 'k', { id: 'a' }))
    await assertAccepted(svc, logReward(svc, 'k', { id: 'a' }))
    await assertAccepted(svc, logReward(svc, 'k', { id: 'b' }))
    await assertAccepted(svc, logReward(svc, 'k', { id: 'a' }))
    await acceptBatch(svc, [rewardLine('k', { id: 'b' }), rewardLine('k', { id: 'b' })])
    await assertRefused(svc, logReward(svc, 'k', { id: 'c' }), 422, /MAX_REWARDS_PER_DECISION=2/)
  })

  it('counts rewards held before the decision, and keeps counting them once it comes', async (t) => {
    const { svc } = await start(t, { MAX_REWARDS_PER_DECISION: '2' })
    await assertAccepted(svc, logReward(svc, 'k', { id: 'a' }))
    await assertAccepted(svc, logReward(svc, 'k'))
    await assertRefused(svc, logReward(svc, 'k'), 422, /MAX_REWARDS_PER_DECISION=2 rewards for key "k"/)
    await assertAccepted(svc, logDecision(svc, 'k'))
    await svc.service.joiner.flush()
    await assertRefused(svc, logReward(svc, 'k'), 422, /MAX_REWARDS_PER_DECISION=2/)
    await assertAccepted(svc, logReward(svc, 'k', { id: 'a' }))
  })

  it("counts a batch's own rewards with those already logged, naming the first line beyond", async (t) => {
    const { svc } = await start(t, { MAX_REWARDS_PER_DECISION: '3' })
    await assertAccepted(svc, logReward(svc, 'k'))
    const lines = [{ type: 'decision', ...decision('k') }, rewardLine('k'), rewardLine('k'), rewardLine('k')]
    await assertRefused(
      svc,
      () => postBatch(svc, lines),
      422,
      /^batch refused, nothing logged: line 4: MAX_REWARDS_PER_DECISION=3 rewards for key "k" reached$/,
    )
    await acceptBatch(svc, lines.slice(0, 3))
  })

  it('does not bound late rewards, which are neither counted nor held', async (t) => {
    const { svc, clock } = await start(t, { MAX_REWARDS_PER_DECISION: '1' })
    await assertAccepted(svc, logDecision(svc, 'k'))
    await assertAccepted(svc, logReward(svc, 'k'))
    clock.advance(E)
    await svc.service.joiner.flush()
    await assertAccepted(svc, logReward(svc, 'k'))
    await assertAccepted(svc, logReward(svc, 'k'))
  })
})

describe('MAX_FIELD_BYTES bounds the strings of action, actions, model, timestamp and reward id (SPEC §7)', () => {
  const withCandidates = (key: string, long: string) =>
    decision(key, { action: 'a', actions: ['a', long], probabilities: [0.5, 0.5] })

  it('accepts a field of exactly MAX_FIELD_BYTES and refuses one byte more with 413 naming the field', async (t) => {
    const { svc } = await start(t, { MAX_FIELD_BYTES: '8' })
    const fits = 'x'.repeat(8)
    const over = 'x'.repeat(9)
    await assertAccepted(svc, () =>
      postJson(svc, '/log_decision', decision('fits', { action: fits, model: fits, timestamp: fits })),
    )
    await assertAccepted(svc, () => postJson(svc, '/log_decision', withCandidates('fits-2', fits)))
    await assertAccepted(svc, logReward(svc, 'fits', { id: fits }))
    const refused: [field: string, request: () => ReturnType<typeof postJson>][] = [
      ['action', () => postJson(svc, '/log_decision', decision('a', { action: over }))],
      ['actions\\[1\\]', () => postJson(svc, '/log_decision', withCandidates('b', over))],
      ['model', () => postJson(svc, '/log_decision', decision('c', { model: over }))],
      ['timestamp', () => postJson(svc, '/log_decision', decision('d', { timestamp: over }))],
      ['id', logReward(svc, 'fits', { id: over })],
    ]
    for (const [field, request] of refused) {
      await assertRefused(
        svc,
        request,
        413,
        new RegExp(`^${field} is 9 bytes of UTF-8, more than MAX_FIELD_BYTES=8$`),
      )
    }
  })

  it('counts UTF-8 bytes, not characters, and leaves keys, integer actions and number timestamps to their own rules', async (t) => {
    const { svc } = await start(t, { MAX_FIELD_BYTES: '8' })
    await assertAccepted(svc, () => postJson(svc, '/log_decision', decision('e4', { model: 'é'.repeat(4) })))
    await assertRefused(
      svc,
      () => postJson(svc, '/log_decision', decision('e5', { model: 'é'.repeat(5) })),
      413,
      /model is 10 bytes/,
    )
    await assertAccepted(svc, () =>
      postJson(
        svc,
        '/log_decision',
        decision('k'.repeat(256), { action: 123456789, timestamp: 1764150000000 }),
      ),
    )
  })

  it('refuses a batch with the status of its first offending line, naming every offending line', async (t) => {
    const { svc } = await start(t, { MAX_FIELD_BYTES: '8' })
    const over = 'x'.repeat(9)
    await assertRefused(
      svc,
      () =>
        postBatch(svc, [
          { type: 'decision', ...decision('ok') },
          { type: 'decision', ...decision('long', { model: over }) },
          { type: 'reward', key: 'r', reward: 'one' },
          rewardLine('r', { id: over }),
        ]),
      413,
      /line 2: model is 9 bytes.*line 3: reward must be a number.*line 4: id is 9 bytes/,
    )
    await assertRefused(
      svc,
      () => postBatch(svc, [{ type: 'reward', key: 'r', reward: 'one' }, rewardLine('r', { id: over })]),
      422,
      /line 1: reward must be a number.*line 2: id is 9 bytes of UTF-8, more than MAX_FIELD_BYTES=8/,
    )
  })
})
