import { writeFileSync } from 'node:fs'
import {
  Admin,
  type MessagesStream,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka'
import { FixedConsumer } from '../../src/kafka/client-fixes.js'

/**
 * Each record once: the client's stream delivers some records twice around a broker's death (a
 * fetch of the same offsets in flight to two brokers; see docs/kafka.md), so a reader keeps the
 * next offset it expects per partition and skips what comes below it.
 */
export class OffsetsOnce {
  private readonly next = new Map<number, bigint>()
  /** Whether this record is new (and, if so, it is now seen). */
  first(partition: number, offset: bigint): boolean {
    if (offset < (this.next.get(partition) ?? 0n)) return false
    this.next.set(partition, offset + 1n)
    return true
  }
}

/**
 * Reads a topic from its start as a learner would (read_committed), keeping every value it sees.
 * A record delivered again is skipped (OffsetsOnce).
 */
export class TopicReader {
  readonly values: string[] = []
  /** Records the client delivered again at offsets already read (skipped). */
  redelivered = 0
  private once = new OffsetsOnce()
  /** The partition each value came from, in the same order. */
  readonly partitions: number[] = []
  /** The offset of each value in its partition, in the same order. */
  readonly offsets: number[] = []
  private readonly consumer: FixedConsumer<string, string, string, string>
  private stream: MessagesStream<string, string, string, string> | undefined

  constructor(
    bootstrap: string,
    private readonly topic: string,
  ) {
    const groupId = `reader-${topic}-${process.pid}-${Date.now()}`
    this.consumer = new FixedConsumer({
      clientId: groupId,
      groupId,
      bootstrapBrokers: bootstrap.split(','),
      deserializers: stringDeserializers,
      maxWaitTime: 100,
      retries: 30,
      retryDelay: 500,
      metadataMaxAge: 1000,
    })
  }

  /** Reads from the start; a stream that fails (a broker died) is read again from the start. */
  async start(): Promise<void> {
    this.values.length = 0
    this.partitions.length = 0
    this.offsets.length = 0
    this.once = new OffsetsOnce()
    const stream = await this.consumer.consume({ topics: [this.topic], mode: 'earliest', autocommit: false })
    this.stream = stream
    stream.on('data', (message: { value: string; partition: number; offset: bigint }) => {
      if (!this.once.first(message.partition, message.offset)) {
        this.redelivered++
        return
      }
      this.values.push(message.value)
      this.partitions.push(message.partition)
      this.offsets.push(Number(message.offset))
    })
    stream.on('error', () => {
      if (this.stream !== stream) return
      this.consumer.clearMetadata()
      setTimeout(() => void this.start().catch(() => stream.emit('error')), 500)
    })
  }

  /** Writes what was read to `path`, a JSON line each with its partition and offset (to look at a failure). */
  writeTo(path: string): void {
    const lines = this.values.map(
      (v, i) =>
        `{"partition":${this.partitions[i]},"offset":${this.offsets[i]},"value":${JSON.stringify(v)}}\n`,
    )
    writeFileSync(path, lines.join(''))
  }

  lines(): Record<string, unknown>[] {
    return this.values.map((v) => JSON.parse(v) as Record<string, unknown>)
  }

  /** Stops reading (without waiting long on a coordinator that may have died with its broker). */
  async close(): Promise<void> {
    const stream = this.stream
    this.stream = undefined
    await Promise.race([
      (async () => {
        await stream?.close().catch(() => {})
        await (this.consumer.close(true) as unknown as Promise<void>).catch(() => {})
      })(),
      new Promise((resolve) => setTimeout(resolve, 3000).unref()),
    ])
  }
}

/**
 * A user's own events topic (KAFKA_SOURCE_TOPIC: broker time, LogAppendTime), created here, and
 * an idempotent producer of the user's into it (to close when done).
 */
export async function createSourceTopic(
  bootstrap: string,
  topic: string,
  partitions: number,
): Promise<Producer<string, string, string, string>> {
  const bootstrapBrokers = bootstrap.split(',')
  const admin = new Admin({ clientId: 'user-admin', bootstrapBrokers })
  await admin.createTopics({
    topics: [topic],
    partitions,
    replicas: 1,
    configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
  })
  await admin.close()
  return new Producer({
    clientId: 'user-app',
    bootstrapBrokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  })
}
