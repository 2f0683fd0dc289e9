import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { EmbeddedLog, OutputLine, OutputStream, RecordLine, SinkPosition } from '../log/types.js'
import type { Metrics } from '../metrics.js'
import { RepeatedFault } from '../observability/repeated-fault.js'
import type { OutputSink } from '../output/sink.js'
import type { JoinedTail } from '../output/tail.js'

/** How long a stop waits for outputs (a slow standard output) to take what they were given. */
const OUTPUT_FLUSH_MS = 2000

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

/**
 * Takes committed records and dead letters to the tail and the outputs, each output exactly
 * once across crashes: an output writes what directly follows its position, or first what it
 * missed from the log, and its position is persisted (in the joiner's commits) only once synced.
 */
export class OutputRouter {
  private readonly persisted = new Map<string, SinkPosition>()
  /** Outputs being reopened (SIGHUP): they take no lines until their new position is persisted. */
  private readonly switching = new Set<OutputSink>()
  private reopening: Promise<unknown> = Promise.resolve()
  private lastSyncMs = 0
  /** A background sync is under way (one at a time). */
  private syncing = false
  /** Positions synced in the background, for the next commit to persist. */
  private syncedInBackground: SinkPosition[] = []
  /** Bumped by each sync here and now, so that background syncs begun before it are dropped. */
  private syncGeneration = 0
  private readonly faults = new Map<string, RepeatedFault>()
  private stopped = false

  constructor(
    private readonly log: EmbeddedLog,
    private readonly sinks: readonly OutputSink[],
    private readonly tail: JoinedTail,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Sinks' positions are synced and persisted at most this often. */
    private readonly syncIntervalMs: number,
  ) {}

  /** Writes what every output missed while the service was down, and keeps writing once one can again. */
  start(): void {
    for (const sink of this.sinks) {
      this.persisted.set(sink.name, sink.position())
      sink.onWritable(() => {
        if (!this.stopped) this.write(sink, [])
      })
    }
    this.catchUpAll()
  }

  /** Committed lines: to the tail's followers and to every output. */
  deliver(records: RecordLine[], deadLetters: OutputLine[]): void {
    this.tail.publish(records)
    for (const sink of this.sinks) this.write(sink, sink.stream === 'records' ? records : deadLetters)
  }

  /** Retries what outputs missed (a failed write, a full disk) and reports each output's lag. */
  catchUpAll(): void {
    const { checkpoint } = this.log
    for (const sink of this.sinks) {
      if (sink.stream === 'records')
        this.metrics.outputLag.set({ output: sink.name }, checkpoint.recordSeq - sink.position().seq)
      this.write(sink, [])
    }
  }

  /** The next commit persists the outputs' positions, however recently they were, synced there and then. */
  syncAtNextCommit(): void {
    this.lastSyncMs = Number.NEGATIVE_INFINITY
  }

  /**
   * Positions to persist in the next commit, each synced first. Every syncIntervalMs the outputs
   * that moved are synced in the background, and their positions go to the first commit after
   * (an fdatasync on the main thread held back the records of the cycle that waited for it:
   * bench/RESULTS.md); after syncAtNextCommit (a stop, a reopen) they are synced here and now.
   */
  positionsToPersist(): SinkPosition[] {
    const nowMs = this.clock.now()
    if (this.lastSyncMs === Number.NEGATIVE_INFINITY) {
      // Background syncs under way describe older positions than these: theirs are dropped.
      this.syncGeneration++
      this.syncedInBackground = []
      const moved = this.moved()
      if (moved.length > 0) this.lastSyncMs = nowMs
      return moved.flatMap((sink) => this.syncNow(sink))
    }
    const synced = this.syncedInBackground
    this.syncedInBackground = []
    if (!this.syncing && nowMs - this.lastSyncMs >= this.syncIntervalMs) {
      const moved = this.moved()
      if (moved.length > 0) {
        this.lastSyncMs = nowMs
        this.syncInBackground(moved)
      }
    }
    return synced
  }

  /** Outputs whose position moved since it was last persisted. */
  private moved(): OutputSink[] {
    return this.sinks.filter((sink) => {
      const saved = this.persisted.get(sink.name)
      const current = sink.position()
      return (
        saved === undefined ||
        saved.seq !== current.seq ||
        saved.offset !== current.offset ||
        saved.fileId !== current.fileId
      )
    })
  }

  private syncNow(sink: OutputSink): SinkPosition[] {
    try {
      const position = sink.sync()
      this.fault('sync', sink).succeeded()
      return [position]
    } catch (error) {
      // Not synced, so not persisted: after a crash its lines are written again from the log.
      this.fault('sync', sink).failed(error)
      return []
    }
  }

  private syncInBackground(sinks: readonly OutputSink[]): void {
    const generation = this.syncGeneration
    this.syncing = true
    void Promise.allSettled(sinks.map((sink) => sink.syncInBackground())).then((results) => {
      this.syncing = false
      if (generation !== this.syncGeneration || this.stopped) return
      results.forEach((result, i) => {
        const sink = sinks[i] as OutputSink
        if (result.status === 'fulfilled') {
          this.fault('sync', sink).succeeded()
          this.syncedInBackground.push(result.value)
        } else this.fault('sync', sink).failed(result.reason)
      })
    })
  }

  /** Positions a commit made durable. */
  persistedAs(positions: readonly SinkPosition[]): void {
    for (const position of positions) this.persisted.set(position.name, position)
  }

  /** The first line of `stream` some output has not persisted as written (`fallback` when all have). */
  firstUnpersisted(stream: OutputStream, fallback: number): number {
    return Math.min(
      fallback,
      ...this.sinks.filter((s) => s.stream === stream).map((s) => (this.persisted.get(s.name)?.seq ?? 0) + 1),
    )
  }

  /**
   * SIGHUP: reopen file outputs (after they were renamed for rotation); resolves with the names
   * of those that could not be reopened, which go on writing to the files they had open.
   * An output takes no lines meanwhile, so that its position in the old file and then its start
   * in the new one are persisted (by `persistNow`, a commit) before it moves on: exactly once
   * across a crash at any moment.
   */
  reopen(persistNow: () => Promise<void>): Promise<string[]> {
    const next = this.reopening.then(() => this.reopenAll(persistNow))
    this.reopening = next
    return next
  }

  /** A stop began: outputs that can write again wait for the last commits' lines. */
  stop(): void {
    this.stopped = true
  }

  /** Resolves once what outputs were given has left the process (waiting at most OUTPUT_FLUSH_MS). */
  async drain(): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.flush(OUTPUT_FLUSH_MS)))
  }

  close(): void {
    for (const sink of this.sinks) sink.close()
  }

  private async reopenAll(persistNow: () => Promise<void>): Promise<string[]> {
    const failed: string[] = []
    for (const sink of this.sinks) this.switching.add(sink)
    try {
      await persistNow()
      if (this.stopped) return failed
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
      await persistNow()
    } finally {
      this.switching.clear()
    }
    if (!this.stopped) this.catchUpAll()
    return failed
  }

  /** Writes to a sink what directly follows its position: the fresh lines, or first what it missed, from the log. */
  private write(sink: OutputSink, fresh: readonly OutputLine[]): void {
    try {
      if (!sink.canWrite() || this.switching.has(sink)) return
      const first = fresh[0]
      if (first !== undefined && first.seq === sink.position().seq + 1) sink.write(fresh)
      else this.catchUp(sink)
      this.metrics.health.outputSucceeded(sink.name)
      this.fault('write', sink).succeeded()
    } catch (error) {
      this.metrics.health.outputFailed(sink.name, error)
      this.fault('write', sink).failed(error)
    }
  }

  private catchUp(sink: OutputSink): void {
    const { checkpoint } = this.log
    const last = sink.stream === 'records' ? checkpoint.recordSeq : checkpoint.deadLetterSeq
    while (sink.canWrite() && sink.position().seq < last) {
      const page = this.log.readOutput(sink.stream, sink.position().seq + 1, 1000)
      const seq = sink.position().seq + 1
      if (page.length === 0 || (page[0] as OutputLine).seq !== seq) {
        this.fault('gap', sink).failed(new Error(`line ${seq} is no longer in the log`))
        return
      }
      sink.write(page)
    }
    this.fault('gap', sink).succeeded()
  }

  private fault(kind: keyof typeof OUTPUT_FAULTS, sink: OutputSink): RepeatedFault {
    const key = `${kind} ${sink.name}`
    let fault = this.faults.get(key)
    if (fault === undefined) {
      fault = new RepeatedFault(this.logger, { ...OUTPUT_FAULTS[kind], fields: { output: sink.name } })
      this.faults.set(key, fault)
    }
    return fault
  }
}
