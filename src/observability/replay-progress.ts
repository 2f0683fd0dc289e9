import type { Logger } from 'pino'

/** How far a replay of the log has got. */
export interface ReplayProgress {
  /** Events replayed so far. */
  events: number
  /** Share of the replayed stretch of log time covered so far, 0 to 100. */
  percent: number
  eventsPerSecond: number
  elapsedMs: number
  done: boolean
}

export type ReplayProgressListener = (progress: ReplayProgress) => void

/** The clock is read once every this many events, to keep replay's loop cheap. */
const CHECK_EVERY = 1024

/**
 * Counts the events of a replay and reports progress at most once per `intervalMs` while it runs,
 * and once when it is done. Percent is by log time: events are replayed in time order, up to
 * the checkpoint's time.
 */
export class ReplayMeter {
  private events = 0
  private firstMs: number | undefined
  private lastMs: number | undefined
  private readonly startedMs = performance.now()
  private lastReportMs = this.startedMs

  constructor(
    private readonly untilMs: number,
    private readonly listener: ReplayProgressListener,
    private readonly intervalMs = 1000,
  ) {}

  step(insertMs: number): void {
    this.firstMs ??= insertMs
    this.lastMs = insertMs
    if (++this.events % CHECK_EVERY !== 0) return
    const now = performance.now()
    if (now - this.lastReportMs < this.intervalMs) return
    this.lastReportMs = now
    this.listener(this.progress(now, false))
  }

  finish(): void {
    this.listener(this.progress(performance.now(), true))
  }

  private progress(now: number, done: boolean): ReplayProgress {
    const elapsedMs = now - this.startedMs
    const first = this.firstMs ?? this.untilMs
    const span = this.untilMs - first
    const covered = (this.lastMs ?? this.untilMs) - first
    const percent = done ? 100 : span <= 0 ? 0 : Math.min(100, (100 * covered) / span)
    return {
      events: this.events,
      percent: Math.round(percent * 10) / 10,
      eventsPerSecond: elapsedMs > 0 ? Math.round((this.events * 1000) / elapsedMs) : 0,
      elapsedMs: Math.round(elapsedMs),
      done,
    }
  }
}

/** Logs replay progress: a line about once a second for a large log, and one when recovery is done. */
export function logReplayProgress(logger: Logger): ReplayProgressListener {
  return (progress) => {
    const { done, ...fields } = progress
    if (done) logger.info(fields, 'recovered: the log is replayed')
    else logger.info(fields, 'recovering: replaying the log')
  }
}
