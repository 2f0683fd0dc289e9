import type { Clock } from '../clock.js'
import { type DeadLetter, type JoinSettings, keyMemoryMs, type Observation } from '../engine/types.js'

/** How many seconds of throughput the status page can show. */
export const SERIES_SECONDS = 600
/** The reward-delay histogram has this many bins per window E, up to LONGEST_WINDOW × E. */
const BINS_PER_WINDOW = 10
/** Candidate windows, as multiples of E, for "with W you would have kept X% of rewards". */
const WINDOW_FACTORS = [0.5, 1, 1.5, 2, 3, 5, 10]
const LONGEST_WINDOW = 10
const BINS = BINS_PER_WINDOW * LONGEST_WINDOW

const DEFAULT_SETTINGS: JoinSettings = {
  expUnitMs: 10_000,
  earlyRewardMs: 120_000,
  rewardAgg: 'last',
  defaultReward: 0,
}

/** What GET /stats answers: everything the status page shows, from data the service keeps in memory. */
export interface StatsSnapshot {
  now_ms: number
  settings: { exp_unit_ms: number; early_reward_ms: number; key_memory_ms: number; reward_agg: string }
  pending_decisions: number
  held_events: number
  totals: Record<string, number>
  /** Rewards by outcome over all rewards resolved so far (null before the first one). */
  fractions: { on_time: number; early: number; late: number; orphan: number } | null
  throughput: {
    /** Start of the first second in the series. */
    start_ms: number
    interval_ms: number
    decisions: number[]
    rewards: number[]
    records: number[]
  }
  reward_delay: RewardDelaySnapshot
}

export interface DelayBin {
  /** Inclusive lower bound; null for the bin of rewards that arrived before their decision. */
  from_ms: number | null
  /** Exclusive upper bound; null for the last, open-ended bin. */
  to_ms: number | null
  counted: number
  late: number
}

export interface RewardDelaySnapshot {
  window_ms: number
  /** Rewards with a decision: counted plus late (orphans have no delay). */
  total: number
  /** Early bin (delay < 0), then BINS bins of E / 10 from 0, then everything from 10 E on. */
  bins: DelayBin[]
  /** Share of `total` with delay below each candidate window (null when total is 0). */
  windows: { window_ms: number; share: number | null }[]
}

/**
 * In-memory counters behind GET /stats and the status page: totals, a bounded per-second series of
 * decisions, rewards and records, and a reward-delay histogram fine enough to say exactly which
 * share of rewards each candidate window would have caught. Counted and late rewards share one
 * histogram: a late reward's delay is what a longer window would have needed.
 */
export class LiveStats {
  private settings = DEFAULT_SETTINGS
  private clock: Clock = { now: () => Date.now() }
  private readonly stamps = new Float64Array(SERIES_SECONDS).fill(-1)
  private readonly series = {
    decisions: new Float64Array(SERIES_SECONDS),
    rewards: new Float64Array(SERIES_SECONDS),
    records: new Float64Array(SERIES_SECONDS),
  }
  private earlyCounted = 0
  private readonly counted = new Float64Array(BINS + 1)
  private readonly late = new Float64Array(BINS + 1)
  readonly totals = {
    decisions: 0,
    rewards: 0,
    overrides: 0,
    activations: 0,
    records_emitted: 0,
    rewards_counted: 0,
    rewards_early: 0,
    rewards_late: 0,
    rewards_orphaned: 0,
    rewards_held_early: 0,
    rewards_repeated: 0,
    overridden: 0,
    not_activated: 0,
    refused_requests: 0,
  }

  /** The join settings in force and the service clock; a new window E starts a new histogram. */
  configure(settings: JoinSettings, clock?: Clock): void {
    if (settings.expUnitMs !== this.settings.expUnitMs) {
      this.counted.fill(0)
      this.late.fill(0)
      this.earlyCounted = 0
    }
    this.settings = settings
    if (clock !== undefined) this.clock = clock
  }

  /** Events made durable by one commit, and the records it released, at log time `timeMs`. */
  committed(events: readonly { type: string }[], records: number, timeMs: number): void {
    let decisions = 0
    let rewards = 0
    for (const event of events) {
      if (event.type === 'decision') decisions++
      else if (event.type === 'reward') rewards++
      else if (event.type === 'override') this.totals.overrides++
      else this.totals.activations++
    }
    this.totals.decisions += decisions
    this.totals.rewards += rewards
    this.totals.records_emitted += records
    const slot = this.slot(timeMs)
    add(this.series.decisions, slot, decisions)
    add(this.series.rewards, slot, rewards)
    add(this.series.records, slot, records)
  }

  observe(o: Observation): void {
    switch (o.kind) {
      case 'reward_counted':
        this.totals.rewards_counted++
        if (o.delayMs < 0) {
          this.totals.rewards_early++
          this.earlyCounted++
        } else add(this.counted, this.bin(o.delayMs), 1)
        return
      case 'reward_late':
        this.totals.rewards_late++
        add(this.late, this.bin(o.delayMs), 1)
        return
      case 'reward_repeated':
        this.totals.rewards_repeated++
        return
      case 'held_early':
        if (o.type === 'reward') this.totals.rewards_held_early++
        return
      default:
        return
    }
  }

  deadLetter(d: DeadLetter): void {
    if (d.reason === 'orphan' && d.event.type === 'reward') this.totals.rewards_orphaned++
    else if (d.reason === 'overridden') this.totals.overridden++
    else if (d.reason === 'not_activated') this.totals.not_activated++
  }

  refused(): void {
    this.totals.refused_requests++
  }

  snapshot(engine: { pendingDecisions: number; heldEvents: number }): StatsSnapshot {
    const nowMs = this.clock.now()
    const s = this.settings
    const nowSecond = Math.floor(nowMs / 1000)
    const first = nowSecond - SERIES_SECONDS + 1
    const column = (values: Float64Array) =>
      Array.from({ length: SERIES_SECONDS }, (_, i) => {
        const slot = (first + i) % SERIES_SECONDS
        return this.stamps[slot] === first + i ? (values[slot] as number) : 0
      })
    return {
      now_ms: nowMs,
      settings: {
        exp_unit_ms: s.expUnitMs,
        early_reward_ms: s.earlyRewardMs,
        key_memory_ms: keyMemoryMs(s),
        reward_agg: s.rewardAgg,
      },
      pending_decisions: engine.pendingDecisions,
      held_events: engine.heldEvents,
      totals: { ...this.totals },
      fractions: this.fractions(),
      throughput: {
        start_ms: first * 1000,
        interval_ms: 1000,
        decisions: column(this.series.decisions),
        rewards: column(this.series.rewards),
        records: column(this.series.records),
      },
      reward_delay: this.rewardDelay(),
    }
  }

  private fractions(): StatsSnapshot['fractions'] {
    const t = this.totals
    const resolved = t.rewards_counted + t.rewards_late + t.rewards_orphaned
    if (resolved === 0) return null
    return {
      on_time: (t.rewards_counted - t.rewards_early) / resolved,
      early: t.rewards_early / resolved,
      late: t.rewards_late / resolved,
      orphan: t.rewards_orphaned / resolved,
    }
  }

  private rewardDelay(): RewardDelaySnapshot {
    const e = this.settings.expUnitMs
    const edge = (i: number) => (i * e) / BINS_PER_WINDOW
    const bins: DelayBin[] = [{ from_ms: null, to_ms: 0, counted: this.earlyCounted, late: 0 }]
    for (let i = 0; i <= BINS; i++) {
      bins.push({
        from_ms: edge(i),
        to_ms: i === BINS ? null : edge(i + 1),
        counted: this.counted[i] as number,
        late: this.late[i] as number,
      })
    }
    let total = this.earlyCounted
    for (let i = 0; i <= BINS; i++) total += (this.counted[i] as number) + (this.late[i] as number)
    const windows = WINDOW_FACTORS.map((factor) => {
      const upTo = factor * BINS_PER_WINDOW
      let kept = this.earlyCounted
      for (let i = 0; i < upTo; i++) kept += (this.counted[i] as number) + (this.late[i] as number)
      return { window_ms: factor * e, share: total === 0 ? null : kept / total }
    })
    return { window_ms: e, total, bins, windows }
  }

  /** The histogram bin of a delay >= 0: integer arithmetic, so a delay of exactly k·E/10 starts bin k. */
  private bin(delayMs: number): number {
    return Math.min(BINS, Math.floor((delayMs * BINS_PER_WINDOW) / this.settings.expUnitMs))
  }

  /** The series slot for the second holding `timeMs`, emptied first if it held an older second. */
  private slot(timeMs: number): number {
    const second = Math.floor(timeMs / 1000)
    const slot = second % SERIES_SECONDS
    if (this.stamps[slot] !== second) {
      this.stamps[slot] = second
      this.series.decisions[slot] = 0
      this.series.rewards[slot] = 0
      this.series.records[slot] = 0
    }
    return slot
  }
}

const add = (values: Float64Array, index: number, n: number) => {
  values[index] = (values[index] as number) + n
}
