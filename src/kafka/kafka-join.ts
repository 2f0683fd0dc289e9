import type { MessagesStream } from '@platformatic/kafka'
import type { Logger } from 'pino'
import { BanditJoinError } from '../errors.js'
import { type OwnerDeps, PartitionOwner, type StringMessage } from './partition-owner.js'

/** After a partition could not be started (brokers unreachable, say), it is tried again after this. */
const RETRY_MS = 1000

export type JoinDeps = Omit<OwnerDeps, 'partition' | 'onFailure'> & {
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
  private stream: MessagesStream<string, string, string, string> | undefined
  private assigned = new Set<number>()
  private running: Promise<void> | undefined
  private closing = false
  private readonly logger: Logger

  constructor(private readonly deps: JoinDeps) {
    this.logger = deps.logger
  }

  /** Joins the group and starts joining the partitions it assigns; resolves once the first assignment is known. */
  async start(): Promise<void> {
    this.deps.consumer.on('consumer:group:join', () => this.assign())
    const stream = await this.consume()
    this.assign()
    this.running = this.run(stream)
  }

  private async consume(): Promise<MessagesStream<string, string, string, string>> {
    this.stream = await this.deps.consumer.consume({
      topics: [this.deps.topics.events],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    })
    return this.stream
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
    await this.stream?.close().catch(() => {})
    await this.running
    const owners = await Promise.all(this.owners.values())
    await Promise.all(owners.map((owner) => owner?.close()))
    this.owners.clear()
    await this.deps.consumer.close().catch(() => {})
  }

  private sum(of: (owner: PartitionOwner) => number): number {
    let total = 0
    for (const owner of this.started.values()) total += of(owner)
    return total
  }

  /**
   * Feeds each record to its partition's owner. A stream that fails (its retries exhausted, as
   * while a dead broker's partitions wait for a new leader) is opened again: the owners skip what
   * they have and read what they missed themselves.
   */
  private async run(first: MessagesStream<string, string, string, string>): Promise<void> {
    let stream = first
    for (;;) {
      try {
        for await (const message of stream as AsyncIterable<StringMessage>) {
          const owner = await this.owners.get(message.partition)
          await owner?.accept(message)
        }
        if (this.closing) return
      } catch (error) {
        if (this.closing) return
        this.logger.warn({ err: error }, 'reading the events topic failed; reading again')
      }
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
        if (this.closing) return
        try {
          this.deps.consumer.clearMetadata()
          stream = await this.consume()
          break
        } catch (error) {
          this.logger.warn({ err: error }, 'cannot read the events topic yet')
        }
      }
    }
  }

  /** Follows the group's assignment: partitions taken away stop, new ones start. */
  private assign(): void {
    const { topics, consumer } = this.deps
    const now = new Set(
      (consumer.assignments ?? []).filter((a) => a.topic === topics.events).flatMap((a) => a.partitions),
    )
    for (const partition of this.assigned) {
      if (!now.has(partition)) void this.stop(partition)
    }
    this.assigned = now
    for (const partition of now) {
      if (!this.owners.has(partition)) this.startOwner(partition)
    }
    this.logger.info({ partitions: this.partitions }, 'partitions assigned to this instance')
  }

  private startOwner(partition: number): void {
    const owner = PartitionOwner.start({
      ...this.deps,
      partition,
      onFailure: (failed, error) => this.restart(failed, error),
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
        this.logger.error({ err: error, partition }, 'could not take over the partition; trying again')
        setTimeout(() => {
          if (this.owners.get(partition) === owner) this.retry(partition)
        }, RETRY_MS).unref()
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
    this.logger.warn({ err: error, partition }, 'commit failed; the partition recovers from its checkpoint')
    this.started.delete(partition)
    this.owners.delete(partition)
    // Not at once: if this member lost the partition and does not know it yet, an immediate
    // restart would fence the new owner in turn.
    void failed.abandon().then(() =>
      setTimeout(() => {
        if (this.assigned.has(partition) && !this.closing && !this.owners.has(partition))
          this.startOwner(partition)
      }, RETRY_MS / 5).unref(),
    )
  }
}
