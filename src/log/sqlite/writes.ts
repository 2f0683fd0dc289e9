import type { JoinSettings } from '../../engine/types.js'
import type { CompactOptions, CompactResult, JoinCheckpoint } from '../types.js'
import type { SqlDatabase } from './driver.js'
import type { EventRow, UnpackedBatch } from './packed-batch.js'
import { firstIdWhereAtLeast, inTransaction, readMeta, writeMeta } from './queries.js'
import { RowInserter } from './row-inserter.js'

/** The running byte total of the records before this one (total_bytes includes its line and newline). */
const BYTES_BEFORE_RECORD = 'total_bytes - length(CAST(line AS BLOB)) - 1'

/** A record as the records table stores it: with the running byte total up to its end. */
interface RecordRow {
  seq: number
  emittedMs: number
  totalBytes: number
  line: string
}

/** Every write to the log, on one connection (the writer thread's). */
export class LogWrites {
  private readonly insertEvents: RowInserter<EventRow>
  private readonly insertRecords: RowInserter<RecordRow>
  private readonly insertDeadLetter
  private readonly saveCheckpoint
  private readonly saveSink
  private recordBytes: number

  constructor(private readonly db: SqlDatabase) {
    this.insertEvents = new RowInserter<EventRow>(
      db,
      'events',
      ['pos', 'insert_ms', 'kind', 'key', 'body', 'fingerprint'],
      (e, args, at) => {
        args[at] = e.pos
        args[at + 1] = e.insertMs
        args[at + 2] = e.kind
        args[at + 3] = e.key
        args[at + 4] = e.body
        args[at + 5] = e.fingerprint
      },
    )
    this.insertRecords = new RowInserter<RecordRow>(
      db,
      'records',
      ['seq', 'emitted_ms', 'total_bytes', 'line'],
      (r, args, at) => {
        args[at] = r.seq
        args[at + 1] = r.emittedMs
        args[at + 2] = r.totalBytes
        args[at + 3] = r.line
      },
    )
    this.insertDeadLetter = db.prepare('INSERT INTO dead_letters (seq, line) VALUES (?, ?)')
    this.saveCheckpoint = db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('checkpoint', ?)")
    this.saveSink = db.prepare(
      'INSERT OR REPLACE INTO sinks (name, seq, offset, file_id) VALUES (?, ?, ?, ?)',
    )
    this.recordBytes = readMeta<JoinCheckpoint>(db, 'checkpoint')?.recordBytes ?? 0
  }

  /** Events, released lines, sink positions and the checkpoint in one transaction. */
  commit(batch: UnpackedBatch): JoinCheckpoint {
    let recordBytes = this.recordBytes
    const checkpoint = inTransaction(this.db, () => {
      this.insertEvents.insert(batch.events)
      this.insertRecords.insert(
        batch.records.map((r) => {
          recordBytes += Buffer.byteLength(r.line) + 1
          return { seq: r.seq, emittedMs: r.emittedMs, totalBytes: recordBytes, line: r.line }
        }),
      )
      for (const d of batch.deadLetters) this.insertDeadLetter.run(d.seq, d.line)
      for (const s of batch.sinkPositions) this.saveSink.run(s.name, s.seq, s.offset, s.fileId)
      const next: JoinCheckpoint = { ...batch.checkpoint, recordBytes }
      this.saveCheckpoint.run(JSON.stringify(next))
      return next
    })
    this.recordBytes = recordBytes
    return checkpoint
  }

  /** Records the join settings and drops all events; `lastPos` keeps positions increasing. */
  resetSettings(settings: JoinSettings, lastPos: number): void {
    inTransaction(this.db, () => {
      writeMeta(this.db, 'next_pos', lastPos)
      this.db.exec('DELETE FROM events')
      writeMeta(this.db, 'settings', settings)
    })
  }

  compact(options: CompactOptions, lastPos: number): CompactResult {
    // The newest event always stays, so positions keep increasing across restarts.
    const eventsBefore = Math.min(
      firstIdWhereAtLeast(this.db, 'events', 'insert_ms', options.eventsBeforeMs),
      lastPos,
    )
    const recordsBefore = Math.min(
      options.keepRecordsFromSeq,
      Math.max(
        firstIdWhereAtLeast(this.db, 'records', 'emitted_ms', options.recordsBeforeMs),
        // A record stays while it and every later one fit in the byte budget: while the
        // running total before it is at least (all bytes - budget).
        firstIdWhereAtLeast(
          this.db,
          'records',
          BYTES_BEFORE_RECORD,
          this.recordBytes - options.recordBytesToKeep,
        ),
      ),
    )
    const cap = options.maxRowsPerTable ?? Number.MAX_SAFE_INTEGER
    // Ids are contiguous, so "below the bound, at most `cap` of them" is an id range.
    const deleteBefore = (table: 'events' | 'records' | 'dead_letters', id: string, bound: number) => {
      const { first } = this.db.prepare(`SELECT min(${id}) AS first FROM ${table}`).get() as {
        first: number | null
      }
      if (first === null) return 0
      return Number(
        this.db.prepare(`DELETE FROM ${table} WHERE ${id} < ?`).run(Math.min(bound, first + cap)).changes,
      )
    }
    return inTransaction(this.db, () => ({
      events: deleteBefore('events', 'pos', eventsBefore),
      records: deleteBefore('records', 'seq', recordsBefore),
      deadLetters: deleteBefore('dead_letters', 'seq', options.keepDeadLettersFromSeq),
    }))
  }
}
