import type { DeadLetter, EngineSink, JoinedRecord, Observation } from '../engine/types.js'
import type { Metrics } from '../metrics.js'

/** Drops what the engine releases: during a replay it is already in the outputs. */
export const DISCARD: EngineSink = { record() {}, deadLetter() {}, observe() {} }

/**
 * What the engine releases in one cycle, kept until the driver commits it (records and dead
 * letters), and what it observes, counted in the metrics at once. Both modes' drivers use it.
 */
export class CycleCollector implements EngineSink {
  records: JoinedRecord[] = []
  deadLetters: DeadLetter[] = []
  constructor(private readonly metrics: Metrics) {}
  record(r: JoinedRecord) {
    this.records.push(r)
  }
  deadLetter(d: DeadLetter) {
    this.deadLetters.push(d)
  }
  observe(o: Observation) {
    this.metrics.live.observe(o)
    switch (o.kind) {
      case 'reward_counted':
        this.metrics.rewardsCounted.inc()
        this.metrics.rewardDelay.observe({ outcome: 'counted' }, o.delayMs / 1000)
        return
      case 'reward_late':
        this.metrics.rewardsLate.inc()
        this.metrics.rewardDelay.observe({ outcome: 'late' }, o.delayMs / 1000)
        return
      case 'held_early':
        this.metrics.eventsHeldEarly.inc({ type: o.type })
        return
      default:
        return
    }
  }
}
