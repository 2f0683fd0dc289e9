import type { Logger } from 'pino'

/** How often a fault that goes on is logged again, with how many times it happened meanwhile. */
export const REPEAT_LOG_INTERVAL_MS = 5000

export interface RepeatedFaultOptions {
  /** The first line's message, also that of the count lines. */
  message: string
  /** The line logged once the fault has ended. */
  recovered: string
  /** Fields on every line (e.g. which output). */
  fields?: Record<string, unknown>
  intervalMs?: number
  now?: () => number
}

/**
 * A fault that can repeat many times a second while it lasts (a full disk fails every commit
 * and every write): logged at its first occurrence with the error and its stack, then at most
 * once every `intervalMs` with how many times it happened since the line before, and once when
 * the next attempt succeeds, with how many times and for how long it failed.
 */
export class RepeatedFault {
  private startedMs: number | undefined
  private lastLineMs = 0
  private sinceLastLine = 0
  private total = 0
  private readonly intervalMs: number
  private readonly now: () => number

  constructor(
    private readonly logger: Logger,
    private readonly options: RepeatedFaultOptions,
  ) {
    this.intervalMs = options.intervalMs ?? REPEAT_LOG_INTERVAL_MS
    this.now = options.now ?? Date.now
  }

  failed(error: unknown): void {
    const now = this.now()
    this.total++
    if (this.startedMs === undefined) {
      this.startedMs = now
      this.lastLineMs = now
      this.logger.error({ ...this.options.fields, err: error }, this.options.message)
      return
    }
    this.sinceLastLine++
    if (now - this.lastLineMs < this.intervalMs) return
    this.logger.error(
      {
        ...this.options.fields,
        failures: this.sinceLastLine,
        failingForMs: now - this.startedMs,
        error: error instanceof Error ? error.message : String(error),
      },
      `${this.options.message} (${this.sinceLastLine} more times in ${now - this.lastLineMs} ms)`,
    )
    this.lastLineMs = now
    this.sinceLastLine = 0
  }

  /** The attempt succeeded: ends the fault, if there was one (cheap otherwise). */
  succeeded(): void {
    if (this.startedMs === undefined) return
    const failedForMs = this.now() - this.startedMs
    this.logger.info(
      { ...this.options.fields, failures: this.total, failedForMs },
      `${this.options.recovered} (after ${this.total} failures in ${failedForMs} ms)`,
    )
    this.startedMs = undefined
    this.sinceLastLine = 0
    this.total = 0
  }
}
