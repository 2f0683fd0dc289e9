import { Gauge } from 'prom-client'
import type { Metrics } from '../metrics.js'

/** A partition whose owner has not committed for this long while it was failing is stuck (readiness fails). */
export const STUCK_AFTER_MS = 30_000
/** A partition stuck for this long is given up: the instance leaves the group so that it can move. */
export const GIVE_UP_AFTER_MS = 60_000

interface Trouble {
  sinceMs: number
  reason: string
}

/**
 * Whether each partition this instance owns makes progress: when its last commit was, and since
 * when its owner fails (to start, or to commit) without having caught up since. Feeds readiness
 * (`/readyz` names a stuck partition and why), two gauges, and the decision to give a partition up.
 */
export class PartitionHealth {
  private readonly troubles = new Map<number, Trouble>()
  private readonly lastCommitMs = new Map<number, number>()

  constructor(
    metrics: Metrics,
    private readonly now: () => number = Date.now,
  ) {
    const stuckGauge: Gauge = new Gauge({
      name: 'banditjoin_kafka_partitions_stuck',
      help: `Partitions owned here whose owner has failed for ${STUCK_AFTER_MS / 1000} s without catching up`,
      registers: [metrics.registry],
      collect: () => stuckGauge.set(this.stuck().length),
    })
    const sinceGauge: Gauge<'partition'> = new Gauge({
      name: 'banditjoin_kafka_seconds_since_commit',
      help: 'Seconds since the last commit of each partition owned here (or since it was taken over)',
      labelNames: ['partition'] as const,
      registers: [metrics.registry],
      collect: () => {
        sinceGauge.reset()
        for (const [partition, ms] of this.lastCommitMs)
          sinceGauge.set({ partition: String(partition) }, (this.now() - ms) / 1000)
      },
    })
    metrics.health.watch(() =>
      this.stuck().map(
        ({ partition, reason, forMs }) =>
          `kafka: partition ${partition} has made no progress for ${Math.round(forMs / 1000)} s: ${reason}`,
      ),
    )
  }

  /** The partition was assigned here. */
  assigned(partition: number): void {
    if (!this.lastCommitMs.has(partition)) this.lastCommitMs.set(partition, this.now())
  }

  /** The partition's owner committed, or has nothing waiting to be committed. */
  upToDate(partition: number, committed: boolean): void {
    this.troubles.delete(partition)
    if (committed || !this.lastCommitMs.has(partition)) this.lastCommitMs.set(partition, this.now())
  }

  /** The partition's owner failed (to start or to commit); the first failure since it was up to date counts. */
  failed(partition: number, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error)
    const trouble = this.troubles.get(partition)
    if (trouble === undefined) this.troubles.set(partition, { sinceMs: this.now(), reason })
    else trouble.reason = reason
  }

  /** The partition is no longer owned here. */
  released(partition: number): void {
    this.troubles.delete(partition)
    this.lastCommitMs.delete(partition)
  }

  stuck(afterMs = STUCK_AFTER_MS): { partition: number; reason: string; forMs: number }[] {
    const now = this.now()
    return [...this.troubles]
      .filter(([, t]) => now - t.sinceMs >= afterMs)
      .map(([partition, t]) => ({ partition, reason: t.reason, forMs: now - t.sinceMs }))
  }

  /** Partitions stuck for so long that they should move to another member. */
  toGiveUp(): number[] {
    return this.stuck(GIVE_UP_AFTER_MS).map((s) => s.partition)
  }
}
