import type { Logger } from 'pino'
import type { Scheduler, Timer } from '../clock.js'
import { type JoinSettings, replayHorizonMs } from '../engine/types.js'
import type { EmbeddedLog } from '../log/types.js'
import { RepeatedFault } from '../observability/repeated-fault.js'
import type { OutputRouter } from './output-router.js'

/**
 * Rows dropped per table per compaction: small enough that a compaction holds the writer for
 * milliseconds, and several times a second well above any ingest rate this machine sustains.
 */
const COMPACT_ROWS_PER_CALL = 20_000

export interface MaintenanceOptions {
  /** How often compaction runs (in small steps, see COMPACT_ROWS_PER_CALL). */
  compactIntervalMs: number
  outputRetentionMs: number
  outputRetentionBytes: number
}

/** What maintenance asks of the join loop. */
export interface MaintainedLoop {
  /** The settings events are joined under now (they set how long events matter). */
  readonly settings: JoinSettings
  /** Runs a cycle if none is under way (it persists the outputs' positions, carries time). */
  idleCycle(): void
  /** Resolves once the commit last asked for has settled. */
  lastCommit(): Promise<unknown>
}

/**
 * The background work of the embedded log, on the scheduler: outputs that missed lines are
 * retried, a cycle runs even without traffic, and the log is compacted in small steps (what can
 * no longer change any output, and records beyond the tail's retention once every output has them).
 */
export class Maintenance {
  private timer: Timer | undefined
  private lastCompactMs = 0
  private stopped = false
  private readonly fault: RepeatedFault

  constructor(
    private readonly scheduler: Scheduler,
    private readonly log: EmbeddedLog,
    private readonly router: OutputRouter,
    private readonly loop: MaintainedLoop,
    private readonly options: MaintenanceOptions,
    private readonly logger: Logger,
  ) {
    this.fault = new RepeatedFault(logger, {
      message: 'compaction failed; will retry',
      recovered: 'compaction succeeds again',
    })
  }

  start(): void {
    this.lastCompactMs = this.scheduler.now()
    this.arm()
  }

  stop(): void {
    this.stopped = true
    this.scheduler.clearTimer(this.timer)
  }

  private arm(): void {
    this.timer = this.scheduler.setTimer(() => this.run(), Math.min(500, this.options.compactIntervalMs))
  }

  private run(): void {
    if (this.stopped) return
    this.router.catchUpAll()
    const now = this.scheduler.now()
    const compacting = now - this.lastCompactMs >= this.options.compactIntervalMs
    // Compaction keeps what an output has not persisted as written: persist where they stand now,
    // synced here rather than in the background (which would only reach a later commit).
    if (compacting) this.router.syncAtNextCommit()
    this.loop.idleCycle()
    if (compacting) {
      this.lastCompactMs = now
      // After the cycle just started, so that the sink positions it persists count.
      void this.loop.lastCommit().then(() => this.compact(now))
    }
    this.arm()
  }

  private compact(now: number): void {
    if (this.stopped) return
    const { checkpoint } = this.log
    this.log
      .compact({
        eventsBeforeMs: checkpoint.timeMs - replayHorizonMs(this.loop.settings),
        recordsBeforeMs: now - this.options.outputRetentionMs,
        recordBytesToKeep: this.options.outputRetentionBytes,
        keepRecordsFromSeq: this.router.firstUnpersisted('records', checkpoint.recordSeq + 1),
        keepDeadLettersFromSeq: this.router.firstUnpersisted('deadLetters', checkpoint.deadLetterSeq + 1),
        maxRowsPerTable: COMPACT_ROWS_PER_CALL,
      })
      .then(
        (removed) => {
          this.fault.succeeded()
          if (removed.events + removed.records + removed.deadLetters > 0) {
            this.logger.debug({ removed }, 'compacted the log')
          }
        },
        (error: unknown) => this.fault.failed(error),
      )
  }
}
