import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { JoinEngine } from '../engine/engine.js'
import {
  type DeadLetter,
  type JoinedRecord,
  type JoinSettings,
  type LoggedEvent,
  replayHorizonMs,
} from '../engine/types.js'
import { BanditJoinError, overloaded, shuttingDown } from '../errors.js'
import type { Admission, Ingestor } from '../ingest/ingestor.js'
import { type IncomingEvent, toLoggedEvent } from '../ingest/validate.js'
import { CycleCollector } from '../join/collector.js'
import {
  type EventLog,
  isUncommittedAfterFailure,
  type OutputLine,
  type RecordLine,
  type SinkPosition,
} from '../log/types.js'
import type { Metrics } from '../metrics.js'
import { RepeatedFault } from '../observability/repeated-fault.js'
import { logReplayProgress } from '../observability/replay-progress.js'
import { deadLetterLine, recordLine } from '../output/format.js'
import type { OutputSink } from '../output/sink.js'
import type { JoinedTail } from '../output/tail.js'
import { Admitter } from './admission.js'
import { rebuildEngine } from './recovery.js'

export interface JoinerOptions {
  settings: JoinSettings
  /** Decisions pending beyond which a new decision gets 503. */
  maxPending: number
  /** Events held for keys with no decision beyond which such events get 503. */
  maxHeld: number
  /** Rewards counted or held for one key beyond which a reward gets 422. */
  maxRewardsPerDecision: number
  /** Events accepted but not yet committed beyond which ingest answers 503. */
  maxQueuedEvents: number
  /** Whether dead letters are kept for a dead-letter output. */
  keepDeadLetters: boolean
  /** Sinks' positions are synced and persisted at most this often. @default 100 */
  sinkSyncIntervalMs: number
  /** How often compaction runs (in small steps, see COMPACT_ROWS_PER_CALL). @default 250 */
  compactIntervalMs: number
  outputRetentionMs: number
  outputRetentionBytes: number
}

/**
 * Rows dropped per table per compaction: small enough that a compaction holds the writer for
 * milliseconds, and several times a second well above any ingest rate this machine sustains.
 */
const COMPACT_ROWS_PER_CALL = 20_000

/** How long a stop waits for outputs (a slow standard output) to take what they were given. */
const OUTPUT_FLUSH_MS = 2000

/**
 * Commits in flight at once: while the writer thread syncs one, the next is already queued for
 * it, instead of the writer idling for a round trip to the main thread between commits.
 */
const MAX_COMMITS_IN_FLIGHT = 2

/** How each kind of output fault is logged (see RepeatedFault). */
const OUTPUT_FAULTS = {
  write: {
    message: 'output write failed; will retry from the log',
    recovered: 'output writes succeed again',
  },
  sync: { message: 'output sync failed; will retry', recovered: 'output syncs succeed again' },
  gap: {
    message: 'output is missing lines the log no longer has',
    recovered: 'output caught up with the log',
  },
} as const

/** The requests whose events go into one commit: all answered when it settles. */
class Waiter {
  readonly done: Promise<void>
  resolve!: () => void
  reject!: (error: unknown) => void
  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }
}

/**
 * The embedded join loop (DESIGN.md): admits events, stamps them, and in cycles applies them to
 * the engine, advances it to the clock, and commits events, released records and the checkpoint
 * in one transaction (group commit); only then are requests answered and outputs written.
 * One timer, for the engine's next release, carries time forward when no traffic does.
 */
export class Joiner implements Ingestor {
  private engine: JoinEngine
  private readonly collector: CycleCollector
  private queue: LoggedEvent[] = []
  /** Created by the first append of a cycle, shared by every append of that cycle. */
  private waiter: Waiter | undefined
  private readonly admitter: Admitter
  private nextPos: number
  private immediate: NodeJS.Immediate | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly maintenance: NodeJS.Timeout
  private lastSinkSyncMs = 0
  private lastCompactMs: number
  private readonly persisted = new Map<string, SinkPosition>()
  /** Outputs being reopened (SIGHUP): they take no lines until their new position is persisted. */
  private readonly switching = new Set<OutputSink>()
  private reopening: Promise<unknown> = Promise.resolve()
  private closing = false
  /** Commits asked of the log and not settled yet, oldest first (the log applies them in order). */
  private readonly commits: Promise<void>[] = []
  /** The last record and dead letter positions given out, committed or in flight. */
  private lastRecordSeq: number
  private lastDeadLetterSeq: number
  /** After a failed commit, cycles wait until then (the disk may be full). */
  private pausedUntilMs = 0
  /** Faults that repeat for as long as they last (a full disk): logged when they start and end. */
  private readonly commitFault: RepeatedFault
  private readonly compactionFault: RepeatedFault
  private readonly outputFaults = new Map<string, RepeatedFault>()

  constructor(
    private readonly log: EventLog,
    private readonly clock: Clock,
    private readonly sinks: readonly OutputSink[],
    private readonly tail: JoinedTail,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: JoinerOptions,
  ) {
    this.collector = new CycleCollector(metrics)
    this.commitFault = new RepeatedFault(logger, {
      message: 'log commit failed; refusing the batch and rebuilding from the log',
      recovered: 'log commits succeed again',
    })
    this.compactionFault = new RepeatedFault(logger, {
      message: 'compaction failed; will retry',
      recovered: 'compaction succeeds again',
    })
    this.admitter = new Admitter(options)
    this.engine = rebuildEngine(log, options.settings, this.collector, logReplayProgress(logger))
    this.nextPos = log.nextPos
    this.lastRecordSeq = log.checkpoint.recordSeq
    this.lastDeadLetterSeq = log.checkpoint.deadLetterSeq
    for (const sink of sinks) {
      this.persisted.set(sink.name, sink.position())
      sink.onWritable(() => {
        if (!this.closing) this.writeToSink(sink, [])
      })
    }
    this.lastCompactMs = clock.now()
    this.catchUpSinks()
    this.maintenance = setInterval(() => this.maintain(), Math.min(500, options.compactIntervalMs))
    this.maintenance.unref()
    this.cycle()
  }

  /** When the engine will hold no state (used to decide whether settings may change). */
  quietFromMs(): number | undefined {
    return this.engine.quietFromMs()
  }

  get pendingDecisions(): number {
    return this.engine.pendingDecisions
  }

  get heldEvents(): number {
    return this.engine.heldEvents
  }

  /**
   * Decides, without changing anything, what would happen to each event if it were logged now
   * after the ones before it in the list: duplicate decisions, conflicts (409), budgets (422, 503).
   */
  admit(events: readonly IncomingEvent[]): Admission[] {
    if (this.closing) {
      const error = shuttingDown()
      return events.map(() => ({ kind: 'refuse', error }))
    }
    if (this.queue.length + events.length > this.options.maxQueuedEvents) {
      const error = overloaded(`the log is behind (${this.queue.length} events waiting to be committed)`)
      return events.map(() => ({ kind: 'refuse', error }))
    }
    return this.admitter.admit(this.engine, events, this.clock.now())
  }

  /** Logs admitted events; resolves once they are durable. */
  append(events: readonly IncomingEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve()
    const insertMs = this.clock.now()
    for (const event of events) {
      const logged = toLoggedEvent(event, this.nextPos++, insertMs)
      this.queue.push(logged)
      this.admitter.appended(this.engine, logged)
    }
    this.waiter ??= new Waiter()
    this.schedule()
    return this.waiter.done
  }

  /**
   * Switches to new join settings: only valid while the engine holds no state, since the
   * events in the log so far were joined under the old ones (which the log stops carrying).
   */
  async changeSettings(settings: JoinSettings): Promise<void> {
    await this.flush()
    await this.log.resetSettings(settings)
    this.options.settings = settings
    this.engine = rebuildEngine(this.log, settings, this.collector)
  }

  /**
   * SIGHUP: reopen file outputs (after they were renamed for rotation); resolves with the names
   * of those that could not be reopened, which go on writing to the files they had open.
   * An output takes no lines meanwhile, so that its position in the old file and then its start
   * in the new one are persisted before it moves on: exactly once across a crash at any moment.
   */
  reopenOutputs(): Promise<string[]> {
    const next = this.reopening.then(() => this.reopen())
    this.reopening = next
    return next
  }

  private async reopen(): Promise<string[]> {
    const failed: string[] = []
    for (const sink of this.sinks) this.switching.add(sink)
    try {
      await this.persistSinkPositions()
      if (this.closing) return failed
      for (const sink of this.sinks) {
        try {
          sink.reopen()
        } catch (error) {
          failed.push(sink.name)
          this.logger.error(
            { err: error, output: sink.name },
            'output could not be reopened; still writing to the file it had open',
          )
        }
      }
      await this.persistSinkPositions()
    } finally {
      this.switching.clear()
    }
    if (!this.closing) this.catchUpSinks()
    return failed
  }

  /** Syncs the outputs and persists their positions now, in a commit of its own. */
  private async persistSinkPositions(): Promise<void> {
    this.lastSinkSyncMs = 0
    await this.flush()
  }

  /**
   * Stops accepting, commits what was accepted, persists the outputs' positions (once what they
   * were given has left the process, waiting at most OUTPUT_FLUSH_MS) and closes the log.
   */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    clearInterval(this.maintenance)
    clearTimeout(this.timer)
    if (this.immediate) clearImmediate(this.immediate)
    this.lastSinkSyncMs = 0
    await this.flush()
    // The last cycle's writes to the outputs: persist where they stand too.
    await Promise.all(this.sinks.map((sink) => sink.flush(OUTPUT_FLUSH_MS)))
    this.lastSinkSyncMs = 0
    await this.flush()
    for (const sink of this.sinks) sink.close()
    await this.log.close()
  }

  /** Runs a cycle now (after those in flight) and waits for its commit. */
  async flush(): Promise<void> {
    await this.settled()
    this.cycle()
    await this.settled()
  }

  /** Resolves once no commit is in flight. */
  private async settled(): Promise<void> {
    while (this.commits.length > 0) await this.commits.at(-1)
  }

  private schedule(): void {
    if (this.commits.length >= MAX_COMMITS_IN_FLIGHT || this.closing) return
    if (this.queue.length > 0) {
      this.immediate ??= setImmediate(() => this.cycle())
      return
    }
    clearTimeout(this.timer)
    this.timer = undefined
    const next = this.engine.nextReleaseMs()
    if (next !== undefined) {
      const at = Math.max(next, this.pausedUntilMs)
      this.timer = setTimeout(() => this.cycle(), Math.max(0, at - this.clock.now()))
    }
  }

  private cycle(): void {
    this.immediate = undefined
    if (this.commits.length >= MAX_COMMITS_IN_FLIGHT) return
    const events = this.queue
    const waiter = this.waiter
    this.queue = []
    this.waiter = undefined
    this.admitter.clear()
    const timeMs = this.clock.now()
    for (const event of events) this.engine.apply(event)
    this.engine.advanceTo(timeMs)
    const released = this.collector
    const sinkPositions = this.sinkPositionsToPersist()
    if (events.length + released.records.length + released.deadLetters.length + sinkPositions.length === 0) {
      this.schedule()
      return
    }
    const { records, deadLetters } = this.format(released.records, released.deadLetters)
    released.records = []
    released.deadLetters = []
    const started = performance.now()
    const batch = {
      events,
      records,
      deadLetters,
      checkpoint: {
        timeMs,
        recordSeq: this.lastRecordSeq,
        deadLetterSeq: this.lastDeadLetterSeq,
      },
      sinkPositions,
    }
    const commit = this.log
      .commit(batch)
      .then(
        () => {
          this.commitFault.succeeded()
          this.metrics.commitDuration.observe((performance.now() - started) / 1000)
          this.metrics.commitEvents.observe(events.length)
          for (const position of sinkPositions) this.persisted.set(position.name, position)
          this.metrics.committed(events, records.length, timeMs)
          waiter?.resolve()
          this.deliver(records, deadLetters)
        },
        (error: unknown) => this.failCycle(error, waiter),
      )
      .finally(() => {
        this.commits.shift()
        this.schedule()
      })
    this.commits.push(commit)
  }

  private format(
    released: JoinedRecord[],
    letters: DeadLetter[],
  ): { records: RecordLine[]; deadLetters: OutputLine[] } {
    const emittedMs = this.clock.now()
    const records = released.map((r) => {
      this.metrics.emissionLateness.observe((emittedMs - r.dueMs) / 1000)
      return { seq: ++this.lastRecordSeq, emittedMs, line: recordLine(r, emittedMs) }
    })
    for (const letter of letters) this.metrics.deadLetters.inc({ reason: letter.reason })
    this.metrics.released(letters)
    const deadLetters = this.options.keepDeadLetters
      ? letters.map((d) => ({ seq: ++this.lastDeadLetterSeq, line: deadLetterLine(d, emittedMs) }))
      : []
    return { records, deadLetters }
  }

  /**
   * A failed commit (disk full, I/O error) changed nothing durable: refuse what it carried
   * with 503 and rebuild the engine from the log, which no longer matches the one in memory.
   */
  private failCycle(error: unknown, waiter: Waiter | undefined): void {
    this.metrics.commitFailed(error)
    const refusal = new BanditJoinError(
      'BJ_ERR_UNAVAILABLE',
      `the log cannot be written: ${(error as Error).message}`,
      503,
      {
        cause: error,
        retryAfterSeconds: 5,
      },
    )
    waiter?.reject(refusal)
    // A commit sent after the one that failed: the engine it was built on is already rebuilt.
    if (isUncommittedAfterFailure(error)) return
    this.commitFault.failed(error)
    // Events admitted since were judged against the state that just failed: refuse them too.
    this.waiter?.reject(refusal)
    this.waiter = undefined
    this.queue = []
    this.admitter.clear()
    this.collector.records = []
    this.collector.deadLetters = []
    this.engine = rebuildEngine(this.log, this.options.settings, this.collector)
    this.nextPos = this.log.nextPos
    this.lastRecordSeq = this.log.checkpoint.recordSeq
    this.lastDeadLetterSeq = this.log.checkpoint.deadLetterSeq
    this.pausedUntilMs = this.clock.now() + 1000
  }

  private deliver(records: RecordLine[], deadLetters: OutputLine[]): void {
    this.metrics.recordsEmitted.inc(records.length)
    this.tail.publish(records)
    for (const sink of this.sinks) {
      const fresh = sink.stream === 'records' ? records : deadLetters
      this.writeToSink(sink, fresh)
    }
  }

  /** Writes to a sink what directly follows its position: the fresh lines, or first what it missed, from the log. */
  private writeToSink(sink: OutputSink, fresh: readonly OutputLine[]): void {
    try {
      if (!sink.canWrite() || this.switching.has(sink)) return
      const first = fresh[0]
      if (first !== undefined && first.seq === sink.position().seq + 1) sink.write(fresh)
      else this.catchUp(sink)
      this.metrics.health.outputSucceeded(sink.name)
      this.outputFault('write', sink).succeeded()
    } catch (error) {
      this.metrics.health.outputFailed(sink.name, error)
      this.outputFault('write', sink).failed(error)
    }
  }

  private outputFault(kind: 'write' | 'sync' | 'gap', sink: OutputSink): RepeatedFault {
    const key = `${kind} ${sink.name}`
    let fault = this.outputFaults.get(key)
    if (fault === undefined) {
      fault = new RepeatedFault(this.logger, { ...OUTPUT_FAULTS[kind], fields: { output: sink.name } })
      this.outputFaults.set(key, fault)
    }
    return fault
  }

  private catchUp(sink: OutputSink): void {
    const { checkpoint } = this.log
    const last = sink.stream === 'records' ? checkpoint.recordSeq : checkpoint.deadLetterSeq
    while (sink.canWrite() && sink.position().seq < last) {
      const page = this.log.readOutput(sink.stream, sink.position().seq + 1, 1000)
      const seq = sink.position().seq + 1
      if (page.length === 0 || (page[0] as OutputLine).seq !== seq) {
        this.outputFault('gap', sink).failed(new Error(`line ${seq} is no longer in the log`))
        return
      }
      sink.write(page)
    }
    this.outputFault('gap', sink).succeeded()
  }

  private catchUpSinks(): void {
    for (const sink of this.sinks) this.writeToSink(sink, [])
  }

  /** Positions of sinks that moved since last persisted, synced first (at most every sinkSyncIntervalMs). */
  private sinkPositionsToPersist(): SinkPosition[] {
    const now = this.clock.now()
    if (now - this.lastSinkSyncMs < this.options.sinkSyncIntervalMs) return []
    const moved = this.sinks.filter((sink) => {
      const saved = this.persisted.get(sink.name)
      const current = sink.position()
      return (
        saved === undefined ||
        saved.seq !== current.seq ||
        saved.offset !== current.offset ||
        saved.fileId !== current.fileId
      )
    })
    if (moved.length === 0) return []
    this.lastSinkSyncMs = now
    return moved.flatMap((sink) => {
      try {
        const position = sink.sync()
        this.outputFault('sync', sink).succeeded()
        return [position]
      } catch (error) {
        // Not synced, so not persisted: after a crash its lines are written again from the log.
        this.outputFault('sync', sink).failed(error)
        return []
      }
    })
  }

  private maintain(): void {
    const { checkpoint } = this.log
    for (const sink of this.sinks) {
      if (sink.stream === 'records')
        this.metrics.outputLag.set({ output: sink.name }, checkpoint.recordSeq - sink.position().seq)
    }
    this.catchUpSinks()
    if (this.queue.length === 0 && this.immediate === undefined) this.cycle()
    const now = this.clock.now()
    if (now - this.lastCompactMs >= this.options.compactIntervalMs) {
      this.lastCompactMs = now
      // After the cycle just started, so that the sink positions it persists count.
      void (this.commits.at(-1) ?? Promise.resolve()).then(() => this.compact(now))
    }
  }

  private compact(now: number): void {
    if (this.closing) return
    const keepFrom = (stream: OutputSink['stream'], fallback: number) =>
      Math.min(
        fallback,
        ...this.sinks
          .filter((s) => s.stream === stream)
          .map((s) => (this.persisted.get(s.name)?.seq ?? 0) + 1),
      )
    const { checkpoint } = this.log
    this.log
      .compact({
        eventsBeforeMs: checkpoint.timeMs - replayHorizonMs(this.options.settings),
        recordsBeforeMs: now - this.options.outputRetentionMs,
        recordBytesToKeep: this.options.outputRetentionBytes,
        keepRecordsFromSeq: keepFrom('records', checkpoint.recordSeq + 1),
        keepDeadLettersFromSeq: keepFrom('deadLetters', checkpoint.deadLetterSeq + 1),
        maxRowsPerTable: COMPACT_ROWS_PER_CALL,
      })
      .then(
        (removed) => {
          this.compactionFault.succeeded()
          if (removed.events + removed.records + removed.deadLetters > 0) {
            this.logger.debug({ removed }, 'compacted the log')
          }
        },
        (error: unknown) => this.compactionFault.failed(error),
      )
  }
}
