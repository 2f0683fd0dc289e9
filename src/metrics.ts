import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const REWARD_DELAY_BUCKETS = [-60, -10, -1, 0, 0.1, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600]

/** Every metric of the service, in one registry the service owns (prefix `banditjoin_`). */
export class Metrics {
  readonly registry = new Registry()
  readonly eventsAccepted = new Counter({
    name: 'banditjoin_events_accepted_total',
    help: 'Events durably logged, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  })
  readonly eventsRefused = new Counter({
    name: 'banditjoin_events_refused_total',
    help: 'Requests refused, by event type (or "batch") and reason',
    labelNames: ['type', 'reason'] as const,
    registers: [this.registry],
  })
  readonly duplicateDecisions = new Counter({
    name: 'banditjoin_duplicate_decisions_total',
    help: 'Decisions identical to a remembered one, answered as duplicates and not logged again',
    registers: [this.registry],
  })
  readonly recordsEmitted = new Counter({
    name: 'banditjoin_records_emitted_total',
    help: 'Joined records emitted to the learner output',
    registers: [this.registry],
  })
  readonly deadLetters = new Counter({
    name: 'banditjoin_dead_letters_total',
    help: 'Events that changed no output, and cancelled decisions, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly rewardsCounted = new Counter({
    name: 'banditjoin_rewards_counted_total',
    help: 'Rewards that counted for their decision',
    registers: [this.registry],
  })
  readonly eventsHeldEarly = new Counter({
    name: 'banditjoin_events_held_early_total',
    help: 'Rewards, overrides and activations that arrived before their decision and were held',
    labelNames: ['type'] as const,
    registers: [this.registry],
  })
  readonly emissionLateness = new Histogram({
    name: 'banditjoin_emission_lateness_seconds',
    help: 'emitted_ms minus due time of each emitted record',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  readonly rewardDelay = new Histogram({
    name: 'banditjoin_reward_delay_seconds',
    help: 'Reward insert time minus decision insert time (late rewards included), by outcome',
    labelNames: ['outcome'] as const,
    buckets: REWARD_DELAY_BUCKETS,
    registers: [this.registry],
  })
  readonly commitDuration = new Histogram({
    name: 'banditjoin_log_commit_seconds',
    help: 'Duration of one log commit (group commit: one transaction, one fsync)',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  readonly commitEvents = new Histogram({
    name: 'banditjoin_log_commit_events',
    help: 'Events per log commit',
    buckets: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000],
    registers: [this.registry],
  })
  readonly decisionsPending = new Gauge({
    name: 'banditjoin_decisions_pending',
    help: 'Decisions inside their window',
    registers: [this.registry],
  })
  readonly eventsHeld = new Gauge({
    name: 'banditjoin_events_held',
    help: 'Rewards, overrides and activations waiting for their decision',
    registers: [this.registry],
  })
  readonly outputLag = new Gauge({
    name: 'banditjoin_output_lag_records',
    help: 'Records emitted but not yet written by an output',
    labelNames: ['output'] as const,
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'banditjoin_' })
  }
}
