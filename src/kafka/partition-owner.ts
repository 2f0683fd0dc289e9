import { type Admin, type Message, type Producer, stringSerializers } from '@platformatic/kafka'
import type { Logger } from 'pino'
import type { Scheduler, Timer } from '../clock.js'
import type { JoinSettings } from '../engine/types.js'
import { BanditJoinError } from '../errors.js'
import { CycleCollector } from '../join/collector.js'
import {
  type EventDecoder,
  type InvalidRecord,
  type PartitionCheckpoint,
  PartitionJoin,
  type PartitionRecord,
} from '../join/partition-join.js'
import { recoverPartition } from '../join/partition-recovery.js'
import { sameSettings, settingsChangeRefusal } from '../join/settings-change.js'
import type { Metrics } from '../metrics.js'
import { deadLetterLine, recordLine } from '../output/format.js'
import { chunksByBytes } from './chunks.js'
import { type FixedConsumer, TRANSACTIONAL_PRODUCER_DEFAULTS, txnOffsetCommit } from './client-fixes.js'
import { decodeCommittedState, encodeCommittedState } from './offset-metadata.js'
import { KafkaPartitionReader } from './partition-reader.js'
import { OneBufferProducer } from './produce-request.js'
import type { Decoded, RecordDecoder } from './record-decoder.js'
import type { Topics } from './topics.js'

export type StringMessage = Message<string, string, string, string>
type StringProducer = Producer<string, string, string, string>
/** The library does not export its Transaction class. */
type Transaction = Awaited<ReturnType<StringProducer['beginTransaction']>>

/** A partition whose offsets moved on is committed at least this often, even with nothing to emit. */
const IDLE_COMMIT_MS = 1000
/**
 * A commit that has not settled by then is taken as failed (and the owner replaced): a client
 * call that never answers must not leave the partition's output stuck.
 */
const COMMIT_TIMEOUT_MS = 30_000
/** How often an owner checks that nothing released waits uncommitted and nothing due waits unticked. */
const WATCHDOG_MS = 1000
/** A tick that did not carry the partition's time past a due time is sent again after this. */
const TICK_RETRY_MS = 100
/**
 * A due time the group's stream has not carried the partition past for this long (its ticks did
 * not come back through it): the owner reads the partition itself, up to its end.
 */
const STREAM_STALL_MS = 1000

export interface OwnerDeps {
  partition: number
  topics: Topics
  settings: JoinSettings
  /** Client id and brokers, for the owner's own transactional producer. */
  clientOptions: { clientId: string; bootstrapBrokers: string[] }
  /** The group member: its generation fences a member that lost the partition. */
  consumer: FixedConsumer<string, string, string, string>
  /** A consumer outside the group, for reads by offset. */
  reader: FixedConsumer
  admin: Admin
  /** Produces a tick into a partition of the events topic (no transaction needed). */
  tick(partition: number): Promise<void>
  decode: EventDecoder
  /** The same decoding, of many records at once, on a worker thread (catch-ups, and the stream's runs). */
  decoder: RecordDecoder
  /** Turns a JSON record line into the output format (dsjson or itself). */
  formatRecord(line: string): string
  metrics: Metrics
  logger: Logger
  /** The join's time and timers (ticks, idle commits, the watchdog); the wall clock in service. */
  scheduler: Scheduler
  /** Told when a commit failed: the owner is then out of step with what is committed and must be replaced. */
  onFailure(owner: PartitionOwner, error: unknown): void
  /** Told when the owner committed (`committed`), or found nothing waiting to be committed. */
  onUpToDate(partition: number, committed: boolean): void
}

/**
 * Joins one partition of the events topic for as long as this instance is its consumer group's
 * owner (SPEC §5): recovers from the last committed checkpoint, applies the partition's records,
 * ticks the partition when a due time passes without traffic, and commits what is released
 * together with the consumer offset and checkpoint in one Kafka transaction of its own
 * (transactional id per partition, so a new owner fences the previous one).
 */
export class PartitionOwner {
  private readonly collector: CycleCollector
  private readonly invalidLines: string[] = []
  private committed: PartitionCheckpoint
  private lastCommitMs: number
  private flushing = false
  /** The commit under way or last made (close waits for it). */
  private lastFlush: Promise<void> = Promise.resolve()
  private flushTimer: NodeJS.Immediate | undefined
  private idleTimer: Timer | undefined
  private tickTimer: Timer | undefined
  private watchdog: Timer | undefined
  private closed = false
  /** Reading the partition (the stream's records, catch-ups) one at a time, in offset order. */
  private reading: Promise<void> = Promise.resolve()

  private constructor(
    private readonly deps: OwnerDeps,
    private readonly join: PartitionJoin,
    private readonly producer: StringProducer,
    private readonly reader: KafkaPartitionReader,
    /** Begun at start (which fenced the previous owner); the first commit uses it. */
    private transaction: Transaction | undefined,
  ) {
    this.committed = join.position
    this.lastCommitMs = deps.scheduler.now()
    this.collector = new CycleCollector(deps.metrics)
    join.setOutput(this.collector, (invalid) => this.reportInvalid(invalid))
    this.armWatchdog()
    this.armTick()
    // Decisions that fell due while nobody owned the partition go out now.
    this.scheduleFlush()
  }

  static async start(deps: OwnerDeps): Promise<PartitionOwner> {
    const { partition, topics } = deps
    const producer = new OneBufferProducer({
      ...deps.clientOptions,
      serializers: stringSerializers,
      transactionalId: `${deps.consumer.groupId}.${topics.events}.${partition}`,
      ...TRANSACTIONAL_PRODUCER_DEFAULTS,
      retryDelay: 20,
    })
    try {
      // InitProducerId first: it fences the previous owner and ends its open transaction, so the
      // committed offset read next is final.
      await abortWhatIsHanging(producer, deps.consumer, [topics.joined, topics.deadLetters], partition)
      const transaction = await producer.beginTransaction()
      const reader = new KafkaPartitionReader(deps.admin, deps.reader, topics.events, partition)
      const join = await recover(deps, reader)
      const owner = new PartitionOwner(deps, join, producer, reader, transaction)
      const end = await reader.endOffset()
      deps.logger.debug({ partition, from: join.position.offset, to: end }, 'partition owner catching up')
      await owner.oneAtATime(() => owner.catchUp(end))
      return owner
    } catch (error) {
      await closeWithin(producer)
      throw error
    }
  }

  get partition(): number {
    return this.deps.partition
  }

  /** The offset of the next record this owner applies: it has read the partition up to there. */
  get nextOffset(): number {
    return this.join.nextOffset
  }

  get pendingDecisions(): number {
    return this.join.engine.pendingDecisions
  }

  get heldEvents(): number {
    return this.join.engine.heldEvents
  }

  /**
   * Applies records of the group's stream, in offset order (after what this owner missed, if the
   * stream is ahead). Several at once are decoded on the worker.
   */
  accept(messages: readonly StringMessage[]): Promise<void> {
    return this.oneAtATime(async () => {
      if (this.closed) return
      const records = messages.map(recordOf).filter((record) => record.offset >= this.join.nextOffset)
      const first = records[0]
      if (first === undefined) return
      await this.catchUp(first.offset)
      const decoded = records.length > 1 ? await this.deps.decoder.decodeAll(records) : []
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as PartitionRecord
        // Each offset once: a stream can bring a record twice at the same offset (docs/kafka.md, client problem 10).
        if (record.offset >= this.join.nextOffset) this.join.apply(record, decoded[i])
      }
      this.scheduleFlush()
      this.armTick()
    })
  }

  /** Runs `read` after the reads before it, so that no record is applied twice or out of order. */
  private oneAtATime(read: () => Promise<void>): Promise<void> {
    const next = this.reading.then(read)
    this.reading = next.catch(() => {})
    return next
  }

  /**
   * Reads what the group's stream will not bring: records up to `offset` that it delivered
   * while this partition had no owner here (or before this owner's commit failed).
   */
  private async catchUp(offset: number): Promise<void> {
    const from = this.join.nextOffset
    if (offset <= from) return
    // Each batch is decoded on the worker while the one before it is applied.
    let previous: { batch: readonly PartitionRecord[]; decoded: Promise<Decoded[]> } | undefined
    for await (const batch of this.reader.read(from, offset)) {
      const next = { batch, decoded: this.deps.decoder.decodeAll(batch) }
      if (previous !== undefined) this.applyDecoded(previous.batch, await previous.decoded)
      previous = next
    }
    if (previous !== undefined) this.applyDecoded(previous.batch, await previous.decoded)
    this.scheduleFlush()
    this.armTick()
  }

  private applyDecoded(batch: readonly PartitionRecord[], decoded: readonly Decoded[]): void {
    for (let i = 0; i < batch.length; i++) this.join.apply(batch[i] as PartitionRecord, decoded[i])
  }

  /** Commits what is released so far, then stops (the partition is no longer ours, or we stop). */
  async close(): Promise<void> {
    if (this.closed) return
    this.deps.scheduler.clearTimer(this.tickTimer)
    await this.lastFlush
    await this.flush()
    this.stopTimers()
    await closeWithin(this.producer)
  }

  /** Stops without committing (after a failed commit, or when the partition was taken away). */
  async abandon(): Promise<void> {
    this.stopTimers()
    await closeWithin(this.producer)
  }

  private stopTimers(): void {
    this.closed = true
    const { scheduler } = this.deps
    scheduler.clearTimer(this.watchdog)
    scheduler.clearTimer(this.tickTimer)
    scheduler.clearTimer(this.idleTimer)
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer)
  }

  private scheduleFlush(): void {
    if (this.flushTimer === undefined && !this.flushing && !this.closed) {
      this.flushTimer = setImmediate(() => {
        this.flushTimer = undefined
        void this.flush()
      })
    }
  }

  /** Self-healing against a lost wake-up: what is released gets committed, what is due gets ticked. */
  private armWatchdog(): void {
    const { scheduler } = this.deps
    this.watchdog = scheduler.setTimer(() => {
      if (this.closed) return
      if (this.collector.records.length + this.collector.deadLetters.length > 0) this.scheduleFlush()
      if ((this.join.engine.nextReleaseMs() ?? Number.POSITIVE_INFINITY) <= scheduler.now()) this.armTick()
      this.armWatchdog()
    }, WATCHDOG_MS)
  }

  /** Commits what is released, unless a commit is under way (then resolves with that one). */
  private flush(): Promise<void> {
    if (this.closed || this.flushing) return this.lastFlush
    this.lastFlush = this.commitReleased()
    return this.lastFlush
  }

  private async commitReleased(): Promise<void> {
    const { scheduler } = this.deps
    const { records, deadLetters } = this.collector
    const position = this.join.position
    const moved = position.offset !== this.committed.offset
    const released = records.length + deadLetters.length + this.invalidLines.length
    if (released === 0 && !moved) this.deps.onUpToDate(this.deps.partition, false)
    if (released === 0 && (!moved || scheduler.now() - this.lastCommitMs < IDLE_COMMIT_MS)) {
      // Offsets alone are committed at a slower pace: they only shorten a successor's catch-up.
      if (moved) this.idleTimer ??= scheduler.setTimer(() => this.idleCommit(), IDLE_COMMIT_MS)
      return
    }
    this.collector.records = []
    this.collector.deadLetters = []
    const invalid = this.invalidLines.splice(0)
    this.flushing = true
    const { topics, partition, metrics } = this.deps
    const emittedMs = scheduler.now()
    const messages = [
      ...records.map((r) => ({
        topic: topics.joined,
        partition,
        key: r.decision.key,
        value: this.deps.formatRecord(recordLine(r, this.join.takeBody, emittedMs)),
      })),
      ...deadLetters.map((d) => ({
        topic: topics.deadLetters,
        partition,
        key: d.event.key,
        value: deadLetterLine(d, this.join.takeBody, emittedMs),
      })),
      ...invalid.map((value) => ({ topic: topics.deadLetters, partition, value })),
    ]
    const transaction =
      this.transaction ?? (await this.producer.beginTransaction().catch((error: unknown) => error as Error))
    this.transaction = undefined
    // Set when the commit is given up: a step still running then must not be followed by another.
    // (A transactional offset commit that reached the coordinator after its transaction ended
    // would stay pending for ever and block every stable read of the group's offsets.)
    const attempt = { givenUp: false }
    const step = <T>(work: () => Promise<T>): Promise<T> => {
      if (attempt.givenUp) return Promise.reject(new Error('the commit was given up'))
      return work()
    }
    try {
      if (transaction instanceof Error) throw transaction
      const { timeMs, lastCollisionMs } = position
      const metadata = encodeCommittedState({ timeMs, lastCollisionMs, settings: this.deps.settings })
      const settled = await settlesWithin(COMMIT_TIMEOUT_MS, async () => {
        // One request per chunk, in order (a backlog released at takeover is larger than a batch may be).
        for (const chunk of chunksByBytes(messages)) await step(() => transaction.send({ messages: chunk }))
        await step(() =>
          txnOffsetCommit(this.producer, transaction, this.deps.consumer, [
            { topic: topics.events, partition, offset: BigInt(position.offset), metadata },
          ]),
        )
        await step(() => transaction.commit())
      })
      if (!settled) {
        attempt.givenUp = true
        throw new Error(`the commit did not settle within ${COMMIT_TIMEOUT_MS} ms`)
      }
      this.committed = position
      this.lastCommitMs = scheduler.now()
      metrics.releasedCommitted(records, deadLetters, emittedMs)
      metrics.health.commitSucceeded()
      this.deps.onUpToDate(partition, true)
      this.flushing = false
      if (this.collector.records.length + this.collector.deadLetters.length > 0) this.scheduleFlush()
    } catch (error) {
      this.flushing = false
      // Aborting is for a commit whose steps have all stopped; one given up mid-step is ended by the
      // next owner's InitProducerId instead, which also fences whatever of it is still on its way.
      if (!(transaction instanceof Error) && !attempt.givenUp) await transaction.abort().catch(() => {})
      metrics.commitFailed(error)
      if (!this.closed) this.deps.onFailure(this, error)
    }
  }

  private idleCommit(): void {
    this.idleTimer = undefined
    void this.flush()
  }

  /** When the next release falls due and no record has carried the partition's time there, tick it. */
  private armTick(): void {
    const { scheduler } = this.deps
    scheduler.clearTimer(this.tickTimer)
    const next = this.join.engine.nextReleaseMs()
    if (next === undefined || this.closed) return
    this.tickTimer = scheduler.setTimer(() => this.tick(next, scheduler.now()), next - scheduler.now())
  }

  private tick(dueMs: number, firstTickMs: number): void {
    if (this.closed || this.join.position.timeMs >= dueMs) return
    const { partition, tick, logger, scheduler } = this.deps
    tick(partition).catch((error: unknown) =>
      logger.warn({ err: error, partition }, 'tick not sent; will retry'),
    )
    if (scheduler.now() - firstTickMs >= STREAM_STALL_MS) {
      firstTickMs = scheduler.now()
      logger.info(
        { partition, dueMs },
        "the group's stream brings no ticks back; reading the partition directly",
      )
      void this.oneAtATime(async () => this.catchUp(await this.reader.endOffset())).catch((error: unknown) =>
        logger.warn({ err: error, partition }, 'reading the partition directly failed; will retry'),
      )
    }
    this.tickTimer = scheduler.setTimer(() => this.tick(dueMs, firstTickMs), TICK_RETRY_MS)
  }

  private reportInvalid({ record, error }: InvalidRecord): void {
    const { partition, metrics, logger } = this.deps
    const reason = error instanceof BanditJoinError ? error.code : 'BJ_ERR_MALFORMED_JSON'
    metrics.eventsRefused.inc({ type: 'kafka_record', reason })
    logger.warn(
      { partition, offset: record.offset, err: error },
      'a record of the events topic is not an event',
    )
    this.invalidLines.push(
      JSON.stringify({
        reason: 'invalid',
        error: error.message,
        partition,
        offset: record.offset,
        value: record.value,
      }),
    )
  }
}

/** Runs `work`; false if it has not settled within `ms` (it may still be running then). */
async function settlesWithin(ms: number, work: () => Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([work().then(() => true as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** How long closing a producer may take: a close waiting on dead brokers must not hold up a successor. */
const CLOSE_WAIT_MS = 2000

async function closeWithin(producer: StringProducer): Promise<void> {
  await Promise.race([
    producer.close(true).catch(() => {}),
    new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref()),
  ])
}

/**
 * Aborts whatever of this transactional id may still hang, before the owner writes anything:
 * one transaction that adds the owner's output partitions and the group's offsets, aborted, so
 * that a transaction marker of this producer id reaches each of them.
 *
 * - Output records of an earlier transaction that the coordinator no longer knows of. A broker
 *   restarted under load can come back with the transaction's registration lost (its log shows
 *   "state is COMPLETE_COMMIT, but received transaction marker result to send: ABORT"): the
 *   records stay in the partition as an open transaction of this producer id, which the next
 *   commit marker of the same id would commit, so a record emitted before the fault and emitted
 *   again by the next owner would be read twice. This abort marker ends them as aborted.
 * - A transactional offset commit that reached the group coordinator after its transaction had
 *   ended: it stays pending until a marker of its producer id reaches the group's offsets
 *   partition, and until then every stable read of the group's offsets (KIP-447's
 *   requireStable) fails.
 *
 * InitProducerId (the first begin) has already fenced the previous owner.
 */
async function abortWhatIsHanging(
  producer: StringProducer,
  consumer: FixedConsumer<string, string, string, string>,
  outputTopics: string[],
  partition: number,
): Promise<void> {
  const clearing = await producer.beginTransaction()
  const metadata = await producer.metadata({ topics: outputTopics })
  const partitions = outputTopics.map((topic) => ({ topic, partition, value: Buffer.alloc(0) }))
  await clearing.addPartitions(metadata, partitions)
  await clearing.addConsumer(consumer)
  await clearing.abort()
}

function recordOf(message: StringMessage): PartitionRecord {
  return {
    offset: Number(message.offset),
    timestampMs: Number(message.timestamp),
    key: message.key || null,
    value: message.value || null,
  }
}

/** The partition's join as of its committed checkpoint (or fresh, from its first record). */
async function recover(deps: OwnerDeps, reader: KafkaPartitionReader): Promise<PartitionJoin> {
  const { admin, consumer, topics, partition, settings, decode, logger } = deps
  const [group] = await admin.listConsumerGroupOffsets({
    groups: [{ groupId: consumer.groupId, topics: [{ name: topics.events, partitionIndexes: [partition] }] }],
    requireStable: true,
  })
  const committed = group?.topics[0]?.partitions[0]
  if (committed === undefined || committed.committedOffset < 0n) {
    const start = await reader.offsetForTime(0)
    return new PartitionJoin(settings, decode, {
      offset: start,
      timeMs: Number.NEGATIVE_INFINITY,
      lastCollisionMs: Number.NEGATIVE_INFINITY,
    })
  }
  const state = {
    ...decodeCommittedState(committed.metadata ?? '', `${topics.events}/${partition}`),
    offset: Number(committed.committedOffset),
  }
  const started = performance.now()
  const join = await recoverPartition(reader, state, { settings: state.settings, decode })
  logger.info(
    { partition, offset: state.offset, timeMs: state.timeMs, ms: Math.round(performance.now() - started) },
    'partition recovered from its checkpoint',
  )
  if (sameSettings(state.settings, settings)) return join
  const refusal = settingsChangeRefusal({
    what: `partition ${partition} of ${topics.events}`,
    recorded: state.settings,
    wanted: settings,
    // The partition's own time: the broker's clock, as the window is measured.
    quietFromMs: join.engine.quietFromMs(),
    nowMs: state.timeMs,
  })
  if (refusal !== undefined)
    throw new BanditJoinError('BJ_ERR_CONFIG', `${refusal}; every instance of the group must agree`)
  logger.info({ partition, from: state.settings, to: settings }, 'join settings changed')
  const { offset, timeMs } = state
  return new PartitionJoin(settings, decode, { offset, timeMs, lastCollisionMs: Number.NEGATIVE_INFINITY })
}
