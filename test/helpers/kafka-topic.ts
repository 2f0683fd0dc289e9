import { type MessagesStream, stringDeserializers } from '@platformatic/kafka'
import { FixedConsumer } from '../../src/kafka/client-fixes.js'

/** Reads a topic from its start as a learner would (read_committed), keeping every value it sees. */
export class TopicReader {
  readonly values: string[] = []
  /** The partition each value came from, in the same order. */
  readonly partitions: number[] = []
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
    const stream = await this.consumer.consume({ topics: [this.topic], mode: 'earliest', autocommit: false })
    this.stream = stream
    stream.on('data', (message: { value: string; partition: number }) => {
      this.values.push(message.value)
      this.partitions.push(message.partition)
    })
    stream.on('error', () => {
      if (this.stream !== stream) return
      this.consumer.clearMetadata()
      setTimeout(() => void this.start().catch(() => stream.emit('error')), 500)
    })
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
