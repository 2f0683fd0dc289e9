import { isDeepStrictEqual } from 'node:util'
import type { Logger } from 'pino'
import type { Scheduler, Timer } from '../clock.js'
import { JoinEngine } from '../engine/engine.js'
import {
  bodyText,
  type DeadLetter,
  type EventBody,
  type JoinedRecord,
  type JoinSettings,
  type LoggedEvent,
} from '../engine/types.js'
import { BanditJoinError, overloaded, shuttingDown } from '../errors.js'
import type { Admission, Ingestor } from '../ingest/ingestor.js'
import { type IncomingEvent, toLoggedEvent } from '../ingest/validate.js'
import { CycleCollector } from '../join/collector.js'
import { type SnapshotMeta, takeSnapshot, writeSnapshot } from '../join/engine-snapshot.js'
import { rebuildEngine } from '../join/replay.js'
import { sameSettings } from '../join/settings-change.js'
import {
  type EmbeddedLog,
  isUncommittedAfterFailure,
  type OutputLine,
  type RecordLine,
} from '../log/types.js'
import type { Metrics } from '../metrics.js'
import { RepeatedFault } from '../observability/repeated-fault.js'
import { logReplayProgress } from '../observability/replay-progress.js'
import { type BodyOf, deadLetterLine, positionsToRead, recordLine } from '../output/format.js'
import type { OutputSink } from '../output/sink.js'
import type { JoinedTail } from '../output/tail.js'
import { Admitter } from './admission.js'
import { Maintenance } from './maintenance.js'
import { OutputRouter } from './output-router.js'

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
  /** Where a clean stop leaves the engine's state for the next start (see engine-snapshot.ts). */
  snapshotPath: string
}

/**
 * Commits in flight at once: while the writer thread syncs one, the next is already queued for
 * it, instead of the writer idling for a round trip to the main thread between commits.
 */
const MAX_COMMITS_IN_FLIGHT = 2

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
 * in one transaction (group commit); only then are requests answered and the outputs given the
 * records (OutputRouter). One timer, for the engine's next release, carries time forward when no
 * traffic does; Maintenance does the rest in the background. Inert until `start()`.
 */
export class Joiner implements Ingestor {
  /** Duplicates and conflicts are judged here, by fingerprint. */
  readonly needsFingerprints = true
  private engine: JoinEngine | undefined
  private readonly collector: CycleCollector
  private queue: LoggedEvent[] = []
  /** Created by the first append of a cycle, shared by every append of that cycle. */
  private waiter: Waiter | undefined
  private readonly admitter: Admitter
  private nextPos: number
  private immediate: NodeJS.Immediate | undefined
  private timer: Timer | undefined
  private readonly outputs: OutputRouter
  private readonly maintenance: Maintenance
  private closing = false
  /** Commits asked of the log and not settled yet, oldest first (the log applies them in order). */
  private readonly commits: Promise<void>[] = []
  /**
   * The events of those commits, oldest first: the engine releases decisions by log position,
   * and until its commit settles an event can be read back from here only, not from the log.
   */
  private unsettled: (readonly LoggedEvent[])[] = []
  /** The last record and dead letter positions given out, committed or in flight. */
  private lastRecordSeq: number
  private lastDeadLetterSeq: number
  /** After a failed commit, cycles wait until then (the disk may be full). */
  private pausedUntilMs = 0
  /** Faults that repeat for as long as they last (a full disk): logged when they start and end. */
  private readonly commitFault: RepeatedFault

  constructor(
    private readonly log: EmbeddedLog,
    private readonly scheduler: Scheduler,
    sinks: readonly OutputSink[],
    tail: JoinedTail,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: JoinerOptions,
  ) {
    this.collector = new CycleCollector(metrics)
    this.commitFault = new RepeatedFault(logger, {
      message: 'log commit failed; refusing the batch and rebuilding from the log',
      recovered: 'log commits succeed again',
    })
    this.admitter = new Admitter(options)
    this.outputs = new OutputRouter(log, sinks, tail, scheduler, metrics, logger, options.sinkSyncIntervalMs)
    this.maintenance = new Maintenance(
      scheduler,
      log,
      this.outputs,
      {
        // Read at each compaction: a settings change replaces them.
        get settings() {
          return options.settings
        },
        idleCycle: () => {
          if (this.queue.length === 0 && this.immediate === undefined) this.cycle()
        },
        lastCommit: () => this.commits.at(-1) ?? Promise.resolve(),
      },
      options,
      logger,
    )
    this.nextPos = log.nextPos
    this.lastRecordSeq = log.checkpoint.recordSeq
    this.lastDeadLetterSeq = log.checkpoint.deadLetterSeq
  }

  /** Rebuilds the engine from the log, writes what the outputs missed, and starts joining. */
  start(): void {
    this.engine =
      this.restoredEngine() ??
      rebuildEngine(this.log, this.options.settings, this.collector, logReplayProgress(this.logger))
    this.outputs.start()
    this.maintenance.start()
    this.cycle()
  }

  /** The engine as the last clean stop left it, if its snapshot describes the log as it is. */
  private restoredEngine(): JoinEngine | undefined {
    const started = performance.now()
    let snapshot: ReturnType<typeof takeSnapshot>
    try {
      snapshot = takeSnapshot(this.options.snapshotPath)
    } catch (error) {
      this.logger.warn({ err: error }, 'the engine snapshot cannot be read; replaying the log instead')
      return undefined
    }
    if (snapshot === undefined) return undefined
    if (!this.describesLog(snapshot.meta)) {
      this.logger.warn('the engine snapshot is not of the log as it is now; replaying the log instead')
      return undefined
    }
    const engine = JoinEngine.restore(this.options.settings, this.collector, snapshot.state)
    const ms = Math.round(performance.now() - started)
    this.logger.info(
      { pending: engine.pendingDecisions, ms },
      'engine restored from the snapshot of the last stop',
    )
    return engine
  }

  private describesLog(meta: SnapshotMeta): boolean {
    return (
      meta.nextPos === this.log.nextPos &&
      isDeepStrictEqual(meta.checkpoint, this.log.checkpoint) &&
      sameSettings(meta.settings, this.options.settings)
    )
  }

  /**
   * At a stop, after the last commit: the engine's state for the next start. Only when the
   * engine stands exactly at the log's checkpoint (it always does after a commit of its own).
   */
  private saveSnapshot(engine: JoinEngine): void {
    if (engine.timeMs !== this.log.checkpoint.timeMs || this.nextPos !== this.log.nextPos) return
    const started = performance.now()
    const meta = { settings: this.options.settings, checkpoint: this.log.checkpoint, nextPos: this.nextPos }
    try {
      writeSnapshot(this.options.snapshotPath, { meta, state: engine.exportState() })
    } catch (error) {
      this.logger.warn(
        { err: error },
        'the engine snapshot could not be written; the next start replays the log',
      )
      return
    }
    const ms = Math.round(performance.now() - started)
    this.logger.info({ pending: engine.pendingDecisions, ms }, 'engine snapshot written for the next start')
  }

  private get joinEngine(): JoinEngine {
    if (this.engine === undefined) throw new Error('the joiner was not started')
    return this.engine
  }

  /** When the engine will hold no state (used to decide whether settings may change). */
  quietFromMs(): number | undefined {
    return this.joinEngine.quietFromMs()
  }

  get pendingDecisions(): number {
    return this.engine?.pendingDecisions ?? 0
  }

  get heldEvents(): number {
    return this.engine?.heldEvents ?? 0
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
    return this.admitter.admit(this.joinEngine, events, this.scheduler.now())
  }

  /** Logs admitted events; resolves once they are durable. */
  append(events: readonly IncomingEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve()
    const insertMs = this.scheduler.now()
    for (const event of events) {
      const logged = toLoggedEvent(event, this.nextPos++, insertMs)
      this.queue.push(logged)
      this.admitter.appended(this.joinEngine, logged)
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
   * of those that could not be reopened (see OutputRouter.reopen).
   */
  reopenOutputs(): Promise<string[]> {
    return this.outputs.reopen(() => this.persistOutputPositions())
  }

  /**
   * Syncs the outputs and persists their positions now, in a commit of its own (made even if
   * nothing else is to commit when `always`).
   */
  private async persistOutputPositions(always = false): Promise<void> {
    this.outputs.syncAtNextCommit()
    await this.flush(always)
  }

  /**
   * Stops accepting, commits what was accepted, persists the outputs' positions (once what they
   * were given has left the process) and closes the log.
   */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    this.maintenance.stop()
    this.scheduler.clearTimer(this.timer)
    if (this.immediate) clearImmediate(this.immediate)
    this.outputs.stop()
    if (this.engine !== undefined) {
      await this.persistOutputPositions()
      // The last cycle's writes to the outputs: persist where they stand too, and commit the
      // engine's time as the checkpoint even if nothing else is to commit, for the snapshot.
      await this.outputs.drain()
      await this.persistOutputPositions(true)
      this.saveSnapshot(this.engine)
    }
    this.outputs.close()
    await this.log.close()
  }

  /** Runs a cycle now (after those in flight) and waits for its commit (made even if empty when `always`). */
  async flush(always = false): Promise<void> {
    await this.settled()
    this.cycle(always)
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
    this.scheduler.clearTimer(this.timer)
    this.timer = undefined
    const next = this.joinEngine.nextReleaseMs()
    if (next !== undefined) {
      const at = Math.max(next, this.pausedUntilMs)
      this.timer = this.scheduler.setTimer(() => this.cycle(), at - this.scheduler.now())
    }
  }

  private cycle(commitEvenIfEmpty = false): void {
    this.immediate = undefined
    if (this.commits.length >= MAX_COMMITS_IN_FLIGHT) return
    const engine = this.joinEngine
    const events = this.queue
    const waiter = this.waiter
    this.queue = []
    this.waiter = undefined
    this.admitter.clear()
    const timeMs = this.scheduler.now()
    for (const event of events) engine.apply(event)
    engine.advanceTo(timeMs)
    const released = this.collector
    const sinkPositions = this.outputs.positionsToPersist()
    const empty =
      events.length + released.records.length + released.deadLetters.length + sinkPositions.length === 0
    if (empty && !commitEvenIfEmpty) {
      this.schedule()
      return
    }
    const emittedMs = this.scheduler.now()
    const releasedRecords = released.records
    const releasedLetters = released.deadLetters
    const { records, deadLetters } = this.lines(releasedRecords, releasedLetters, events, emittedMs)
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
    this.unsettled.push(events)
    const commit = this.log
      .commit(batch)
      .then(
        () => {
          this.commitFault.succeeded()
          this.metrics.commitDuration.observe((performance.now() - started) / 1000)
          this.metrics.commitEvents.observe(events.length)
          this.outputs.persistedAs(sinkPositions)
          this.metrics.committed(events, records.length, timeMs)
          this.metrics.releasedCommitted(releasedRecords, releasedLetters, emittedMs)
          waiter?.resolve()
          this.outputs.deliver(records, deadLetters)
        },
        (error: unknown) => this.failCycle(error, waiter),
      )
      .finally(() => {
        this.commits.shift()
        this.unsettled = this.unsettled.filter((e) => e !== events)
        this.schedule()
      })
    this.commits.push(commit)
  }

  /** The released records and dead letters as numbered output lines. */
  private lines(
    released: readonly JoinedRecord[],
    letters: readonly DeadLetter[],
    cycleEvents: readonly LoggedEvent[],
    emittedMs: number,
  ): { records: RecordLine[]; deadLetters: OutputLine[] } {
    const kept = this.options.keepDeadLetters ? letters : []
    const bodyOf = this.bodiesOf(positionsToRead(released, kept), cycleEvents)
    const records = released.map((r) => ({
      seq: ++this.lastRecordSeq,
      emittedMs,
      line: recordLine(r, bodyOf, emittedMs),
    }))
    const deadLetters = kept.map((d) => ({
      seq: ++this.lastDeadLetterSeq,
      line: deadLetterLine(d, bodyOf, emittedMs),
    }))
    return { records, deadLetters }
  }

  /**
   * The bodies of the released decisions at `positions`: those logged in this cycle or in a
   * commit still in flight from memory, the rest from the log in one read. Decisions fall due
   * in log order, so in the common case they are all in the log, close together.
   */
  private bodiesOf(positions: readonly number[], cycleEvents: readonly LoggedEvent[]): BodyOf {
    if (positions.length === 0) return noBody
    // Newest first: after a failed commit, positions are given out again from the log's end.
    const inMemory = [cycleEvents, ...this.unsettled.toReversed()].filter((events) => events.length > 0)
    const fromMemory = (pos: number): EventBody | undefined => {
      for (const events of inMemory) {
        const first = (events[0] as LoggedEvent).pos
        // Positions are given out one by one, so a batch holds a contiguous range of them.
        const event = pos >= first ? events[pos - first] : undefined
        if (event?.pos === pos) return event.body
      }
      return undefined
    }
    const toRead = positions.filter((pos) => fromMemory(pos) === undefined)
    const read = this.log.bodiesAt(toRead)
    return (pos) => {
      const inMemoryBody = fromMemory(pos)
      const body = inMemoryBody === undefined ? read.get(pos) : bodyText(inMemoryBody)
      if (body === undefined) throw new Error(`the decision at log position ${pos} is not in the log`)
      return body
    }
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
    // Every commit still in flight fails after this one: none of their events will be in the log.
    this.unsettled = []
    this.admitter.clear()
    this.collector.records = []
    this.collector.deadLetters = []
    this.engine = rebuildEngine(this.log, this.options.settings, this.collector)
    this.nextPos = this.log.nextPos
    this.lastRecordSeq = this.log.checkpoint.recordSeq
    this.lastDeadLetterSeq = this.log.checkpoint.deadLetterSeq
    this.pausedUntilMs = this.scheduler.now() + 1000
  }
}

const noBody: BodyOf = (pos) => {
  throw new Error(`no body was read for log position ${pos}`)
}
