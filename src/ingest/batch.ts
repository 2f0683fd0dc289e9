import { BanditJoinError, tooLarge } from '../errors.js'
import { notUtf8 } from './json.js'
import { eventFromLine, type IncomingEvent, type IngestLimits } from './validate.js'

/** A line of a batch that would be refused, with why (lines are numbered from 1). */
export interface LineError {
  line: number
  error: BanditJoinError
}

/** A batch's lines, checked: the events of the valid ones (with their line numbers) and the refusals. */
export interface CheckedBatch {
  events: IncomingEvent[]
  /** The line number of each of `events`. */
  lineOf: number[]
  errors: LineError[]
}

/**
 * Checks the lines of an NDJSON batch (SPEC §1), each as if sent alone, a few at a time (the
 * caller lets the event loop turn in between). Lines are taken one at a time (not split all at once), so that a body of
 * millions of tiny lines costs no array of them, and one line past MAX_BATCH_EVENTS ends the work
 * with 413. Blank lines are skipped; a line whose bytes were not UTF-8 is refused with 400.
 */
export class BatchLineChecker {
  readonly checked: CheckedBatch = { events: [], lineOf: [], errors: [] }
  private start = 0
  private number = 1

  constructor(
    private readonly text: string,
    private readonly notUtf8Lines: ReadonlySet<number>,
    private readonly limits: IngestLimits,
    private readonly maxBatchEvents: number,
  ) {}

  /**
   * Checks up to `lines` more lines (blank ones count); false once every line is checked. Throws
   * 413 (BJ_ERR_TOO_LARGE) at the first line past MAX_BATCH_EVENTS.
   */
  next(lines: number): boolean {
    const { text, checked } = this
    for (let n = 0; n < lines; n++) {
      if (this.start > text.length) return false
      const number = this.number++
      const newline = text.indexOf('\n', this.start)
      const end = newline < 0 ? text.length : newline
      const line = text.slice(this.start, end)
      this.start = end + 1
      if (line.trim() === '') continue
      if (checked.events.length + checked.errors.length >= this.maxBatchEvents) {
        throw tooLarge(`batch has more than MAX_BATCH_EVENTS=${this.maxBatchEvents} events`)
      }
      try {
        if (this.notUtf8Lines.has(number)) throw notUtf8('line')
        checked.events.push(eventFromLine(line, this.limits))
        checked.lineOf.push(number)
      } catch (error) {
        if (!(error instanceof BanditJoinError)) throw error
        checked.errors.push({ line: number, error })
      }
    }
    return this.start <= text.length
  }
}
