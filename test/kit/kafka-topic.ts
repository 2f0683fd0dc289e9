import { writeFileSync } from 'node:fs'
import { type MessagesStream, stringDeserializers } from '@platformatic/kafka'
import { FixedConsumer } from '../../src/kafka/client-fixes.js'

/**
 * Reads a topic from its start as a learner would (read_committed), keeping every value it sees.
 * A record at an offset below the next one expected for its partition is skipped: the client's
 * stream delivers some records twice around a broker's death (a fetch of the same offsets in
 * flight to two brokers; see docs/kafka.md), and a learner must track offsets to see each once.
 */
export class TopicReader {
  readonly values: string[] = []
  /** Records the client delivered again at offsets already read (skipped). */
  redelivered = 0
  private readonly nextOffset = new Map<number, number>()
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
    this.nextOffset.clear()
    const stream = await this.consumer.consume({ topics: [this.topic], mode: 'earliest', autocommit: false })
    this.stream = stream
    stream.on('data', (message: { value: string; partition: number; offset: bigint }) => {
      const offset = Number(message.offset)
      if (offset < (this.nextOffset.get(message.partition) ?? 0)) {
        this.redelivered++
        return
      }
      this.nextOffset.set(message.partition, offset + 1)
      this.values.push(message.value)
      this.partitions.push(message.partition)
      this.offsets.push(offset)
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
