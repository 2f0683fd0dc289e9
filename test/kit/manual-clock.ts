import type { Scheduler, Timer } from '../../src/clock.js'

interface ManualTimer extends Timer {
  readonly callback: () => void
  readonly order: number
}

/** A clock and timers that tests move by hand, so a driver on it runs without real waits. */
export class ManualClock implements Scheduler {
  private current: number
  private readonly timers = new Set<ManualTimer>()
  private created = 0

  constructor(ms = 1_800_000_000_000) {
    this.current = ms
  }

  get ms(): number {
    return this.current
  }

  /**
   * Moves the clock to `to`, then runs the callbacks of the timers due by then, in due order, all
   * at `to`: as a process whose event loop was busy until then would (a test that wants a callback
   * at its due time moves the clock there first).
   */
  set ms(to: number) {
    this.current = to
    for (let fired = 0; ; fired++) {
      const next = this.nextDue(to)
      if (next === undefined) return
      if (fired === 100_000) throw new Error('timers keep coming due: a timer re-arms itself with no delay')
      this.timers.delete(next)
      next.callback()
    }
  }

  now(): number {
    return this.current
  }

  advance(ms: number): void {
    this.ms = this.current + ms
  }

  setTimer(callback: () => void, delayMs: number): Timer {
    const timer = { dueMs: this.current + Math.max(0, delayMs), callback, order: this.created++ }
    this.timers.add(timer)
    return timer
  }

  clearTimer(timer: Timer | undefined): void {
    if (timer !== undefined) this.timers.delete(timer as ManualTimer)
  }

  /** Timers waiting. */
  get pending(): number {
    return this.timers.size
  }

  /** The earliest timer due at or before `ms`, the first set among equals. */
  private nextDue(ms: number): ManualTimer | undefined {
    let first: ManualTimer | undefined
    for (const t of this.timers) {
      if (t.dueMs > ms) continue
      if (first === undefined || t.dueMs < first.dueMs || (t.dueMs === first.dueMs && t.order < first.order))
        first = t
    }
    return first
  }
}
