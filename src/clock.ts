import { performance } from 'node:perf_hooks'

/** The service's own time in integer milliseconds since the Unix epoch. */
export interface Clock {
  now(): number
}

/**
 * SPEC §2: follows a monotonic clock anchored to the wall clock at start, so a wall-clock step
 * neither freezes nor rewinds it, and never goes below `floorMs` (the highest time the log had
 * reached before a restart). A wall clock behind the floor at start (stepped back while the
 * service was stopped) anchors it at the floor: it goes on from there at the monotonic clock's
 * pace, ahead of the wall clock by the step, instead of standing still (and emitting nothing)
 * until the wall clock has caught up.
 */
export class MonotonicClock implements Clock {
  private readonly anchorMs: number
  private readonly anchorMonoMs: number

  constructor(
    floorMs = 0,
    wallNow: () => number = Date.now,
    private readonly monoNow: () => number = () => performance.now(),
  ) {
    this.anchorMs = Math.max(floorMs, wallNow())
    this.anchorMonoMs = monoNow()
  }

  now(): number {
    return Math.floor(this.anchorMs + this.monoNow() - this.anchorMonoMs)
  }
}
