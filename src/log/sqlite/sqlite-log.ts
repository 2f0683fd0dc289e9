import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { JoinSettings, LoggedEvent } from '../../engine/types.js'
import { BanditJoinError, uncommittedAfterFailure } from '../../errors.js'
import {
  type CommitBatch,
  type CompactOptions,
  type CompactResult,
  type EventLog,
  isUncommittedAfterFailure,
  type JoinCheckpoint,
  type OutputStore,
  type OutputStream,
  type RecordLine,
  type SinkPosition,
} from '../types.js'
import { openSqlite, type SqlDatabase, type SqlStatement } from './driver.js'
import { type DirectoryLock, lockDirectory } from './lock.js'
import { packBatch } from './packed-batch.js'
import { firstIdWhereAtLeast, readMeta, writeMeta } from './queries.js'
import {
  EVENTS_FROM_SQL,
  type EventRow,
  REPLAY_READER_MIN_ROWS,
  readOnWorker,
  rowChunks,
} from './replay-reader.js'
import { FORMAT_VERSION, KIND, SCHEMA } from './schema.js'
import type { CheckpointerSetup, WriterReply, WriterRequest, WriterSetup } from './writer-protocol.js'

export interface SqliteLogOptions {
  dataDir: string
  /** power: fsync before a commit resolves; process: survives a crash of the process only. */
  durability: 'power' | 'process'
  /** Replays of at least this many events read on a thread of their own (default REPLAY_READER_MIN_ROWS). */
  replayReaderMinRows?: number
}

type Request = WriterRequest extends infer R ? (R extends WriterRequest ? Omit<R, 'id'> : never) : never

/** How often the checkpointer thread copies the write-ahead log into the database file. */
const CHECKPOINT_INTERVAL_MS = 100

const EMPTY_CHECKPOINT: JoinCheckpoint = { timeMs: 0, recordSeq: 0, recordBytes: 0, deadLetterSeq: 0 }

const dataDirError = (message: string, cause?: unknown) =>
  new BanditJoinError('BJ_ERR_DATA_DIR', message, 500, { cause })

/**
 * The embedded log: one SQLite file in WAL mode. The main thread reads on its own connection;
 * every write goes to a writer thread, so a commit's fsync never blocks request handling.
 * The data directory is held by a lock for the life of the log.
 */
export class SqliteLog implements EventLog, OutputStore {
  readonly path: string
  private readonly lock: DirectoryLock
  private readonly db: SqlDatabase
  private readonly writer: Worker
  private readonly checkpointer: Worker
  private readonly checkpointerExited: Promise<unknown>
  private readonly replies = new Map<
    number,
    { resolve(value: unknown): void; reject(error: unknown): void }
  >()
  private nextRequestId = 1
  /** Settles when the writer thread has opened its connection (request 0), or failed to. */
  private readonly writerReady: Promise<unknown>
  private readonly replayReaderMinRows: number
  private checkpointValue: JoinCheckpoint = EMPTY_CHECKPOINT
  private settingsValue: JoinSettings | undefined
  private nextPosValue = 1
  /** Commits that failed so far, as the writer counts them (see EventLog.commit). */
  private commitFailures = 0
  private readonly reads: {
    eventsFrom: SqlStatement
    bodiesAt: SqlStatement
    recordsFrom: SqlStatement
    deadLettersFrom: SqlStatement
    firstRecord: SqlStatement
    sink: SqlStatement
  }

  constructor(options: SqliteLogOptions) {
    this.replayReaderMinRows = options.replayReaderMinRows ?? REPLAY_READER_MIN_ROWS
    mkdirSync(options.dataDir, { recursive: true })
    this.path = join(options.dataDir, 'banditjoin.db')
    this.lock = lockDirectory(options.dataDir)
    try {
      this.db = openSqlite(this.path)
    } catch (error) {
      this.lock.release()
      throw openError(this.path, error)
    }
    try {
      this.prepareFile()
      this.reads = {
        eventsFrom: this.db.prepare(EVENTS_FROM_SQL),
        // One statement for any count: the positions as a JSON array, each a rowid lookup.
        bodiesAt: this.db.prepare(
          'SELECT pos, body FROM events WHERE pos IN (SELECT value FROM json_each(?))',
        ),
        recordsFrom: this.db.prepare(
          'SELECT seq, emitted_ms, line FROM records WHERE seq >= ? ORDER BY seq LIMIT ?',
        ),
        deadLettersFrom: this.db.prepare(
          'SELECT seq, 0 AS emitted_ms, line FROM dead_letters WHERE seq >= ? ORDER BY seq LIMIT ?',
        ),
        firstRecord: this.db.prepare('SELECT min(seq) AS seq FROM records'),
        sink: this.db.prepare('SELECT name, seq, offset, file_id FROM sinks WHERE name = ?'),
      }
      this.settingsValue = readMeta<JoinSettings>(this.db, 'settings')
      this.checkpointValue = readMeta<JoinCheckpoint>(this.db, 'checkpoint') ?? EMPTY_CHECKPOINT
      const last = this.db.prepare('SELECT max(pos) AS pos FROM events').get() as { pos: number | null }
      this.nextPosValue = (last.pos ?? readMeta<number>(this.db, 'next_pos') ?? 0) + 1
    } catch (error) {
      // A refused directory must not stay locked by this process.
      this.db.close()
      this.lock.release()
      throw error
    }
    const setup: WriterSetup = { path: this.path, durability: options.durability }
    this.writerReady = new Promise((resolve, reject) => this.replies.set(0, { resolve, reject }))
    this.writerReady.catch(() => {})
    this.writer = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: setup })
    this.writer.on('message', (reply: WriterReply) => this.settle(reply))
    this.writer.on('error', (error) => this.failAll(error))
    const checkpointerSetup: CheckpointerSetup = { ...setup, intervalMs: CHECKPOINT_INTERVAL_MS }
    this.checkpointer = new Worker(new URL('./checkpointer-worker.js', import.meta.url), {
      workerData: checkpointerSetup,
    })
    this.checkpointerExited = new Promise((resolve) => this.checkpointer.once('exit', resolve))
    // Without it commits checkpoint by themselves (past the writer's threshold): slower, not wrong.
    this.checkpointer.on('error', () => {})
  }

  /** Resolves once the writer thread is ready; rejects if it cannot open the log. */
  async ready(): Promise<void> {
    await this.writerReady
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
    const from = firstIdWhereAtLeast(this.db, 'events', 'insert_ms', fromMs)
    // An empty table gives 0: nothing to read, on any thread.
    if (from > 0 && this.nextPosValue - from >= this.replayReaderMinRows) {
      for (const { numbers, keys, bodies, fingerprints } of readOnWorker(this.path, from)) {
        for (let i = 0; i < keys.length; i++) {
          const at = 3 * i
          yield decodeEvent(
            numbers[at] as number,
            numbers[at + 1] as number,
            numbers[at + 2] as number,
            keys[i] as string,
            bodies[i] as string,
            fingerprints[i] ?? null,
          )
        }
      }
      return
    }
    const read = (fromPos: number) => this.reads.eventsFrom.all(fromPos) as EventRow[]
    for (const rows of rowChunks(read, from)) {
      for (const row of rows)
        yield decodeEvent(row.pos, row.insert_ms, row.kind, row.key, row.body, row.fingerprint)
    }
  }

  bodiesAt(positions: readonly number[]): Map<number, string> {
    const bodies = new Map<number, string>()
    if (positions.length === 0) return bodies
    const rows = this.reads.bodiesAt.all(JSON.stringify(positions)) as { pos: number; body: string }[]
    for (const row of rows) bodies.set(row.pos, row.body)
    return bodies
  }

  async commit(batch: CommitBatch): Promise<void> {
    const packed = packBatch(batch)
    try {
      this.checkpointValue = (await this.ask(
        { op: 'commit', batch: packed, failuresSeen: this.commitFailures },
        [packed.bytes.buffer, packed.numbers.buffer],
      )) as JoinCheckpoint
    } catch (error) {
      if (!isUncommittedAfterFailure(error)) this.commitFailures++
      throw error
    }
    const last = batch.events.at(-1)
    if (last !== undefined) this.nextPosValue = last.pos + 1
  }

  readOutput(stream: OutputStream, fromSeq: number, limit: number): RecordLine[] {
    const statement = stream === 'records' ? this.reads.recordsFrom : this.reads.deadLettersFrom
    const rows = statement.all(fromSeq, limit) as { seq: number; emitted_ms: number; line: string }[]
    return rows.map((r) => ({ seq: r.seq, emittedMs: r.emitted_ms, line: r.line }))
  }

  firstRetainedRecordSeq(): number {
    const row = this.reads.firstRecord.get() as { seq: number | null }
    return row.seq ?? this.checkpointValue.recordSeq + 1
  }

  sinkPosition(name: string): SinkPosition | undefined {
    const row = this.reads.sink.get(name) as
      | { name: string; seq: number; offset: number; file_id: string | null }
      | undefined
    return row && { name: row.name, seq: row.seq, offset: row.offset, fileId: row.file_id }
  }

  async resetSettings(settings: JoinSettings): Promise<void> {
    await this.ask({ op: 'resetSettings', settings, lastPos: this.nextPosValue - 1 })
    this.settingsValue = settings
  }

  async compact(options: CompactOptions): Promise<CompactResult> {
    return (await this.ask({ op: 'compact', options, lastPos: this.nextPosValue - 1 })) as CompactResult
  }

  async close(): Promise<void> {
    if (!this.db.isOpen) return
    try {
      await this.writerReady
      await this.ask({ op: 'close' })
    } catch {
      // A writer that never opened has nothing to close.
    } finally {
      this.checkpointer.postMessage('close')
      await this.checkpointerExited
      await this.writer.terminate()
      this.db.close()
      this.lock.release()
    }
  }

  private ask(request: Request, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const id = this.nextRequestId++
    return new Promise((resolve, reject) => {
      this.replies.set(id, { resolve, reject })
      this.writer.postMessage({ ...request, id }, transfer)
    })
  }

  private settle(reply: WriterReply): void {
    const waiting = this.replies.get(reply.id)
    if (waiting === undefined) return
    this.replies.delete(reply.id)
    if (reply.ok) waiting.resolve(reply.result)
    // The writer thread's errors arrive as message and code; the one it raises itself is typed again.
    else if (isUncommittedAfterFailure(reply)) waiting.reject(uncommittedAfterFailure())
    else waiting.reject(Object.assign(new Error(reply.message), { code: reply.code }))
  }

  private failAll(error: unknown): void {
    for (const waiting of this.replies.values()) waiting.reject(error)
    this.replies.clear()
  }

  /** The file checked (only read until then: a refused file is left as it was), WAL mode, the schema in place. */
  private prepareFile(): void {
    let version: number | undefined
    try {
      const rows = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      const tables = (rows as { name: string }[]).map((row) => row.name)
      if (tables.includes('meta')) version = readMeta<number>(this.db, 'format_version')
      else if (tables.length > 0) throw new Error(`it holds other tables (${tables.join(', ')})`)
    } catch (error) {
      throw openError(this.path, error)
    }
    if (version !== undefined && version > FORMAT_VERSION) {
      throw dataDirError(
        `${this.path} has data format version ${version}, newer than this banditjoin understands (${FORMAT_VERSION}); run a newer banditjoin`,
      )
    }
    try {
      this.db.exec('PRAGMA journal_mode = WAL')
    } catch (error) {
      throw openError(this.path, error)
    }
    this.db.exec(SCHEMA)
    if (version === undefined) writeMeta(this.db, 'format_version', FORMAT_VERSION)
  }
}

function decodeEvent(
  pos: number,
  insertMs: number,
  kind: number,
  key: string,
  body: string,
  fingerprint: string | null,
): LoggedEvent {
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
  return dataDirError(
    `${path} cannot be opened as a banditjoin log (${(error as Error).message}); move the data directory away to start empty, or restore it from a backup`,
    error,
  )
}
