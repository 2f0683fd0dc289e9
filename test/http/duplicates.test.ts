import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import {
  assertAccepted,
  assertOk,
  assertRefused,
  decision,
  postBatch,
  postJson,
} from '../helpers/http-client.js'
import { type InProcessService, readJsonLines, startInProcess, tempDir } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { waitFor } from '../kit/wait.js'

async function start(t: TestContext, env: Record<string, string> = {}) {
  const clock = new ManualClock()
  const svc = await startInProcess({ EXP_UNIT_MS: '1000', ...env }, { clock })
  t.after(() => svc.close())
  return { svc, clock }
}

type Row = Record<string, unknown>

/** Advances past the window and waits until `count` records are on stdout. */
async function emitted(svc: InProcessService, clock: ManualClock, count: number): Promise<Row[]> {
  clock.advance(1000)
  await waitFor(`${count} records on stdout`, () => svc.stdout.lines().length >= count)
  return svc.stdout.lines() as Row[]
}

const logDecision = (svc: InProcessService, body: unknown) => postJson(svc, '/log_decision', body)

describe('a repeated decision key (SPEC §3)', () => {
  it('answers the same decision twice with duplicate: true, logs it once and emits one record', async (t) => {
    const { svc, clock } = await start(t)
    await assertAccepted(svc, () => logDecision(svc, decision('k1')))
    const before = svc.loggedEvents()
    assertOk(await logDecision(svc, decision('k1')), { duplicate: true })
    assert.equal(svc.loggedEvents(), before, 'the duplicate is not logged')
    const records = await emitted(svc, clock, 1)
    assert.equal(records.length, 1)
    assert.deepEqual(
      readJsonLines(svc.outputPath).map((r) => (r as Row).key),
      ['k1'],
    )
  })

  it('treats a context with its keys in another order as identical', async (t) => {
    const { svc } = await start(t)
    const context = { a: 1, b: { c: [1, { d: 2, e: 3 }], f: 'g' } }
    const permuted = { b: { f: 'g', c: [1, { e: 3, d: 2 }] }, a: 1 }
    await assertAccepted(svc, () => logDecision(svc, decision('k2', { context })))
    assertOk(await logDecision(svc, { context: permuted, probability: 0.5, action: 'a', key: 'k2' }), {
      duplicate: true,
    })
  })

  it('does not compare timestamp: a retry with another client time is a duplicate', async (t) => {
    const { svc } = await start(t)
    await assertAccepted(svc, () => logDecision(svc, decision('k3', { timestamp: '2026-01-01T00:00:00Z' })))
    assertOk(await logDecision(svc, decision('k3', { timestamp: '2026-01-01T00:00:05Z' })), {
      duplicate: true,
    })
    assertOk(await logDecision(svc, decision('k3')), { duplicate: true })
  })

  it('ignores unknown fields when comparing', async (t) => {
    const { svc } = await start(t)
    await assertAccepted(svc, () => logDecision(svc, decision('k4', { retry: 0 })))
    assertOk(await logDecision(svc, decision('k4', { retry: 1 })), { duplicate: true })
  })

  it('refuses a different decision under the same key with 409 and keeps the first', async (t) => {
    const { svc, clock } = await start(t)
    await assertAccepted(svc, () => logDecision(svc, decision('k5', { action: 1, model: 'v1' })))
    for (const change of [
      { action: 2 },
      { action: '1' },
      { probability: 0.25 },
      { context: { user: 'u2', hour: 12 } },
      { model: 'v2' },
      { deferred: true },
    ]) {
      await assertRefused(
        svc,
        () => logDecision(svc, decision('k5', { action: 1, model: 'v1', ...change })),
        409,
        /key "k5" is already a different decision/,
      )
    }
    const [record] = await emitted(svc, clock, 1)
    assert.equal(record?.action, 1)
    assert.equal(record?.model, 'v1')
    assert.equal(record?.probability, 0.5)
  })

  it('still answers duplicate: true after the decision was emitted, without a second record', async (t) => {
    const { svc, clock } = await start(t)
    await assertAccepted(svc, () => logDecision(svc, decision('k6')))
    await emitted(svc, clock, 1)
    const before = svc.loggedEvents()
    assertOk(await logDecision(svc, decision('k6')), { duplicate: true })
    await assertRefused(svc, () => logDecision(svc, decision('k6', { action: 'b' })), 409, /k6/)
    await assertAccepted(svc, () => logDecision(svc, decision('k7')))
    const records = await emitted(svc, clock, 2)
    assert.deepEqual(
      records.map((r) => r.key),
      ['k6', 'k7'],
    )
    assert.equal(svc.loggedEvents(), before + 1)
  })

  it('recognises a retry after a restart, whatever Unicode text the key holds', async (t) => {
    const dir = tempDir()
    t.after(() => dir.remove())
    const clock = new ManualClock()
    const keys = ['😀 ключ 鍵', '\ufffd', 'tab\there', 'ǅ\u0000z']
    const first = await startInProcess({ EXP_UNIT_MS: '1000' }, { clock, dataDir: dir.path })
    for (const key of keys) await assertAccepted(first, () => logDecision(first, decision(key)))
    await first.close()
    const again = await startInProcess({ EXP_UNIT_MS: '1000' }, { clock, dataDir: dir.path })
    t.after(() => again.close())
    for (const key of keys) assertOk(await logDecision(again, decision(key)), { duplicate: true })
    const records = await emitted(again, clock, keys.length)
    assert.deepEqual(
      records.map((r) => r.key),
      keys,
    )
  })
})

describe('a decision key is remembered for H = max(E, G) after its due time', () => {
  it('refuses a different decision under the key until H after due, and accepts it from then on', async (t) => {
    const { svc, clock } = await start(t, { EARLY_REWARD_MS: '500' })
    const t0 = clock.ms
    await assertAccepted(svc, () => logDecision(svc, decision('h1', { action: 'first' })))
    await emitted(svc, clock, 1)
    clock.ms = t0 + 1000 + 1000 - 1
    await assertRefused(svc, () => logDecision(svc, decision('h1', { action: 'second' })), 409, /h1/)
    assertOk(await logDecision(svc, decision('h1', { action: 'first' })), { duplicate: true })
    clock.ms = t0 + 1000 + 1000
    await assertAccepted(svc, () => logDecision(svc, decision('h1', { action: 'second' })))
    const records = await emitted(svc, clock, 2)
    assert.deepEqual(
      records.map((r) => [r.key, r.action]),
      [
        ['h1', 'first'],
        ['h1', 'second'],
      ],
    )
  })
})

describe('MAX_PENDING bounds pending decisions (events held early: MAX_HELD, budgets.test.ts)', () => {
  it('refuses a third decision with 503 and Retry-After when MAX_PENDING=2, logging nothing', async (t) => {
    const { svc } = await start(t, { MAX_PENDING: '2' })
    await assertAccepted(svc, () => logDecision(svc, decision('p1')))
    await assertAccepted(svc, () => logDecision(svc, decision('p2')))
    const res = await assertRefused(svc, () => logDecision(svc, decision('p3')), 503, /MAX_PENDING=2/)
    const retryAfter = Number(res.headers['retry-after'])
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After is ${res.headers['retry-after']}`)
  })

  it('still accepts rewards, overrides and duplicates for pending decisions', async (t) => {
    const { svc } = await start(t, { MAX_PENDING: '2' })
    await assertAccepted(svc, () => logDecision(svc, decision('p1')))
    await assertAccepted(svc, () => logDecision(svc, decision('p2', { deferred: true })))
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'p1', reward: 1 }))
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'p1', reward: 2, id: 'x' }))
    await assertAccepted(svc, () => postJson(svc, '/activate_decision', { key: 'p2' }))
    await assertAccepted(svc, () => postJson(svc, '/override_decision', { key: 'p1' }))
    assertOk(await logDecision(svc, decision('p1')), { duplicate: true })
  })

  it('refuses a batch that would exceed MAX_PENDING with 503 and Retry-After, logging nothing', async (t) => {
    const { svc } = await start(t, { MAX_PENDING: '2' })
    const lines = ['a', 'b', 'c'].map((key) => ({ type: 'decision', ...decision(key) }))
    const res = await assertRefused(svc, () => postBatch(svc, lines), 503, /line 3: .*MAX_PENDING=2/)
    assert.ok(Number(res.headers['retry-after']) > 0)
  })

  it('accepts new decisions again once pending ones were emitted', async (t) => {
    const { svc, clock } = await start(t, { MAX_PENDING: '2' })
    await assertAccepted(svc, () => logDecision(svc, decision('p1')))
    await assertAccepted(svc, () => logDecision(svc, decision('p2')))
    await assertRefused(svc, () => logDecision(svc, decision('p3')), 503, /MAX_PENDING/)
    await emitted(svc, clock, 2)
    await assertAccepted(svc, () => logDecision(svc, decision('p3')))
  })
})
