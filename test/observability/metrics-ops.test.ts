import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { send } from '../helpers/http-client.js'
import { decisionBody, startObserved } from './harness.js'
import { histogramOf, samplesOf, sampleValue } from './prom-text.js'

// SPEC §6: the log, outputs, HTTP and process families, and naming conventions.

describe('metrics of the log, outputs, HTTP and process, read from GET /metrics', () => {
  it('measures every log commit: its duration and how many events it carried', async (t) => {
    const o = await startObserved(t)
    for (const key of ['l1', 'l2', 'l3']) await o.post('/log_decision', decisionBody(key))
    await o.post('/log_reward', { key: 'l1', reward: 1 })
    await o.at(1000)
    const m = await o.metrics()
    const seconds = histogramOf(m, 'banditjoin_log_commit_seconds')
    const events = histogramOf(m, 'banditjoin_log_commit_events')
    assert.ok(seconds.count >= 4, `one commit per request at least, got ${seconds.count}`)
    assert.equal(events.count, seconds.count, 'one observation of each per commit')
    assert.equal(events.sum, 4, 'every accepted event was in exactly one commit')
    assert.ok(seconds.sum > 0)
    assert.equal(sampleValue(m, 'banditjoin_log_commit_failures_total'), 0)
  })

  it('reports the output lag of every output, zero once they have written every record', async (t) => {
    const o = await startObserved(t)
    for (const key of ['o1', 'o2']) await o.post('/log_decision', decisionBody(key))
    await o.at(1000)
    await o.at(1100)
    const m = await o.metrics()
    assert.equal(sampleValue(m, 'banditjoin_records_emitted_total'), 2)
    const lags = samplesOf(m, 'banditjoin_output_lag_records')
    assert.deepEqual(lags.map((s) => s.labels.output).sort(), [`file:${o.svc.outputPath}`, 'stdout'].sort())
    for (const lag of lags) assert.equal(lag.value, 0, `${lag.labels.output} is behind`)
  })

  it('times HTTP requests by route pattern, method and status code', async (t) => {
    const o = await startObserved(t)
    for (const key of ['h1', 'h2']) await o.post('/log_decision', decisionBody(key))
    assert.equal(await o.post('/log_reward', { key: 'h1' }), 422)
    await send(o.svc, 'GET', '/joined?from=1000')
    await send(o.svc, 'GET', '/no/such/route')
    const m = await o.metrics()
    const count = (route: string, method: string, status: string) =>
      histogramOf(m, 'banditjoin_http_request_duration_seconds', { route, method, status_code: status }).count
    assert.equal(count('/log_decision', 'POST', '200'), 2)
    assert.equal(count('/log_reward', 'POST', '422'), 1)
    assert.equal(count('/joined', 'GET', '400'), 1, 'labelled by the route pattern, not the query')
    assert.equal(count('unmatched', 'GET', '404'), 1, 'unknown paths share one label value')
    const routes = new Set(
      samplesOf(m, 'banditjoin_http_request_duration_seconds_count').map((s) => s.labels.route),
    )
    assert.ok(!routes.has('/no/such/route'), 'no label value per unknown path')
  })

  it('exports the process metrics of prom-client under the banditjoin_ prefix', async (t) => {
    const o = await startObserved(t)
    const m = await o.metrics()
    assert.equal(m.type.get('banditjoin_process_cpu_user_seconds_total'), 'counter')
    assert.equal(m.type.get('banditjoin_process_resident_memory_bytes'), 'gauge')
    assert.equal(m.type.get('banditjoin_nodejs_heap_size_used_bytes'), 'gauge')
    assert.ok(sampleValue(m, 'banditjoin_process_resident_memory_bytes') > 0)
    assert.ok(sampleValue(m, 'banditjoin_nodejs_heap_size_used_bytes') > 0)
  })

  it('exports the window in force in seconds', async (t) => {
    const o = await startObserved(t, { EXP_UNIT_MS: '1500' })
    assert.equal(sampleValue(await o.metrics(), 'banditjoin_window_seconds'), 1.5)
  })

  it('names and documents every metric by Prometheus conventions', async (t) => {
    const o = await startObserved(t)
    await o.post('/log_decision', decisionBody('n1'))
    const m = await o.metrics()
    const families = [...m.type.keys()]
    assert.ok(families.length > 20, `${families.length} families`)
    for (const name of families) {
      assert.match(name, /^banditjoin_[a-z0-9_]+$/, 'prefix banditjoin_, snake_case')
      assert.ok(m.help.get(name), `${name} has a HELP line`)
      const type = m.type.get(name)
      if (type === 'counter') assert.match(name, /_total$/, `${name}: counters end in _total`)
      // prom-client's own defaults name a few gauges *_total (nodejs_active_handles_total): not ours.
      else if (!/^banditjoin_(process|nodejs)_/.test(name))
        assert.doesNotMatch(name, /_total$/, `${name}: only counters end in _total`)
      assert.doesNotMatch(name, /_(ms|milliseconds|minutes)(_|$)/, `${name}: time in base units (seconds)`)
    }
    for (const sample of m.samples) {
      for (const label of Object.keys(sample.labels)) assert.match(label, /^[a-z_]+$/, `${sample.name} label`)
    }
    for (const name of [
      'banditjoin_emission_lateness_seconds',
      'banditjoin_reward_delay_seconds',
      'banditjoin_log_commit_seconds',
      'banditjoin_http_request_duration_seconds',
    ]) {
      assert.equal(m.type.get(name), 'histogram', name)
    }
  })
})
