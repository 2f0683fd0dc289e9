import type { Producer } from '@platformatic/kafka'
import { BanditJoinError, overloaded } from '../errors.js'
import type { Admission, Ingestor } from '../ingest/ingestor.js'
import { eventLine, type IncomingEvent } from '../ingest/validate.js'
import type { Metrics } from '../metrics.js'
import { chunksByBytes } from './chunks.js'
import { murmur2OfString } from './murmur2.js'

interface Message {
  topic: string
  partition: number
  key?: string
  value?: string
}

/**
 * How long a request waits for the brokers' acknowledgement (a leader election or a broker restart
 * included) before it is answered 503. The send itself goes on: its events may still be logged,
 * as with any 503 whose outcome the client cannot know, and a retry within H is an identical
 * duplicate that the partition owner drops.
 */
export const ACK_TIMEOUT_MS = 10_000

/**
 * The partition of a decision key as Java's default partitioner computes it (murmur2, sign bit
 * dropped), so that a user's own producers and this one agree on a source topic. (The library's
 * default partitioner differs wherever the hash is negative.)
 */
export function partitionOf(key: string, partitions: number): number {
  return (murmur2OfString(key) & 0x7fffffff) % partitions
}

type StringProducer = Producer<string, string, string, string>

/**
 * Ingest of the Kafka mode (SPEC §5): events go to the events topic, keyed by decision key so
 * that every event of a decision lands in its partition; a request is answered once the brokers
 * acknowledged it (idempotent producers, acks=all). Duplicates and conflicts are the partition
 * owner's to judge, so admission only refuses when stopping or when too much waits.
 *
 * Several produce requests are in flight, each partition's in order: one idempotent producer per
 * lane, lane i owning the partitions p with p mod lanes = i, and each lane one request at a time.
 * (One producer cannot: @platformatic/kafka keeps an idempotent producer to one request in flight,
 * and one with several writes a partition out of order after a lost request, client problem 11 in
 * docs/kafka.md; test/kafka/produce-in-flight.test.ts shows both.)
 */
export class KafkaIngestor implements Ingestor {
  /** Each event goes on as its line; the partition's owner decodes it again and judges it (SPEC §5). */
  readonly needsFingerprints = false
  private readonly lanes: ProduceLane[]
  /** Each partition's tick not yet acknowledged: an owner asks again every 100 ms until one is. */
  private readonly ticks = new Map<number, Promise<void>>()
  private accepting = true

  constructor(
    /** One per lane; each must be idempotent (one request in flight, the brokers keep its sequence). */
    producers: readonly StringProducer[],
    private readonly topic: string,
    /** The events topic's partition count. */
    private readonly partitions: number,
    /** Events taken but not yet acknowledged beyond which ingest answers 503 (the producers' buffer). */
    private readonly maxWaitingEvents: number,
    private readonly metrics: Metrics,
  ) {
    if (producers.length === 0) throw new Error('Kafka ingest needs at least one producer')
    this.lanes = producers.map((producer) => new ProduceLane(producer))
  }

  admit(events: readonly IncomingEvent[]): Admission[] {
    let refusal: BanditJoinError | undefined
    // Until a send ends, answered or not: one past its deadline still holds its events.
    const waiting = this.lanes.reduce((sum, lane) => sum + lane.waitingEvents, 0)
    if (!this.accepting) {
      refusal = new BanditJoinError('BJ_ERR_UNAVAILABLE', 'the service is shutting down', 503, {
        retryAfterSeconds: 5,
      })
    } else if (waiting + events.length > this.maxWaitingEvents) {
      refusal = overloaded(`the Kafka brokers are behind (${waiting} events not yet acknowledged)`)
    }
    return events.map((event) =>
      refusal === undefined ? { kind: 'accept', event } : { kind: 'refuse', error: refusal },
    )
  }

  async append(events: readonly IncomingEvent[]): Promise<void> {
    if (events.length === 0) return
    const byLane = this.lanes.map((): Message[] => [])
    for (const event of events) {
      const partition = partitionOf(event.key, this.partitions)
      ;(byLane[partition % this.lanes.length] as Message[]).push({
        topic: this.topic,
        partition,
        key: event.key,
        value: eventLine(event),
      })
    }
    await acknowledgedInTime(
      byLane.flatMap((messages, lane) =>
        messages.length > 0 ? [(this.lanes[lane] as ProduceLane).produce(messages)] : [],
      ),
    )
    for (const event of events) this.metrics.eventsAccepted.inc({ type: event.type })
  }

  /**
   * A tick: a record with no key and no value that carries a quiet partition's time
   * (partition-owner.ts). One waits at a time per partition, so that a stalled send does not
   * gather ten a second behind it.
   */
  tick(partition: number): Promise<void> {
    let waiting = this.ticks.get(partition)
    if (waiting === undefined) {
      const lane = this.lanes[partition % this.lanes.length] as ProduceLane
      waiting = acknowledgedInTime([lane.produce([{ topic: this.topic, partition }])]).finally(() =>
        this.ticks.delete(partition),
      )
      this.ticks.set(partition, waiting)
    }
    return waiting
  }

  /** Refuses new events (503) and waits until every event already taken is acknowledged or refused. */
  async close(): Promise<void> {
    this.accepting = false
    await Promise.all(this.lanes.map((lane) => lane.idle()))
  }
}

/**
 * Resolves once every send is acknowledged; rejects once one failed and the others settled, or
 * after ACK_TIMEOUT_MS (a request queued behind a stalled send included). Once a send has started
 * its records may be written without the answer reaching us: the client is told the outcome is
 * unknown (a retry is safe), not that nothing was logged.
 */
async function acknowledgedInTime(sends: Promise<void>[]): Promise<void> {
  let overdue: NodeJS.Timeout | undefined
  const deadline = new Promise<'overdue'>((resolve) => {
    overdue = setTimeout(() => resolve('overdue'), ACK_TIMEOUT_MS)
  })
  // The first failure, told even if another send is still unanswered at the deadline.
  let failure: { cause: unknown } | undefined
  const settled = Promise.allSettled(
    sends.map((send) =>
      send.catch((cause: unknown) => {
        failure ??= { cause }
        throw cause
      }),
    ),
  )
  try {
    const outcome = await Promise.race([settled, deadline])
    if (outcome === 'overdue' || failure !== undefined) {
      const cause = failure?.cause
      const reason =
        failure === undefined
          ? `no answer within ${ACK_TIMEOUT_MS} ms`
          : cause instanceof Error
            ? cause.message
            : String(cause)
      throw new BanditJoinError(
        'BJ_ERR_OUTCOME_UNKNOWN',
        `the Kafka brokers did not acknowledge the events (they may still be logged; send them again): ${reason}`,
        503,
        { cause, retryAfterSeconds: 1 },
      )
    }
  } finally {
    clearTimeout(overdue)
  }
}

interface Waiting {
  messages: Message[]
  resolve(): void
  reject(error: unknown): void
}

/**
 * One producer and what waits for it: one produce request in flight at a time, and what arrives
 * meanwhile goes together in the next, as the embedded log's requests share one commit.
 */
class ProduceLane {
  private queue: Waiting[] = []
  private queuedEvents = 0
  private sendingEvents = 0
  private sending: Promise<void> | undefined

  constructor(private readonly producer: StringProducer) {}

  /** Events (ticks not counted) taken and not yet acknowledged or failed. */
  get waitingEvents(): number {
    return this.queuedEvents + this.sendingEvents
  }

  produce(messages: Message[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.queue.push({ messages, resolve, reject }))
    this.queuedEvents += eventsIn(messages)
    this.sending ??= this.sendQueued()
    return done
  }

  async idle(): Promise<void> {
    while (this.sending !== undefined) await this.sending
  }

  private async sendQueued(): Promise<void> {
    try {
      // After the requests of this turn of the event loop, so that they share the produce request.
      await new Promise((resolve) => setImmediate(resolve))
      while (this.queue.length > 0) {
        const waiting = this.queue
        this.queue = []
        const messages = waiting.flatMap((w) => w.messages)
        this.sendingEvents = this.queuedEvents
        this.queuedEvents = 0
        try {
          // Each request is sent once: the library's own retries keep the producer id and sequence
          // numbers, so the broker drops a batch it already has. Sending a failed request again would
          // not: after a failed send the library takes a new producer id, and a batch that was written
          // but not acknowledged would be logged twice. A large batch goes in several requests, and a
          // batch over several producers' partitions in one request each (so a 503 may leave part
          // of it logged: see docs/kafka.md).
          for (const chunk of chunksByBytes(messages)) await this.producer.send({ messages: chunk })
          for (const { resolve } of waiting) resolve()
        } catch (error) {
          for (const { reject } of waiting) reject(error)
        } finally {
          this.sendingEvents = 0
        }
      }
    } finally {
      this.sending = undefined
    }
  }
}

/** Events among messages: a tick has no key. */
function eventsIn(messages: readonly Message[]): number {
  let events = 0
  for (const message of messages) if (message.key !== undefined) events++
  return events
}
