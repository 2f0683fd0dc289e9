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

interface Waiting {
  messages: Message[]
  resolve(): void
  reject(error: unknown): void
}

/**
 * Ingest of the Kafka mode (SPEC §5): events go to the events topic, keyed by decision key so
 * that every event of a decision lands in its partition; a request is answered once the brokers
 * acknowledged it (idempotent producer, acks=all). One produce request is in flight at a time
 * (the idempotent producer of @platformatic/kafka 1.x loses its sequence numbers' order with
 * several: OUT_OF_ORDER_SEQUENCE_NUMBER), and what arrives meanwhile goes together in the next,
 * as the embedded log's requests share one commit. Duplicates and conflicts are the partition
 * owner's to judge, so admission only refuses when stopping or when too much waits.
 */
export class KafkaIngestor implements Ingestor {
  /** Each event goes on as its line; the partition's owner decodes it again and judges it (SPEC §5). */
  readonly needsFingerprints = false
  private queue: Waiting[] = []
  private queuedEvents = 0
  private inFlightEvents = 0
  private sending: Promise<void> | undefined
  private accepting = true

  constructor(
    private readonly producer: Producer<string, string, string, string>,
    private readonly topic: string,
    /** The events topic's partition count. */
    private readonly partitions: number,
    /** Events taken but not yet acknowledged beyond which ingest answers 503 (the producer's buffer). */
    private readonly maxWaitingEvents: number,
    private readonly metrics: Metrics,
  ) {}

  admit(events: readonly IncomingEvent[]): Admission[] {
    let refusal: BanditJoinError | undefined
    const waiting = this.queuedEvents + this.inFlightEvents
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
    this.queuedEvents += events.length
    await this.produce(
      events.map((event) => ({
        topic: this.topic,
        partition: partitionOf(event.key, this.partitions),
        key: event.key,
        value: eventLine(event),
      })),
    )
    for (const event of events) this.metrics.eventsAccepted.inc({ type: event.type })
  }

  /** A tick: a record with no key and no value that carries a quiet partition's time (partition-owner.ts). */
  tick(partition: number): Promise<void> {
    return this.produce([{ topic: this.topic, partition }])
  }

  /** Refuses new events (503) and waits until every event already taken is acknowledged or refused. */
  async close(): Promise<void> {
    this.accepting = false
    while (this.sending !== undefined) await this.sending
  }

  private produce(messages: Message[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.queue.push({ messages, resolve, reject }))
    this.sending ??= this.sendQueued()
    return done
  }

  private async sendQueued(): Promise<void> {
    // After the requests of this turn of the event loop, so that they share the produce request.
    await new Promise((resolve) => setImmediate(resolve))
    while (this.queue.length > 0) {
      const waiting = this.queue
      this.queue = []
      const events = this.queuedEvents
      this.queuedEvents = 0
      this.inFlightEvents = events
      // Once a send has started its records may be written without the answer reaching us: the
      // client must be told the outcome is unknown (a retry is safe), not that nothing was logged.
      const refuse = (reason: string, cause?: unknown) => {
        const refusal = new BanditJoinError(
          'BJ_ERR_OUTCOME_UNKNOWN',
          `the Kafka brokers did not acknowledge the events (they may still be logged; send them again): ${reason}`,
          503,
          { cause, retryAfterSeconds: 1 },
        )
        for (const { reject } of waiting) reject(refusal)
      }
      const overdue = setTimeout(() => refuse(`no answer within ${ACK_TIMEOUT_MS} ms`), ACK_TIMEOUT_MS)
      try {
        // Each request is sent once: the library's own retries keep the producer id and sequence
        // numbers, so the broker drops a batch it already has. Sending a failed request again would
        // not: after a failed send the library takes a new producer id, and a batch that was written
        // but not acknowledged would be logged twice. A large batch goes in several requests (so a
        // 503 may leave part of it logged: see docs/kafka.md).
        for (const chunk of chunksByBytes(waiting.flatMap((w) => w.messages))) {
          await this.producer.send({ messages: chunk })
        }
        for (const { resolve } of waiting) resolve()
      } catch (error) {
        refuse((error as Error).message, error)
      } finally {
        clearTimeout(overdue)
      }
      this.inFlightEvents = 0
    }
    this.sending = undefined
  }
}
