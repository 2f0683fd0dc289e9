import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Clock } from './clock.js'
import type { DeadLetter, JoinedRecord, JoinSettings } from './engine/types.js'
import { HealthState } from './observability/health.js'
import { LiveStats, type StatsSnapshot } from './observability/live-stats.js'
import { VERSION } from './version.js'

/** Where gauges read the join's state at scrape time. */
export interface EngineGauges {
  readonly pendingDecisions: number
  readonly heldEvents: number
}

/** GET /stats: the live statistics and what an operator checks first. */
export interface ServiceStatus extends StatsSnapshot {
  version: string
  /** GET /readyz's verdict, and its reasons when not ready. */
  ready: boolean
  not_ready: string[]
  /** Records emitted but not yet written, by output (stdout, file:PATH). */
  output_lag: Record<string, number>
  /** Dead letters since start, by reason. */
  dead_letters: Record<string, number>
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const REWARD_DELAY_BUCKETS = [-60, -10, -1, 0, 0.1, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600]

/**
 * Every metric of the service, in one registry the service owns (prefix `banditjoin_`), with the
 * in-memory live statistics behind GET /stats and the readiness state behind GET /readyz.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly live = new LiveStats()
  readonly health = new HealthState()
  private engine: EngineGauges | undefined
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
  readonly rewardsLate = new Counter({
    name: 'banditjoin_rewards_late_total',
    help: 'Rewards for a remembered decision that was already emitted (they change no output)',
    registers: [this.registry],
  })
  readonly rewardsOrphaned = new Counter({
    name: 'banditjoin_rewards_orphaned_total',
    help: 'Rewards whose decision never came within EARLY_REWARD_MS (they change no output)',
    registers: [this.registry],
  })
  readonly decisionsCancelled = new Counter({
    name: 'banditjoin_decisions_cancelled_total',
    help: 'Decisions kept from the learner, by reason (overridden, not_activated)',
    labelNames: ['reason'] as const,
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
  readonly logCommitFailures = new Counter({
    name: 'banditjoin_log_commit_failures_total',
    help: 'Log commits that failed (their requests were answered 503)',
    registers: [this.registry],
  })
  readonly window = new Gauge({
    name: 'banditjoin_window_seconds',
    help: 'The window E (EXP_UNIT_MS) in force: a decision is emitted this long after it was logged',
    registers: [this.registry],
  })
  readonly decisionsPending = new Gauge({
    name: 'banditjoin_decisions_pending',
    help: 'Decisions inside their window',
    registers: [this.registry],
    collect: () => {
      if (this.engine !== undefined) this.decisionsPending.set(this.engine.pendingDecisions)
    },
  })
  readonly eventsHeld = new Gauge({
    name: 'banditjoin_events_held',
    help: 'Rewards, overrides and activations waiting for their decision',
    registers: [this.registry],
    collect: () => {
      if (this.engine !== undefined) this.eventsHeld.set(this.engine.heldEvents)
    },
  })
  readonly outputLag = new Gauge({
    name: 'banditjoin_output_lag_records',
    help: 'Records emitted but not yet written by an output',
    labelNames: ['output'] as const,
    registers: [this.registry],
  })
  readonly httpInflightRequests = new Gauge({
    name: 'banditjoin_http_inflight_requests',
    help: 'Ingest requests received and not yet answered (the overload limit counts these)',
    registers: [this.registry],
  })
  readonly httpInflightBodyBytes = new Gauge({
    name: 'banditjoin_http_inflight_body_bytes',
    help: 'Body bytes held by ingest requests in flight, as counted against the overload limit',
    registers: [this.registry],
  })
  readonly buildInfo = new Gauge({
    name: 'banditjoin_build_info',
    help: 'Always 1; the label says which banditjoin runs',
    labelNames: ['version'] as const,
    registers: [this.registry],
  })
  readonly ready = new Gauge({
    name: 'banditjoin_ready',
    help: '1 when GET /readyz answers 200; 0 while it names what is not ready',
    registers: [this.registry],
    collect: () => {
      this.ready.set(this.health.notReady().length === 0 ? 1 : 0)
    },
  })
  readonly httpDuration = new Histogram({
    name: 'banditjoin_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status code, until the answer was sent',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'banditjoin_' })
    this.buildInfo.set({ version: VERSION }, 1)
    // Known label values start at 0, so rates and dashboards see them before the first event.
    for (const type of ['decision', 'reward', 'override', 'activate']) this.eventsAccepted.inc({ type }, 0)
    for (const reason of ['overridden', 'not_activated']) this.decisionsCancelled.inc({ reason }, 0)
    for (const type of ['reward', 'override', 'activate']) this.eventsHeldEarly.inc({ type }, 0)
    for (const reason of ['late', 'orphan', 'overridden', 'not_activated'])
      this.deadLetters.inc({ reason }, 0)
  }

  /** The join settings in force and the service clock (for the live statistics). */
  configure(settings: JoinSettings, clock?: Clock): void {
    this.window.set(settings.expUnitMs / 1000)
    this.live.configure(settings, clock)
  }

  /** The join state the pending gauges read at scrape time (and GET /stats). */
  bindEngine(engine: EngineGauges): void {
    this.engine = engine
  }

  get engineGauges(): EngineGauges {
    return this.engine ?? { pendingDecisions: 0, heldEvents: 0 }
  }

  /** What GET /stats answers (the status page's data). */
  async status(): Promise<ServiceStatus> {
    const notReady = this.health.notReady()
    return {
      ...this.live.snapshot(this.engineGauges),
      version: VERSION,
      ready: notReady.length === 0,
      not_ready: notReady,
      output_lag: await byLabel(this.outputLag, 'output'),
      dead_letters: await byLabel(this.deadLetters, 'reason'),
    }
  }

  /** One successful commit: its events, the records it released, at log time `timeMs`. */
  committed(events: readonly { type: string }[], records: number, timeMs: number): void {
    // Counted first, then one counter update per type: a labelled inc() per event is costly.
    const counts: Record<string, number> = { decision: 0, reward: 0, override: 0, activate: 0 }
    for (const event of events) counts[event.type] = (counts[event.type] ?? 0) + 1
    for (const type in counts) if (counts[type]) this.eventsAccepted.inc({ type }, counts[type])
    this.health.commitSucceeded()
    this.live.committed(events, records, timeMs)
  }

  commitFailed(error: unknown): void {
    this.logCommitFailures.inc()
    this.health.commitFailed(error)
  }

  /**
   * What a cycle released (records, and dead letters: late and orphaned events, cancelled
   * decisions), counted once it is committed: a failed commit is released again after recovery.
   */
  releasedCommitted(
    records: readonly JoinedRecord[],
    letters: readonly DeadLetter[],
    emittedMs: number,
  ): void {
    this.recordsEmitted.inc(records.length)
    for (const r of records) this.emissionLateness.observe((emittedMs - r.dueMs) / 1000)
    for (const letter of letters) {
      this.deadLetters.inc({ reason: letter.reason })
      this.live.deadLetter(letter)
      if (letter.reason === 'orphan' && letter.event.type === 'reward') this.rewardsOrphaned.inc()
      else if (letter.reason === 'overridden' || letter.reason === 'not_activated')
        this.decisionsCancelled.inc({ reason: letter.reason })
    }
  }
}

/** A labelled metric's current values, by the value of one label. */
async function byLabel(
  metric: Gauge<string> | Counter<string>,
  label: string,
): Promise<Record<string, number>> {
  const { values } = await metric.get()
  return Object.fromEntries(values.map((v) => [String(v.labels[label]), v.value]))
}
