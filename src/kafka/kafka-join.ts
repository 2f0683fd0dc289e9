import type { MessagesStream } from '@platformatic/kafka'
import type { Logger } from 'pino'
import { Counter } from 'prom-client'
import type { Timer } from '../clock.js'
import { BanditJoinError } from '../errors.js'
import { type FixedConsumer, raiseFetchOffset } from './client-fixes.js'
import { PartitionHealth } from './partition-health.js'
import { type OwnerDeps, PartitionOwner, type StringMessage } from './partition-owner.js'

type Member = FixedConsumer<string, string, string, string>
type Stream = MessagesStream<string, string, string, string>

/** The most records of the stream handed to the owners at once. */
const MAX_RUN = 2000

/** After a partition could not be started (brokers unreachable, say), it is tried again after this. */
const RETRY_MS = 1000

export type JoinDeps = Omit<OwnerDeps, 'partition' | 'onFailure' | 'onUpToDate' | 'consumer'> & {
  /**
   * A new member of the group. A member that lost touch with the group for a whole session is
   * replaced, not repaired: a fresh member is the one state the client is sure to handle.
   */
  createConsumer(): Member
  /** Heartbeats missing this long mean the member is out of the group. */
  sessionTimeoutMs: number
  /** A setting this instance cannot run with (every instance of a group must agree): stop the service. */
  onFatal(error: BanditJoinError): void
}

/**
 * The join workers of one instance: a member of the consumer group that reads the events topic.
 * Kafka assigns each partition to one member and moves it when a member leaves or dies (no
 * home-made leases); for every partition assigned here a PartitionOwner joins it.
 */
export class KafkaJoin {
  /** Owners being started or running, by partition. */
  private readonly owners = new Map<number, Promise<PartitionOwner | undefined>>()
  /** Owners running, by partition (for the gauges, which are read synchronously). */
  private readonly started = new Map<number, PartitionOwner>()
  private consumer: Member | undefined
  private stream: Stream | undefined
  /** Since when heartbeats fail (the coordinator may be gone), if they do. */
  private heartbeatsFailingSinceMs: number | undefined
  private assigned = new Set<number>()
  private running: Promise<void> | undefined
  private watchdog: Timer | undefined
  private closing = false
  private readonly logger: Logger
  private readonly health: PartitionHealth
  private readonly readTwice: Counter

  constructor(private readonly deps: JoinDeps) {
    this.logger = deps.logger
    this.health = new PartitionHealth(deps.metrics, () => deps.scheduler.now())
    this.readTwice = new Counter({
      name: 'banditjoin_kafka_records_read_twice_total',
      help: "Records the group's stream brought that their partition's owner had already read itself (at a takeover)",
      registers: [deps.metrics.registry],
    })
  }

  /** Joins the group and starts joining the partitions it assigns; resolves once the first assignment is known. */
  async start(): Promise<void> {
    const stream = await this.join()
    this.running = this.run(stream)
    this.armWatchdog()
  }

  private armWatchdog(): void {
    this.watchdog = this.deps.scheduler.setTimer(() => {
      if (this.closing) return
      this.checkMembership()
      this.armWatchdog()
    }, this.deps.sessionTimeoutMs / 4)
  }

  /** Becomes a member of the group with a new consumer and reads the events topic with it. */
  private async join(): Promise<Stream> {
    const consumer = this.deps.createConsumer()
    this.consumer = consumer
    consumer.on('consumer:group:join', () => {
      if (this.consumer === consumer) this.assign()
    })
    consumer.on('consumer:heartbeat:error', () => {
      if (this.consumer === consumer) this.heartbeatsFailingSinceMs ??= this.deps.scheduler.now()
    })
    consumer.on('consumer:heartbeat:end', () => {
      if (this.consumer === consumer) this.heartbeatsFailingSinceMs = undefined
    })
    this.heartbeatsFailingSinceMs = undefined
    try {
      this.stream = await consumer.consume({
        topics: [this.deps.topics.events],
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: false,
      })
    } catch (error) {
      await closeQuickly(consumer)
      throw error
    }
    this.assign()
    return this.stream
  }

  /**
   * Heartbeats failing for a whole session: the group has moved on without this member, and a
   * member whose coordinator died never finds the new one. (A rebalance sends no heartbeats, and
   * fails none: it does not count.)
   */
  private checkMembership(): void {
    this.checkPartitions()
    const since = this.heartbeatsFailingSinceMs
    if (this.closing || since === undefined || this.deps.scheduler.now() - since < this.deps.sessionTimeoutMs)
      return
    this.logger.warn(
      { failingSince: new Date(since).toISOString() },
      'heartbeats failing; joining the group anew',
    )
    this.heartbeatsFailingSinceMs = undefined
    this.stream?.destroy(new Error('heartbeats failed for a whole session'))
  }

  /**
   * Every partition assigned here has an owner, running or being started (a safety net: an owner
   * lost on any path is started again); a partition stuck past the bound is given up: the member
   * leaves the group and joins anew, so that the group can move it to another instance.
   */
  private checkPartitions(): void {
    if (this.closing || this.consumer === undefined) return
    for (const partition of this.assigned) {
      if (!this.owners.has(partition)) {
        this.logger.warn({ partition }, 'partition assigned here had no owner; starting one')
        this.startOwner(partition)
      }
    }
    const stuck = this.health.toGiveUp()
    if (stuck.length > 0) {
      this.logger.error(
        { partitions: stuck },
        'partitions made no progress for too long; leaving the group so that they can move',
      )
      this.stream?.destroy(new Error(`partitions ${stuck.join(', ')} stuck`))
    }
  }

  get partitions(): number[] {
    return [...this.assigned].sort((a, b) => a - b)
  }

  get pendingDecisions(): number {
    return this.sum((owner) => owner.pendingDecisions)
  }

  get heldEvents(): number {
    return this.sum((owner) => owner.heldEvents)
  }

  /** Commits what every partition released, leaves the group (its partitions move at once) and stops. */
  async close(): Promise<void> {
    this.closing = true
    this.deps.scheduler.clearTimer(this.watchdog)
    await this.stream?.close().catch(() => {})
    await this.running
    await Promise.all([...this.owners.values()].map(async (owner) => (await owner)?.close()))
    this.owners.clear()
    this.started.clear()
    if (this.consumer !== undefined) await closeQuickly(this.consumer)
  }

  private sum(of: (owner: PartitionOwner) => number): number {
    let total = 0
    for (const owner of this.started.values()) total += of(owner)
    return total
  }

  /**
   * Feeds each record to its partition's owner. When the stream fails (its fetches failed for
   * too long, or the member lost its group), the instance joins the group anew with a new
   * consumer; new owners recover from what is committed and read what they missed themselves.
   */
  private async run(first: Stream): Promise<void> {
    let stream = first
    for (;;) {
      try {
        for await (const first of stream as AsyncIterable<StringMessage>) {
          // Each partition's run in the stream's order (Map.groupBy keeps it).
          const run = this.takeRun(stream, first)
          for (const [partition, messages] of Map.groupBy(run, (message) => message.partition)) {
            const owner = await this.owners.get(partition)
            if (owner === undefined) continue
            // An owner that was still starting when its records were taken may have read them itself.
            const behind = messages.filter((m) => Number(m.offset) < owner.nextOffset).length
            if (behind > 0) {
              this.readTwice.inc(behind)
              this.fetchFrom(stream, owner)
            }
            await owner.accept(messages)
          }
        }
      } catch (error) {
        if (!this.closing)
          this.logger.warn({ err: error }, 'reading the events topic failed; joining the group anew')
      }
      if (this.closing) return
      await this.leave()
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
        if (this.closing) return
        try {
          stream = await this.join()
          break
        } catch (error) {
          this.logger.warn({ err: error }, 'cannot join the group yet')
        }
      }
    }
  }

  /**
   * The record the stream gave and what it already holds behind it (up to MAX_RUN), so that each
   * partition's run is decoded at once. A record its running owner has already read is dropped
   * and moves the stream on at once: taking more first would start the next fetch from behind,
   * again and again through a takeover's backlog. A record of a partition whose owner is not
   * running yet (still catching up) ends the run, for the same reason.
   */
  private takeRun(stream: Stream, first: StringMessage): StringMessage[] {
    const run: StringMessage[] = []
    for (let next: StringMessage | null = first; next !== null; next = stream.read()) {
      const owner = this.started.get(next.partition)
      if (owner !== undefined && Number(next.offset) < owner.nextOffset) {
        this.readTwice.inc()
        this.fetchFrom(stream, owner)
        continue
      }
      run.push(next)
      if (owner === undefined || run.length === MAX_RUN) break
    }
    return run
  }

  /**
   * Moves the stream's next fetch of the owner's partition on to where the owner has read it (a
   * takeover's catch-up reads from the checkpoint to the end with a reader of its own), so that
   * the stream does not fetch and decode those records again only for the owner to skip them.
   * Never past what the owner applied: a revocation resets the stream's offsets from the
   * committed ones, and a new owner catches up to the end itself, so a raise cannot skip a record.
   */
  private fetchFrom(stream: Stream, owner: PartitionOwner): void {
    raiseFetchOffset(stream, this.deps.topics.events, owner.partition, owner.nextOffset)
  }

  /** Drops this member and its partitions (their owners are fenced by the next ones anyway). */
  private async leave(): Promise<void> {
    const consumer = this.consumer
    this.consumer = undefined
    const owners = [...this.owners.values()]
    this.owners.clear()
    this.started.clear()
    for (const partition of this.assigned) this.health.released(partition)
    this.assigned = new Set()
    await Promise.all(owners.map(async (owner) => (await owner)?.abandon()))
    if (consumer !== undefined) await closeQuickly(consumer)
  }

  /** Follows the group's assignment: partitions taken away stop, new ones start. */
  private assign(): void {
    const { consumer } = this
    if (consumer === undefined) return
    const now = new Set(
      (consumer.assignments ?? [])
        .filter((a) => a.topic === this.deps.topics.events)
        .flatMap((a) => a.partitions),
    )
    for (const partition of this.assigned) {
      if (!now.has(partition)) {
        this.health.released(partition)
        void this.stop(partition)
      }
    }
    this.assigned = now
    for (const partition of now) {
      this.health.assigned(partition)
      if (!this.owners.has(partition)) this.startOwner(partition)
    }
    this.logger.info({ partitions: this.partitions }, 'partitions assigned to this instance')
  }

  private startOwner(partition: number): void {
    const owner = PartitionOwner.start({
      ...this.deps,
      consumer: this.consumer as Member,
      partition,
      onFailure: (failed, error) => this.restart(failed, error),
      onUpToDate: (partition, committed) => this.health.upToDate(partition, committed),
    }).then(
      (owner) => {
        this.started.set(partition, owner)
        return owner
      },
      (error: unknown) => {
        if (error instanceof BanditJoinError && error.code === 'BJ_ERR_CONFIG') {
          this.deps.onFatal(error)
          return undefined
        }
        this.health.failed(partition, error)
        this.logger.error({ err: error, partition }, 'could not take over the partition; trying again')
        this.deps.scheduler.setTimer(() => {
          if (this.owners.get(partition) === owner) this.retry(partition)
        }, RETRY_MS)
        return undefined
      },
    )
    this.owners.set(partition, owner)
  }

  private retry(partition: number): void {
    this.owners.delete(partition)
    if (this.assigned.has(partition) && !this.closing) this.startOwner(partition)
  }

  /** A partition taken away: its owner is fenced by the new one anyway, so it stops without committing. */
  private async stop(partition: number): Promise<void> {
    const owner = this.owners.get(partition)
    this.owners.delete(partition)
    this.started.delete(partition)
    await (await owner)?.abandon()
  }

  /** A commit failed: what the owner holds is ahead of what is committed, so a fresh owner recovers. */
  private restart(failed: PartitionOwner, error: unknown): void {
    const { partition } = failed
    if (this.started.get(partition) !== failed) return
    this.health.failed(partition, error)
    this.logger.warn({ err: error, partition }, 'commit failed; the partition recovers from its checkpoint')
    this.started.delete(partition)
    this.owners.delete(partition)
    // Not at once: if this member lost the partition and does not know it yet, an immediate
    // restart would fence the new owner in turn.
    void failed.abandon().then(() =>
      this.deps.scheduler.setTimer(() => {
        if (this.assigned.has(partition) && !this.closing && !this.owners.has(partition))
          this.startOwner(partition)
      }, RETRY_MS / 5),
    )
  }
}

/** Closes a consumer without waiting on a coordinator that may be gone. */
async function closeQuickly(consumer: Member): Promise<void> {
  await Promise.race([
    (consumer.close(true) as unknown as Promise<void>).catch(() => {}),
    new Promise((resolve) => setTimeout(resolve, 2000).unref()),
  ])
}
