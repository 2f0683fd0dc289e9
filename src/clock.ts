import { performance } from 'node:perf_hooks'

/** The service's own time in integer milliseconds since the Unix epoch. */
export interface Clock {
  now(): number
}

/**
 * SPEC §2: follows a monotonic clock anchored to the wall clock at start, so a wall-clock step
 * neither freezes nor rewinds it, and never goes below `floorMs` (the highest time the log had
 * reached before a restart).
 */
export class MonotonicClock implements Clock {
  private readonly anchorWallMs: number
  private readonly anchorMonoMs: number

  constructor(
    private readonly floorMs = 0,
    wallNow: () => number = Date.now,
    private readonly monoNow: () => number = () => performance.now(),
  ) {
    this.anchorWallMs = wallNow()
    this.anchorMonoMs = monoNow()
  }

  now(): number {
    return Math.max(this.floorMs, Math.floor(this.anchorWallMs + this.monoNow() - this.anchorMonoMs))
  }
}
