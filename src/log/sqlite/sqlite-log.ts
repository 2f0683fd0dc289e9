import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { JoinSettings, LoggedEvent } from '../../engine/types.js'
import { BanditJoinError } from '../../errors.js'
import type {
  CommitBatch,
  CompactOptions,
  CompactResult,
  EventLog,
  JoinCheckpoint,
  OutputStream,
  RecordLine,
  SinkPosition,
} from '../types.js'
import { isLockedError, openSqlite, type SqlDatabase } from './driver.js'
import { FORMAT_VERSION, KIND, SCHEMA } from './schema.js'

export interface SqliteLogOptions {
  dataDir: string
  /** power: fsync before a commit returns; process: survives a crash of the process only. */
  durability: 'power' | 'process'
}

interface EventRow {
  pos: number
  insert_ms: number
  kind: number
  key: string
  body: string
  fingerprint: string | null
}

const EMPTY_CHECKPOINT: JoinCheckpoint = { timeMs: 0, recordSeq: 0, recordBytes: 0, deadLetterSeq: 0 }

const dataDirError = (message: string, cause?: unknown) =>
  new BanditJoinError('BJ_ERR_DATA_DIR', message, 500, { cause })

/** The embedded log: one SQLite file in WAL mode, held exclusively by one service. */
export class SqliteLog implements EventLog {
  readonly path: string
  private readonly db: SqlDatabase
  private checkpointValue: JoinCheckpoint
  private settingsValue: JoinSettings | undefined
  private nextPosValue: number
  private readonly statements

  constructor(options: SqliteLogOptions) {
    mkdirSync(options.dataDir, { recursive: true })
    this.path = join(options.dataDir, 'banditjoin.db')
    try {
      this.db = openSqlite(this.path)
    } catch (error) {
      throw openError(this.path, error)
    }
    try {
      this.takeExclusiveLock(options.durability)
      this.checkFormat()
      this.db.exec(SCHEMA)
      this.statements = this.prepare()
      this.settingsValue = this.readMeta<JoinSettings>('settings')
      this.checkpointValue = this.readMeta<JoinCheckpoint>('checkpoint') ?? EMPTY_CHECKPOINT
      const last = this.db.prepare('SELECT max(pos) AS pos FROM events').get() as { pos: number | null }
      this.nextPosValue = (last.pos ?? this.readMeta<number>('next_pos') ?? 0) + 1
    } catch (error) {
      // A refused directory must not stay locked by this process.
      this.db.close()
      throw error
    }
  }

  get recordedSettings(): JoinSettings | undefined {
    return this.settingsValue
  }

  get checkpoint(): JoinCheckpoint {
    return this.checkpointValue
  }

  get nextPos(): number {
    return this.nextPosValue
  }

  *replayFrom(fromMs: number): Iterable<LoggedEvent> {
    const rows = this.statements.eventsFrom.iterate(this.firstEventPosAtOrAfter(fromMs)) as Iterable<EventRow>
    for (const row of rows) yield decodeEvent(row)
  }

  commit(batch: CommitBatch): void {
    this.checkpointValue = this.statements.commit(batch)
    const last = batch.events.at(-1)
    if (last !== undefined) this.nextPosValue = last.pos + 1
  }

  readOutput(stream: OutputStream, fromSeq: number, limit: number): RecordLine[] {
    const statement = stream === 'records' ? this.statements.recordsFrom : this.statements.deadLettersFrom
    return (statement.all(fromSeq, limit) as { seq: number; emitted_ms: number; line: string }[]).map(
      (r) => ({
        seq: r.seq,
        emittedMs: r.emitted_ms,
        line: r.line,
      }),
    )
  }

  firstRetainedRecordSeq(): number {
    const row = this.statements.firstRecord.get() as { seq: number | null }
    return row.seq ?? this.checkpointValue.recordSeq + 1
  }

  sinkPosition(name: string): SinkPosition | undefined {
    const row = this.statements.sink.get(name) as
      | { name: string; seq: number; offset: number; file_id: string | null }
      | undefined
    return row && { name: row.name, seq: row.seq, offset: row.offset, fileId: row.file_id }
  }

  resetSettings(settings: JoinSettings): void {
    this.inTransaction(() => {
      this.writeMeta('next_pos', this.nextPosValue - 1)
      this.db.exec('DELETE FROM events')
      this.writeMeta('settings', settings)
    })
    this.settingsValue = settings
  }

  compact(options: CompactOptions): CompactResult {
    // The newest event always stays, so positions keep increasing across restarts.
    const eventsBefore = Math.min(this.firstEventPosAtOrAfter(options.eventsBeforeMs), this.nextPosValue - 1)
    const recordsBefore = Math.min(
      options.keepRecordsFromSeq,
      Math.max(
        this.firstSeqWhere('records', 'emitted_ms', options.recordsBeforeMs),
        // The records after the first whose running total reaches this fit in the byte budget.
        this.firstSeqWhere(
          'records',
          'total_bytes',
          this.checkpointValue.recordBytes - options.recordBytesToKeep,
        ) + 1,
      ),
    )
    const deleteBefore = (sql: string, bound: number) => Number(this.db.prepare(sql).run(bound).changes)
    return this.inTransaction(() => ({
      events: deleteBefore('DELETE FROM events WHERE pos < ?', eventsBefore),
      records: deleteBefore('DELETE FROM records WHERE seq < ?', recordsBefore),
      deadLetters: deleteBefore('DELETE FROM dead_letters WHERE seq < ?', options.keepDeadLettersFromSeq),
    }))
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }

  /** Positions are contiguous and times never decrease, so a binary search finds the boundary. */
  private firstEventPosAtOrAfter(timeMs: number): number {
    return this.firstSeqWhere('events', 'insert_ms', timeMs)
  }

  /** The first row id whose column is >= value, in a table with contiguous ids and a monotone column. */
  private firstSeqWhere(table: 'events' | 'records', column: string, value: number): number {
    const id = table === 'events' ? 'pos' : 'seq'
    const bounds = this.db.prepare(`SELECT min(${id}) AS lo, max(${id}) AS hi FROM ${table}`).get() as {
      lo: number | null
      hi: number | null
    }
    if (bounds.lo === null || bounds.hi === null) return 0
    const at = this.db.prepare(`SELECT ${column} AS v FROM ${table} WHERE ${id} = ?`)
    let lo = bounds.lo
    let hi = bounds.hi + 1
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2)
      if ((at.get(mid) as { v: number }).v >= value) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** WAL with an exclusive lock held from the first write on: one service per data directory. */
  private takeExclusiveLock(durability: SqliteLogOptions['durability']): void {
    try {
      this.db.exec('PRAGMA locking_mode = EXCLUSIVE')
      this.db.exec('PRAGMA journal_mode = WAL')
      this.db.exec(`PRAGMA synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`)
      this.db.exec('BEGIN IMMEDIATE; COMMIT')
    } catch (error) {
      throw openError(this.path, error)
    }
  }

  private checkFormat(): void {
    let version: number | undefined
    try {
      const rows = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      const tables = (rows as { name: string }[]).map((row) => row.name)
      if (tables.includes('meta')) version = this.readMeta<number>('format_version')
      else if (tables.length > 0) throw new Error(`it holds other tables (${tables.join(', ')})`)
    } catch (error) {
      throw openError(this.path, error)
    }
    if (version !== undefined && version > FORMAT_VERSION) {
      throw dataDirError(
        `${this.path} has data format version ${version}, newer than this banditjoin understands (${FORMAT_VERSION}); run a newer banditjoin`,
      )
    }
    if (version === undefined) {
      this.db.exec(SCHEMA)
      this.writeMeta('format_version', FORMAT_VERSION)
    }
  }

  private readMeta<T>(name: string): T | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as
      | { value: string }
      | undefined
    return row === undefined ? undefined : (JSON.parse(row.value) as T)
  }

  private writeMeta(name: string, value: unknown): void {
    this.db
      .prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)')
      .run(name, JSON.stringify(value))
  }

  /** Runs `work` in one transaction: all of it is committed, or (if it throws) none. */
  private inTransaction<T>(work: () => T): T {
    this.db.exec('BEGIN')
    try {
      const result = work()
      this.db.exec('COMMIT')
      return result
    } catch (error) {
      if (this.db.isOpen) this.db.exec('ROLLBACK')
      throw error
    }
  }

  private prepare() {
    const insertEvent = this.db.prepare(
      'INSERT INTO events (pos, insert_ms, kind, key, body, fingerprint) VALUES (?, ?, ?, ?, ?, ?)',
    )
    const insertRecord = this.db.prepare(
      'INSERT INTO records (seq, emitted_ms, total_bytes, line) VALUES (?, ?, ?, ?)',
    )
    const insertDeadLetter = this.db.prepare('INSERT INTO dead_letters (seq, line) VALUES (?, ?)')
    const saveCheckpoint = this.db.prepare(
      "INSERT OR REPLACE INTO meta (name, value) VALUES ('checkpoint', ?)",
    )
    const saveSink = this.db.prepare(
      'INSERT OR REPLACE INTO sinks (name, seq, offset, file_id) VALUES (?, ?, ?, ?)',
    )
    return {
      eventsFrom: this.db.prepare(
        'SELECT pos, insert_ms, kind, key, body, fingerprint FROM events WHERE pos >= ? ORDER BY pos',
      ),
      recordsFrom: this.db.prepare(
        'SELECT seq, emitted_ms, line FROM records WHERE seq >= ? ORDER BY seq LIMIT ?',
      ),
      deadLettersFrom: this.db.prepare(
        'SELECT seq, 0 AS emitted_ms, line FROM dead_letters WHERE seq >= ? ORDER BY seq LIMIT ?',
      ),
      firstRecord: this.db.prepare('SELECT min(seq) AS seq FROM records'),
      sink: this.db.prepare('SELECT name, seq, offset, file_id FROM sinks WHERE name = ?'),
      commit: (batch: CommitBatch) =>
        this.inTransaction(() => {
          for (const e of batch.events) {
            insertEvent.run(
              e.pos,
              e.insertMs,
              kindOf(e),
              e.key,
              e.body,
              e.type === 'decision' ? e.fingerprint : null,
            )
          }
          let recordBytes = this.checkpointValue.recordBytes
          for (const r of batch.records) {
            recordBytes += Buffer.byteLength(r.line) + 1
            insertRecord.run(r.seq, r.emittedMs, recordBytes, r.line)
          }
          for (const d of batch.deadLetters) insertDeadLetter.run(d.seq, d.line)
          for (const s of batch.sinkPositions) saveSink.run(s.name, s.seq, s.offset, s.fileId)
          const checkpoint: JoinCheckpoint = { ...batch.checkpoint, recordBytes }
          saveCheckpoint.run(JSON.stringify(checkpoint))
          return checkpoint
        }),
    }
  }
}

function kindOf(event: LoggedEvent): number {
  if (event.type === 'decision') return event.deferred ? KIND.deferredDecision : KIND.decision
  return KIND[event.type]
}

function decodeEvent({ pos, insert_ms: insertMs, kind, key, body, fingerprint }: EventRow): LoggedEvent {
  switch (kind) {
    case KIND.decision:
    case KIND.deferredDecision:
      return {
        type: 'decision',
        pos,
        insertMs,
        key,
        body,
        deferred: kind === KIND.deferredDecision,
        fingerprint: fingerprint as string,
      }
    case KIND.reward: {
      const { reward, id } = JSON.parse(body) as { reward: number; id?: string }
      return { type: 'reward', pos, insertMs, key, body, reward, id }
    }
    case KIND.override:
      return { type: 'override', pos, insertMs, key, body }
    case KIND.activate:
      return { type: 'activate', pos, insertMs, key, body }
    default:
      throw dataDirError(`event ${pos} has unknown kind ${kind}: the log is corrupt`)
  }
}

function openError(path: string, error: unknown): BanditJoinError {
  if (isLockedError(error)) {
    return dataDirError(`${path} is in use by another banditjoin (one service per DATA_DIR)`, error)
  }
  return dataDirError(
    `${path} cannot be opened as a banditjoin log (${(error as Error).message}); move the data directory away to start empty, or restore it from a backup`,
    error,
  )
}
