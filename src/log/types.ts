import type { JoinSettings, LoggedEvent } from '../engine/types.js'
import type { ErrorCode } from '../errors.js'

/** How far the join has got: everything released up to `timeMs` is in the outputs. */
export interface JoinCheckpoint {
  /** Log time reached: every event stamped before it is in the log and has been joined. */
  timeMs: number
  /** Position of the last joined record (records are numbered 1, 2, 3, ...). */
  recordSeq: number
  /** Bytes of all joined records ever written, for retention by size. */
  recordBytes: number
  /** Position of the last dead letter. */
  deadLetterSeq: number
}

/** One line of an output, with its position in that output. */
export interface OutputLine {
  seq: number
  line: string
}

export interface RecordLine extends OutputLine {
  emittedMs: number
}

/** Where an output sink stands: what it has written, and for files, where and in which file. */
export interface SinkPosition {
  name: string
  seq: number
  offset: number
  fileId: string | null
}

/** What one commit makes durable, all or nothing. */
export interface CommitBatch {
  events: readonly LoggedEvent[]
  records: readonly RecordLine[]
  deadLetters: readonly OutputLine[]
  /** The checkpoint after this batch; the log adds the record bytes itself. */
  checkpoint: Omit<JoinCheckpoint, 'recordBytes'>
  sinkPositions: readonly SinkPosition[]
}

export type OutputStream = 'records' | 'deadLetters'

/** Whether `error` is a commit refused because an earlier one, still unreported when it was asked for, failed. */
export function isUncommittedAfterFailure(error: unknown): boolean {
  return (
    (error as { code?: unknown } | undefined)?.code ===
    ('BJ_ERR_UNCOMMITTED_AFTER_FAILURE' satisfies ErrorCode)
  )
}

/**
 * The durable, ordered event log as the embedded join drives it, in domain terms (no driver
 * handles): append with durability, replay from a time, commit a cycle's releases with the
 * checkpoint all or nothing. The embedded implementation is SQLite (DESIGN.md); the Kafka mode's
 * partitions give the same guarantees through its own reader and transactions
 * (src/join/partition-recovery.ts, src/kafka/partition-owner.ts).
 */
export interface EventLog {
  /** The join settings recorded in the log, or undefined for a new log. */
  readonly recordedSettings: JoinSettings | undefined
  readonly checkpoint: JoinCheckpoint
  /** Position the next appended event gets. */
  readonly nextPos: number
  /**
   * Events in log order from the first one stamped at or after `fromMs`, to rebuild an engine:
   * decisions may come without their bodies (`''`), since the engine keeps none (bodiesAt reads
   * a released decision's body back).
   */
  replayFrom(fromMs: number): Iterable<LoggedEvent>
  /**
   * The logged bodies of the committed events at these positions, by position, in one read (the
   * engine keeps no decision bodies: a released decision's is read back from here). A position
   * that is not in the log (compacted, or not committed yet) is missing from the map.
   */
  bodiesAt(positions: readonly number[]): Map<number, string>
  /**
   * Makes the batch durable (as the durability setting says), or rejects, changing nothing.
   * Commits are applied in the order they are asked for, and several may be in flight: once one
   * fails, those asked for before its failure was reported fail too, with
   * BJ_ERR_UNCOMMITTED_AFTER_FAILURE (they were built on what failed).
   */
  commit(batch: CommitBatch): Promise<void>
  /** Records the join settings, dropping all events (only done when none can matter). */
  resetSettings(settings: JoinSettings): Promise<void>
  close(): Promise<void>
}

/**
 * The joined outputs kept beside the embedded log, for the tail (`GET /joined`) and for outputs
 * that must catch up: what a commit wrote, the outputs' persisted positions, and compaction.
 */
export interface OutputStore {
  /** Retained lines of an output from `fromSeq` on, at most `limit`. */
  readOutput(stream: OutputStream, fromSeq: number, limit: number): RecordLine[]
  /** The oldest retained record position (checkpoint.recordSeq + 1 when none is retained). */
  firstRetainedRecordSeq(): number
  sinkPosition(name: string): SinkPosition | undefined
  /** Drops what can no longer influence any output or be read. */
  compact(options: CompactOptions): Promise<CompactResult>
}

/** The embedded log with its outputs: what SQLite gives. */
export type EmbeddedLog = EventLog & OutputStore

export interface CompactOptions {
  /** Events stamped before this can no longer change any output. */
  eventsBeforeMs: number
  /** Records emitted before this, or beyond the byte budget, leave the tail's retention... */
  recordsBeforeMs: number
  recordBytesToKeep: number
  /** ...but never before every sink has written them. */
  keepRecordsFromSeq: number
  keepDeadLettersFromSeq: number
  /**
   * At most this many rows go per table and call, so that one compaction never holds the
   * writer (and every commit behind it) for long; what is left goes on the next call.
   */
  maxRowsPerTable?: number
}

export interface CompactResult {
  events: number
  records: number
  deadLetters: number
}
