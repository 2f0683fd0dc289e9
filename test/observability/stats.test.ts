import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { ServiceStatus } from '../../src/metrics.js'
import { send } from '../helpers/http-client.js'
import { waitFor } from '../kit/wait.js'
import { decisionBody, startObserved } from './harness.js'
import { samplesOf, sampleValue } from './prom-text.js'
import { REWARD_ENV, rewardScenario } from './scenario.js'

const KEY = 'status-key'

describe('GET /stats and the status page', () => {
  it('reports the totals, outcome fractions and pending state of what was sent', async (t) => {
    const o = await startObserved(t, REWARD_ENV)
    await rewardScenario(o)
    await o.post('/log_decision', decisionBody('still-pending'))
    const stats = await o.stats()
    assert.equal(stats.now_ms, o.t0 + 3000)
    assert.deepEqual(stats.settings, {
      exp_unit_ms: 1000,
      early_reward_ms: 2000,
      key_memory_ms: 2000,
      reward_agg: 'last',
    })
    assert.equal(stats.pending_decisions, 1)
    assert.equal(stats.held_events, 0)
    assert.deepEqual(
      {
        decisions: stats.totals.decisions,
        rewards: stats.totals.rewards,
        records: stats.totals.records_emitted,
        counted: stats.totals.rewards_counted,
        early: stats.totals.rewards_early,
        late: stats.totals.rewards_late,
        orphaned: stats.totals.rewards_orphaned,
        heldEarly: stats.totals.rewards_held_early,
      },
      { decisions: 3, rewards: 4, records: 2, counted: 2, early: 1, late: 1, orphaned: 1, heldEarly: 2 },
    )
    assert.deepEqual(stats.fractions, { on_time: 0.25, early: 0.25, late: 0.25, orphan: 0.25 })
  })

  it('places decisions, rewards and records in the second of the service clock they happened in', async (t) => {
    const o = await startObserved(t, REWARD_ENV)
    await rewardScenario(o)
    const { throughput } = await o.stats()
    assert.equal(throughput.interval_ms, 1000)
    assert.equal(throughput.decisions.length, 600, 'ten minutes of seconds')
    const first = (o.t0 - throughput.start_ms) / 1000
    assert.equal(first, 596, 'the series ends with the second of now (t0 + 3 s)')
    const at = (series: number[]) => series.slice(first, first + 4)
    assert.deepEqual(at(throughput.decisions), [2, 0, 0, 0])
    assert.deepEqual(at(throughput.rewards), [3, 1, 0, 0])
    assert.deepEqual(at(throughput.records), [0, 2, 0, 0], 'both emitted at 1.55 s')
    assert.equal(
      throughput.decisions.reduce((a, b) => a + b, 0),
      2,
    )
  })

  it('bins reward delays by a tenth of the window and gives the share each longer window would keep', async (t) => {
    const o = await startObserved(t, REWARD_ENV)
    await rewardScenario(o)
    const { reward_delay: delay } = await o.stats()
    assert.equal(delay.window_ms, 1000)
    assert.equal(delay.total, 3, 'counted and late; the orphan has no delay')
    assert.deepEqual(delay.bins[0], { from_ms: null, to_ms: 0, counted: 1, late: 0 })
    const used = delay.bins.filter((b) => b.counted + b.late > 0)
    assert.deepEqual(used, [
      { from_ms: null, to_ms: 0, counted: 1, late: 0 },
      { from_ms: 200, to_ms: 300, counted: 1, late: 0 },
      { from_ms: 1100, to_ms: 1200, counted: 0, late: 1 },
    ])
    assert.deepEqual(delay.bins.at(-1)?.to_ms, null, 'the last bin is open-ended')
    assert.deepEqual(
      delay.windows.map((w) => [w.window_ms, w.share]),
      [
        [500, 2 / 3],
        [1000, 2 / 3],
        [1500, 1],
        [2000, 1],
        [3000, 1],
        [5000, 1],
        [10000, 1],
      ],
    )
  })

  it('serves the status page as one HTML document with its script and style inlined', async (t) => {
    const o = await startObserved(t)
    const res = await send(o.svc, 'GET', '/status')
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/html/)
    assert.match(res.text, /<svg id="delay-histogram"/)
    assert.match(res.text, /function renderDelay/)
    assert.match(res.text, /--counted:/)
    assert.doesNotMatch(res.text, /\/\* (SCRIPT|STYLE) \*\//, 'no placeholder left')
    assert.doesNotMatch(res.text, /<script src=|<link /, 'nothing loaded from elsewhere')
  })

  it('keeps the status page public and /stats behind the API key when one is set', async (t) => {
    const o = await startObserved(t, { API_KEY: KEY })
    assert.equal((await send(o.svc, 'GET', '/status')).statusCode, 200)
    assert.equal((await send(o.svc, 'GET', '/stats')).statusCode, 401)
    const res = await send(o.svc, 'GET', '/stats', { headers: { authorization: `Bearer ${KEY}` } })
    assert.equal(res.statusCode, 200)
    assert.equal((res.json() as { pending_decisions: number }).pending_decisions, 0)
  })
})

describe('GET /healthz and GET /readyz', () => {
  it('answers both with 200 {"ok": true} once the log is recovered, open, and every output writable', async (t) => {
    const o = await startObserved(t)
    await o.post('/log_decision', decisionBody('ready'))
    await o.at(1000)
    for (const url of ['/healthz', '/readyz']) {
      const res = await send(o.svc, 'GET', url)
      assert.equal(res.statusCode, 200, url)
      assert.deepEqual(res.json(), { ok: true })
    }
  })

  it('answers /readyz with 503 naming the output whose last write failed, while /healthz stays 200', async (t) => {
    const o = await startObserved(t, { OUTPUT: 'stdout,file:/dev/full' })
    assert.equal((await send(o.svc, 'GET', '/readyz')).statusCode, 200, 'nothing written yet')
    await o.post('/log_decision', decisionBody('full'))
    await o.at(1000)
    // The write to /dev/full happens in the maintenance cycle: on a loaded machine one cycle's
    // wait may not be enough, so wait for the refusal rather than expect it at once.
    const res = await waitFor('/readyz to answer 503', async () => {
      const answer = await send(o.svc, 'GET', '/readyz')
      return answer.statusCode === 503 ? answer : undefined
    })
    assert.equal(res.statusCode, 503)
    const body = res.json() as { ok: boolean; code: string; not_ready: string[] }
    assert.equal(body.ok, false)
    assert.equal(body.code, 'BJ_ERR_NOT_READY')
    assert.equal(body.not_ready.length, 1)
    assert.match(body.not_ready[0] as string, /^output file:\/dev\/full: the last write failed: .*ENOSPC/)
    assert.equal((await send(o.svc, 'GET', '/healthz')).statusCode, 200)
  })
})

describe('what an operator looks at first: version, readiness, output lag, dead letters', () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }

  it('GET /stats and GET /metrics carry the version, and readiness with what /readyz names', async (t) => {
    const o = await startObserved(t, { OUTPUT: 'stdout,file:/dev/full' })
    const before = (await o.stats()) as ServiceStatus
    assert.equal(before.version, version)
    assert.equal(before.ready, true)
    assert.deepEqual(before.not_ready, [])
    let m = await o.metrics()
    assert.deepEqual(
      samplesOf(m, 'banditjoin_build_info').map((s) => [s.labels, s.value]),
      [[{ version }, 1]],
    )
    assert.equal(sampleValue(m, 'banditjoin_ready'), 1)

    await o.post('/log_decision', decisionBody('to-a-full-disk'))
    await o.at(1000)
    // Maintenance (every 250 ms of service time) retries the output and reports its lag.
    await o.at(1300)
    const after = (await o.stats()) as ServiceStatus
    const readyz = (await send(o.svc, 'GET', '/readyz')).json() as { not_ready: string[] }
    assert.equal(after.ready, false)
    assert.deepEqual(after.not_ready, readyz.not_ready)
    assert.match(after.not_ready[0] as string, /^output file:\/dev\/full: the last write failed: .*ENOSPC/)
    assert.deepEqual(after.output_lag, { stdout: 0, 'file:/dev/full': 1 })
    m = await o.metrics()
    assert.equal(sampleValue(m, 'banditjoin_ready'), 0)
  })

  it('GET /stats counts dead letters by reason, as /metrics does', async (t) => {
    const o = await startObserved(t, { EARLY_REWARD_MS: '1000' })
    await o.post('/log_decision', decisionBody('emitted'))
    await o.post('/log_decision', decisionBody('overridden'))
    await o.post('/override_decision', { key: 'overridden' })
    await o.post('/log_reward', { key: 'nobody', reward: 1 })
    await o.at(1500)
    await o.post('/log_reward', { key: 'emitted', reward: 1 })
    await o.at(3000)
    await o.at(3100)
    const stats = (await o.stats()) as ServiceStatus
    assert.deepEqual(stats.dead_letters, { late: 1, orphan: 1, overridden: 1, not_activated: 0 })
    const m = await o.metrics()
    for (const [reason, count] of Object.entries(stats.dead_letters))
      assert.equal(sampleValue(m, 'banditjoin_dead_letters_total', { reason }), count, reason)
  })
})
