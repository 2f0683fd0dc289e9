import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it, type TestContext } from 'node:test'
import { assertAccepted, assertOk, decision, postBatch, postJson, send } from '../helpers/http-client.js'
import { type InProcessService, readJsonLines, startInProcess } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { waitFor } from '../kit/wait.js'

const E = 1000

type Row = Record<string, unknown>

async function start(t: TestContext, env: Record<string, string> = {}) {
  const clock = new ManualClock()
  const svc = await startInProcess({ EXP_UNIT_MS: String(E), ...env }, { clock })
  t.after(() => svc.close())
  return { svc, clock, t0: clock.ms }
}

/** Moves the manual clock to `ms` and waits until `count` records are on stdout (and in the file). */
async function expectRecords(svc: InProcessService, clock: ManualClock, ms: number, count: number) {
  clock.ms = ms
  await waitFor(
    `${count} records`,
    () => svc.stdout.lines().length >= count && readJsonLines(svc.outputPath).length >= count,
  )
  return svc.stdout.lines() as Row[]
}

/** Moves the manual clock to `ms`, runs the joiner's cycle there to its commit, and checks nothing new was emitted. */
async function expectNothingNew(svc: InProcessService, clock: ManualClock, ms: number, count: number) {
  clock.ms = ms
  await svc.service.joiner.flush()
  assert.equal(svc.stdout.lines().length, count, `${count} records on stdout at ${ms}`)
  assert.equal(readJsonLines(svc.outputPath).length, count, `${count} records in the file at ${ms}`)
}

const withoutEmitted = ({ emitted_ms: _emitted, ...rest }: Row) => rest

describe('end-to-end join through the HTTP API (ManualClock, EXP_UNIT_MS=1000)', () => {
  it('emits a decision with two rewards exactly once, at its due time, to stdout and the file', async (t) => {
    const { svc, clock, t0 } = await start(t)
    const context = { user: { id: 'u1', tags: ['a', 'b'] }, n: 1.5, ok: true, none: null, text: 'é😀' }
    await assertAccepted(svc, () =>
      postJson(svc, '/log_decision', { key: 'e1', action: 'left', probability: 0.4, context, extra: 'x' }),
    )
    clock.ms = t0 + 200
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'e1', reward: 1 }))
    clock.ms = t0 + 500
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'e1', reward: 0.5, note: 'n' }))

    await expectNothingNew(svc, clock, t0 + E - 1, 0)
    const [record] = await expectRecords(svc, clock, t0 + E, 1)
    assert.ok(record)
    assert.deepEqual(withoutEmitted(record), {
      key: 'e1',
      action: 'left',
      probability: 0.4,
      context,
      reward: 0.5,
      reward_count: 2,
      decision_insert_ms: t0,
      reward_delta_ms: 500,
    })
    assert.equal(typeof record.emitted_ms, 'number')
    assert.ok((record.emitted_ms as number) >= t0 + E, 'not emitted before the due time')
    assert.deepEqual(readJsonLines(svc.outputPath), [record], 'the file holds the same record')

    await expectNothingNew(svc, clock, t0 + 10 * E, 1)
  })

  it('writes stdout and the file line for line identical, one JSON object per line', async (t) => {
    const { svc, clock, t0 } = await start(t)
    for (const key of ['f1', 'f2', 'f3']) await postJson(svc, '/log_decision', decision(key))
    await expectRecords(svc, clock, t0 + E, 3)
    const file = readFileSync(svc.outputPath, 'utf8')
    assert.equal(svc.stdout.text, file)
    assert.equal(file.split('\n').filter((l) => l !== '').length, 3)
    assert.ok(file.endsWith('\n'))
  })

  it('carries the optional decision fields through with their JSON types, and drops unknown ones', async (t) => {
    const { svc, clock, t0 } = await start(t)
    const body = {
      key: 'o1',
      action: 7,
      probability: 0.25,
      context: '{"raw": "json text"}',
      actions: [3, 7, 9],
      probabilities: [0.5, 0.25, 0.25],
      model: 'policy-v2',
      timestamp: '2026-11-26T12:00:00Z',
      deferred: true,
      unknown: { a: 1 },
      type: 'ignored',
    }
    await assertAccepted(svc, () => postJson(svc, '/log_decision', body))
    await assertAccepted(svc, () => postJson(svc, '/activate_decision', { key: 'o1', unknown: 1 }))
    const [record] = await expectRecords(svc, clock, t0 + E, 1)
    assert.ok(record)
    const { unknown: _u, type: _t, ...expected } = body
    assert.deepEqual(withoutEmitted(record), {
      ...expected,
      reward: 0,
      reward_count: 0,
      decision_insert_ms: t0,
      reward_delta_ms: null,
    })
    assert.equal(typeof record.action, 'number')
    assert.equal(typeof record.context, 'string')
    assert.ok(!('unknown' in record) && !('type' in record), 'unknown fields are not echoed')
  })

  it('counts a reward up to just before the window ends, and not one at its end', async (t) => {
    const { svc, clock, t0 } = await start(t, { DEFAULT_REWARD: '-1' })
    await postJson(svc, '/log_decision', decision('w1'))
    await postJson(svc, '/log_decision', decision('w2'))
    clock.ms = t0 + E - 1
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'w1', reward: -3.5 }))
    const records = await expectRecords(svc, clock, t0 + E, 2)
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'w2', reward: 9 }))
    await expectNothingNew(svc, clock, t0 + 3 * E, 2)
    const byKey = Object.fromEntries(records.map((r) => [r.key, r]))
    assert.equal(byKey.w1?.reward, -3.5)
    assert.equal(byKey.w1?.reward_delta_ms, E - 1)
    assert.equal(byKey.w2?.reward, -1, 'no reward counted: DEFAULT_REWARD')
    assert.equal(byKey.w2?.reward_count, 0)
    assert.equal(byKey.w2?.reward_delta_ms, null)
  })

  it('counts a reward with the same id once, so clients can retry it', async (t) => {
    const { svc, clock, t0 } = await start(t, { REWARD_AGG: 'sum' })
    await postJson(svc, '/log_decision', decision('i1'))
    for (let i = 0; i < 3; i++) {
      assertOk(await postJson(svc, '/log_reward', { key: 'i1', reward: 2, id: 'click-1' }))
    }
    await postJson(svc, '/log_reward', { key: 'i1', reward: 5, id: 'click-2' })
    const [record] = await expectRecords(svc, clock, t0 + E, 1)
    assert.equal(record?.reward, 7)
    assert.equal(record?.reward_count, 2)
  })

  it('joins a reward that arrived before its decision, with a negative reward_delta_ms', async (t) => {
    const { svc, clock, t0 } = await start(t)
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'early', reward: 1 }))
    clock.ms = t0 + 300
    await assertAccepted(svc, () => postJson(svc, '/log_decision', decision('early')))
    const [record] = await expectRecords(svc, clock, t0 + 300 + E, 1)
    assert.equal(record?.reward, 1)
    assert.equal(record?.reward_delta_ms, -300)
    assert.equal(record?.decision_insert_ms, t0 + 300)
  })

  it('emits nothing for an overridden decision, whichever override route was used', async (t) => {
    const { svc, clock, t0 } = await start(t)
    for (const key of ['ov1', 'ov2', 'ov3', 'kept']) await postJson(svc, '/log_decision', decision(key))
    await assertAccepted(svc, () => postJson(svc, '/override_decision', { key: 'ov1' }))
    await assertAccepted(svc, () =>
      send(svc, 'POST', '/log_override?key=ov2', { headers: { 'content-length': '0' } }),
    )
    await assertAccepted(svc, () => postJson(svc, '/log_override', { key: 'ov3' }))
    const records = await expectRecords(svc, clock, t0 + E, 1)
    await expectNothingNew(svc, clock, t0 + 2 * E, 1)
    assert.deepEqual(
      records.map((r) => r.key),
      ['kept'],
    )
  })

  it('emits a deferred decision only if it was activated', async (t) => {
    const { svc, clock, t0 } = await start(t)
    await postJson(svc, '/log_decision', decision('def-on', { deferred: true }))
    await postJson(svc, '/log_decision', decision('def-off', { deferred: true }))
    await assertAccepted(svc, () => postJson(svc, '/activate_decision', { key: 'def-on' }))
    const records = await expectRecords(svc, clock, t0 + E, 1)
    await expectNothingNew(svc, clock, t0 + 2 * E, 1)
    assert.deepEqual(
      records.map((r) => r.key),
      ['def-on'],
    )
  })

  it('emits records in due-time order, equal due times in log order, including batched ones', async (t) => {
    const { svc, clock, t0 } = await start(t)
    assertOk(
      await postBatch(svc, [
        { type: 'decision', ...decision('b') },
        { type: 'decision', ...decision('a') },
        { type: 'reward', key: 'a', reward: 3 },
      ]),
      { accepted: 3, duplicates: 0 },
    )
    clock.ms = t0 + 10
    await postJson(svc, '/log_decision', decision('c'))
    const records = await expectRecords(svc, clock, t0 + E + 10, 3)
    assert.deepEqual(
      records.map((r) => [r.key, r.reward]),
      [
        ['b', 0],
        ['a', 3],
        ['c', 0],
      ],
    )
  })

  it('counts the emitted records in /metrics', async (t) => {
    const { svc, clock, t0 } = await start(t)
    await postJson(svc, '/log_decision', decision('m1'))
    await expectRecords(svc, clock, t0 + E, 1)
    const metrics = (await send(svc, 'GET', '/metrics')).text
    assert.match(metrics, /^banditjoin_records_emitted_total 1$/m)
  })
})
