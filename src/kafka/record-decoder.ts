import type { LineParserPool } from '../ingest/line-parser-pool.js'
import type { IncomingEvent } from '../ingest/validate.js'
import { decodeOrError, type EventDecoder, type PartitionRecord } from '../join/partition-join.js'

/** What a record's value decodes to: its event, why it is not one, or undefined for a tick (no value). */
export type Decoded = IncomingEvent | Error | undefined

const NO_LINES_NOT_UTF8: ReadonlySet<number> = new Set()

/**
 * Decodes the records of a fetched batch on the line-checking worker thread, as one NDJSON text
 * (each value a line, as SPEC §1's batch form), so that an owner catching up applies one batch
 * while the worker decodes the next, and the group stream's runs are not decoded on the main
 * thread. The worker runs the same `eventFromLine` with the same limits as `decode`. A batch
 * whose values cannot be lines of one text (a value holding a newline, or only blanks) or that
 * the worker could not check is decoded here with `decode`.
 * Never rejects: a caller may start the next batch before it awaits this one.
 */
export class RecordDecoder {
  constructor(
    private readonly pool: LineParserPool,
    private readonly decode: EventDecoder,
  ) {}

  async decodeAll(records: readonly PartitionRecord[]): Promise<Decoded[]> {
    const lines: string[] = []
    for (const { value } of records) {
      if (value === null) continue
      if (value.includes('\n') || value.trim() === '') return this.decodeHere(records)
      lines.push(value)
    }
    try {
      const checked = await this.pool.check(lines.join('\n'), NO_LINES_NOT_UTF8)
      // Line n of the text is the n-th record with a value.
      const byLine = new Array<Decoded>(lines.length + 1)
      checked.events.forEach((event, i) => {
        byLine[checked.lineOf[i] as number] = event
      })
      for (const { line, error } of checked.errors) byLine[line] = error
      let line = 0
      let complete = true
      const decoded = records.map((record) => {
        if (record.value === null) return undefined
        const outcome = byLine[++line]
        complete &&= outcome !== undefined
        return outcome
      })
      // Exactly one outcome for every value, or none is trusted.
      const outcomes = checked.events.length + checked.errors.length
      return complete && outcomes === lines.length ? decoded : this.decodeHere(records)
    } catch {
      return this.decodeHere(records)
    }
  }

  private decodeHere(records: readonly PartitionRecord[]): Decoded[] {
    return records.map((record) =>
      record.value === null ? undefined : decodeOrError(this.decode, record.value),
    )
  }
}
