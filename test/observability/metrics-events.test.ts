import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ndjson, send } from '../helpers/http-client.js'
import { decisionBody, startObserved } from './harness.js'
import { histogramOf, sampleValue } from './prom-text.js'
import { REWARD_ENV, rewardScenario } from './scenario.js'

// SPEC §6, one test per metric family of the join: each moves as it should for a scripted sequence.

describe('metrics of the join (SPEC §6), read from GET /metrics', () => {
  it('counts accepted events by type and refused requests by type and reason', async (t) => {
    const o = await startObserved(t)
    const before = await o.metrics()
    for (const key of ['a1', 'a2']) await o.post('/log_decision', decisionBody(key))
    await o.post('/log_reward', { key: 'a1', reward: 1 })
    await o.post('/override_decision', { key: 'a1' })
    await o.post('/activate_decision', { key: 'a2' })
    assert.equal(await o.post('/log_reward', { key: 'a1', reward: '1' }), 422)
    assert.equal(await o.post('/log_decision', decisionBody('a3', { probability: 0 })), 422)
    assert.equal(await o.post('/log_decision', decisionBody('a1', { action: 'other' })), 409)
    const batch = ndjson([{ type: 'reward', key: 'a1', reward: 1 }, { type: 'nope' }])
    const refused = await send(o.svc, 'POST', '/events', { body: batch, contentType: 'application/x-ndjson' })
    assert.equal(refused.statusCode, 422)
    const after = await o.metrics()

    const accepted = (type: string) =>
      sampleValue(after, 'banditjoin_events_accepted_total', { type }) -
      sampleValue(before, 'banditjoin_events_accepted_total', { type })
    assert.deepEqual(
      ['decision', 'reward', 'override', 'activate'].map(accepted),
      [2, 1, 1, 1],
      'accepted decisions, rewards, overrides, activations',
    )
    const refusedBy = (type: string, reason: string) =>
      sampleValue(after, 'banditjoin_events_refused_total', { type, reason })
    assert.equal(refusedBy('reward', 'BJ_ERR_INVALID_EVENT'), 1)
    assert.equal(refusedBy('decision', 'BJ_ERR_INVALID_EVENT'), 1)
    assert.equal(refusedBy('decision', 'BJ_ERR_CONFLICT'), 1)
    assert.equal(refusedBy('batch', 'BJ_ERR_INVALID_BATCH'), 1)
  })

  it('reports decisions pending and events held at scrape time, and drops them once released', async (t) => {
    const o = await startObserved(t, REWARD_ENV)
    for (const key of ['p1', 'p2', 'p3']) await o.post('/log_decision', decisionBody(key))
    await o.post('/log_reward', { key: 'not-yet', reward: 1 })
    let m = await o.metrics()
    assert.equal(sampleValue(m, 'banditjoin_decisions_pending'), 3)
    assert.equal(sampleValue(m, 'banditjoin_events_held'), 1)
    await o.at(1000)
    m = await o.metrics()
    assert.equal(sampleValue(m, 'banditjoin_decisions_pending'), 0, 'emitted at their due time')
    assert.equal(sampleValue(m, 'banditjoin_events_held'), 1, 'still waiting for its decision')
    await o.at(2001)
    assert.equal(sampleValue(await o.metrics(), 'banditjoin_events_held'), 0, 'released as an orphan')
  })

  it('counts emitted records and measures how late after its due time each left', async (t) => {
    const o = await startObserved(t)
    for (const key of ['r1', 'r2']) await o.post('/log_decision', decisionBody(key))
    assert.equal(sampleValue(await o.metrics(), 'banditjoin_records_emitted_total'), 0)
    await o.at(1000 + 250)
    const m = await o.metrics()
    assert.equal(sampleValue(m, 'banditjoin_records_emitted_total'), 2)
    const lateness = histogramOf(m, 'banditjoin_emission_lateness_seconds')
    assert.equal(lateness.count, 2)
    assert.equal(lateness.sum, 0.5, 'both left 250 ms after they were due')
    assert.equal(lateness.buckets.get(0.1), 0)
    assert.equal(lateness.buckets.get(0.25), 2)
  })

  it('counts overridden and never-activated decisions as cancelled and as dead letters', async (t) => {
    const o = await startObserved(t)
    await o.post('/log_decision', decisionBody('c1'))
    await o.post('/override_decision', { key: 'c1' })
    await o.post('/log_decision', decisionBody('c2', { deferred: true }))
    await o.post('/log_decision', decisionBody('c3', { deferred: true }))
    await o.post('/activate_decision', { key: 'c3' })
    await o.at(1000)
    const m = await o.metrics()
    assert.equal(sampleValue(m, 'banditjoin_decisions_cancelled_total', { reason: 'overridden' }), 1)
    assert.equal(sampleValue(m, 'banditjoin_decisions_cancelled_total', { reason: 'not_activated' }), 1)
    assert.equal(sampleValue(m, 'banditjoin_dead_letters_total', { reason: 'overridden' }), 1)
    assert.equal(sampleValue(m, 'banditjoin_dead_letters_total', { reason: 'not_activated' }), 1)
    assert.equal(
      sampleValue(m, 'banditjoin_records_emitted_total'),
      1,
      'only the activated one reached the learner',
    )
  })

  it('counts rewards as counted, late, orphaned and held early', async (t) => {
    const o = await startObserved(t, REWARD_ENV)
    await rewardScenario(o)
    const m = await o.metrics()
    assert.equal(sampleValue(m, 'banditjoin_rewards_counted_total'), 2, 'the early one and the one in time')
    assert.equal(sampleValue(m, 'banditjoin_rewards_late_total'), 1)
    assert.equal(sampleValue(m, 'banditjoin_rewards_orphaned_total'), 1)
    assert.equal(sampleValue(m, 'banditjoin_events_held_early_total', { type: 'reward' }), 2)
    assert.equal(sampleValue(m, 'banditjoin_dead_letters_total', { reason: 'late' }), 1)
    assert.equal(sampleValue(m, 'banditjoin_dead_letters_total', { reason: 'orphan' }), 1)
  })

  it('observes every reward delay, late ones included, so a longer window can be judged', async (t) => {
    const o = await startObserved(t, REWARD_ENV)
    await rewardScenario(o)
    const m = await o.metrics()
    const counted = histogramOf(m, 'banditjoin_reward_delay_seconds', { outcome: 'counted' })
    assert.equal(counted.count, 2)
    assert.ok(Math.abs(counted.sum - -0.3) < 1e-9, `sum of -0.5 s and 0.2 s, got ${counted.sum}`)
    assert.equal(counted.buckets.get(-1), 0)
    assert.equal(counted.buckets.get(0), 1, 'the reward that preceded its decision')
    assert.equal(counted.buckets.get(0.5), 2)
    const late = histogramOf(m, 'banditjoin_reward_delay_seconds', { outcome: 'late' })
    assert.equal(late.count, 1)
    assert.ok(Math.abs(late.sum - 1.1) < 1e-9)
    assert.equal(late.buckets.get(1), 0)
    assert.equal(late.buckets.get(2), 1, 'a window of 2 s would have counted it')
  })
})
