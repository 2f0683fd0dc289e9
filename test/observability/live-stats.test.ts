import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { JoinSettings } from '../../src/engine/types.js'
import { HealthState } from '../../src/observability/health.js'
import { LiveStats } from '../../src/observability/live-stats.js'
import { ReplayMeter, type ReplayProgress } from '../../src/observability/replay-progress.js'
import { ManualClock } from '../kit/manual-clock.js'

const settings = (expUnitMs: number): JoinSettings => ({
  expUnitMs,
  earlyRewardMs: 0,
  rewardAgg: 'last',
  defaultReward: 0,
})
const engine = { pendingDecisions: 0, heldEvents: 0 }

describe('LiveStats', () => {
  it('counts a reward delayed exactly one window as missed by that window and kept by a longer one', () => {
    const stats = new LiveStats()
    stats.configure(settings(10_000), new ManualClock())
    stats.observe({ kind: 'reward_counted', delayMs: 9_999 })
    stats.observe({ kind: 'reward_late', delayMs: 10_000 })
    stats.observe({ kind: 'reward_late', delayMs: 14_999 })
    stats.observe({ kind: 'reward_late', delayMs: 15_000 })
    const shares = new Map(stats.snapshot(engine).reward_delay.windows.map((w) => [w.window_ms, w.share]))
    assert.equal(shares.get(10_000), 1 / 4)
    assert.equal(shares.get(15_000), 3 / 4, 'with 15 s the rewards at 10 s and 14.999 s count too')
    assert.equal(shares.get(20_000), 1)
  })

  it('puts delays beyond ten windows in one open-ended bin that no candidate window keeps', () => {
    const stats = new LiveStats()
    stats.configure(settings(1000), new ManualClock())
    stats.observe({ kind: 'reward_counted', delayMs: 10 })
    stats.observe({ kind: 'reward_late', delayMs: 60_000 })
    const delay = stats.snapshot(engine).reward_delay
    assert.deepEqual(delay.bins.at(-1), { from_ms: 10_000, to_ms: null, counted: 0, late: 1 })
    assert.equal(delay.windows.at(-1)?.share, 1 / 2)
  })

  it('forgets the seconds that fell out of the ten-minute series', () => {
    const clock = new ManualClock(1_000_000_000_000)
    const stats = new LiveStats()
    stats.configure(settings(1000), clock)
    stats.committed([{ type: 'decision' }, { type: 'reward' }], 1, clock.ms)
    clock.advance(599_000)
    assert.equal(stats.snapshot(engine).throughput.decisions[0], 1, 'still the first second shown')
    clock.advance(1000)
    stats.committed([{ type: 'decision' }], 0, clock.ms)
    const series = stats.snapshot(engine).throughput
    assert.equal(
      series.decisions.reduce((a, b) => a + b, 0),
      1,
      'the old second is gone, the new one counts',
    )
    assert.equal(series.decisions.at(-1), 1)
    assert.equal(stats.totals.decisions, 2, 'totals keep everything')
  })

  it('starts a new delay histogram when the window changes', () => {
    const stats = new LiveStats()
    stats.configure(settings(1000), new ManualClock())
    stats.observe({ kind: 'reward_counted', delayMs: 10 })
    stats.configure(settings(2000))
    assert.equal(stats.snapshot(engine).reward_delay.total, 0)
    assert.equal(stats.totals.rewards_counted, 1)
  })
})

describe('HealthState', () => {
  it('is ready only after recovery, and not while stopping or while commits or outputs fail', () => {
    const health = new HealthState()
    assert.deepEqual(health.notReady(), ['recovery: the log is still being replayed'])
    health.markRecovered()
    assert.deepEqual(health.notReady(), [])
    health.commitFailed(new Error('disk full'))
    health.outputFailed('file:/x', new Error('EIO'))
    assert.deepEqual(health.notReady(), [
      'log: the last commit failed: disk full',
      'output file:/x: the last write failed: EIO',
    ])
    health.commitSucceeded()
    health.outputSucceeded('file:/x')
    assert.deepEqual(health.notReady(), [])
    health.markStopping()
    assert.deepEqual(health.notReady(), ['log: the service is stopping'])
  })
})

describe('ReplayMeter', () => {
  it('reports events replayed, percent of the log time covered and rate, then once when done', () => {
    const reports: ReplayProgress[] = []
    const meter = new ReplayMeter(10_000, (p) => reports.push(p), 0)
    for (let i = 0; i < 3000; i++) meter.step(i * 3)
    meter.finish()
    assert.deepEqual(
      reports.map((r) => [r.events, r.percent, r.done]),
      [
        [1024, 30.7, false],
        [2048, 61.4, false],
        [3000, 100, true],
      ],
    )
    for (const r of reports) assert.ok(r.eventsPerSecond >= 0 && r.elapsedMs >= 0)
  })
})
