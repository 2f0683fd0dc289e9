import type { Producer } from '@platformatic/kafka'
import { BanditJoinError, overloaded } from '../errors.js'
import type { Admission, Ingestor } from '../ingest/ingestor.js'
import { eventLine, type IncomingEvent } from '../ingest/validate.js'
import type { Metrics } from '../metrics.js'

interface Waiting {
  events: readonly IncomingEvent[]
  resolve(): void
  reject(error: unknown): void
}

/**
 * Ingest of the Kafka mode (SPEC §5): events go to the events topic, keyed by decision key so
 * that every event of a decision lands in its partition; a request is answered once the brokers
 * acknowledged it (idempotent producer, acks=all). Requests arriving together share one produce
 * request, as the embedded log's requests share one commit. Duplicates and conflicts are the
 * partition owner's to judge, so admission only refuses when stopping or when too much is in flight.
 */
export class KafkaIngestor implements Ingestor {
  private batch: Waiting[] = []
  private batchEvents = 0
  private inFlightEvents = 0
  private scheduled: NodeJS.Immediate | undefined
  private readonly sends = new Set<Promise<void>>()
  private accepting = true

  constructor(
    private readonly producer: Producer<string, string, string, string>,
    private readonly topic: string,
    /** Events sent but not yet acknowledged beyond which ingest answers 503 (the producer's buffer). */
    private readonly maxInFlightEvents: number,
    private readonly metrics: Metrics,
  ) {}

  admit(events: readonly IncomingEvent[]): Admission[] {
    let refusal: BanditJoinError | undefined
    if (!this.accepting) {
      refusal = new BanditJoinError('BJ_ERR_UNAVAILABLE', 'the service is shutting down', 503, {
        retryAfterSeconds: 5,
      })
    } else if (this.inFlightEvents + events.length > this.maxInFlightEvents) {
      refusal = overloaded(
        `the Kafka brokers are behind (${this.inFlightEvents} events not yet acknowledged)`,
      )
    }
    return events.map((event) =>
      refusal === undefined ? { kind: 'accept', event } : { kind: 'refuse', error: refusal },
    )
  }

  append(events: readonly IncomingEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve()
    this.inFlightEvents += events.length
    this.batchEvents += events.length
    const done = new Promise<void>((resolve, reject) => this.batch.push({ events, resolve, reject }))
    this.scheduled ??= setImmediate(() => this.send())
    return done
  }

  /** Refuses new events (503) and waits until every event already taken is acknowledged or refused. */
  async close(): Promise<void> {
    this.accepting = false
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled)
      this.send()
    }
    await Promise.allSettled([...this.sends])
  }

  private send(): void {
    this.scheduled = undefined
    const waiting = this.batch
    const count = this.batchEvents
    this.batch = []
    this.batchEvents = 0
    const messages = waiting.flatMap(({ events }) =>
      events.map((event) => ({ topic: this.topic, key: event.key, value: eventLine(event) })),
    )
    const sent = this.producer
      .send({ messages })
      .then(
        () => {
          for (const { events, resolve } of waiting) {
            for (const event of events) this.metrics.eventsAccepted.inc({ type: event.type })
            resolve()
          }
        },
        (error: unknown) => {
          const refusal = new BanditJoinError(
            'BJ_ERR_UNAVAILABLE',
            `the Kafka brokers did not acknowledge the events: ${(error as Error).message}`,
            503,
            { cause: error, retryAfterSeconds: 1 },
          )
          for (const { reject } of waiting) reject(refusal)
        },
      )
      .finally(() => {
        this.inFlightEvents -= count
        this.sends.delete(sent)
      })
    this.sends.add(sent)
  }
}
