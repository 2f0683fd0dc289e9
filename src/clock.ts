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

/** A timer a Scheduler gave out, for clearTimer. */
export interface Timer {
  readonly dueMs: number
}

/**
 * The clock and timers of a driver: every wait of the join goes through one, so that tests run
 * the join on a manual scheduler (test/kit/manual-scheduler.ts) without sleeping.
 */
export interface Scheduler extends Clock {
  /** Calls `callback` once this clock reaches now + `delayMs`. A timer does not keep the process alive. */
  setTimer(callback: () => void, delayMs: number): Timer
  clearTimer(timer: Timer | undefined): void
}

interface RealTimer extends Timer {
  readonly handle: NodeJS.Timeout
}

/** Node's timers, on a clock whose pace is the monotonic clock's (as setTimeout's is). */
export class RealScheduler implements Scheduler {
  constructor(private readonly clock: Clock) {}

  now(): number {
    return this.clock.now()
  }

  setTimer(callback: () => void, delayMs: number): Timer {
    const delay = Math.max(0, delayMs)
    const timer: RealTimer = { dueMs: this.now() + delay, handle: setTimeout(callback, delay) }
    timer.handle.unref()
    return timer
  }

  clearTimer(timer: Timer | undefined): void {
    if (timer !== undefined) clearTimeout((timer as RealTimer).handle)
  }
}
