import { type MessagesStream, stringDeserializers } from '@platformatic/kafka'
import { FixedConsumer } from '../../src/kafka/client-fixes.js'

/** Reads a topic from its start as a learner would (read_committed), keeping every value it sees. */
export class TopicReader {
  readonly values: string[] = []
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
    })
  }

  async start(): Promise<void> {
    this.stream = await this.consumer.consume({ topics: [this.topic], mode: 'earliest', autocommit: false })
    this.stream.on('data', (message: { value: string }) => this.values.push(message.value))
  }

  lines(): Record<string, unknown>[] {
    return this.values.map((v) => JSON.parse(v) as Record<string, unknown>)
  }

  async close(): Promise<void> {
    await this.stream?.close().catch(() => {})
    await this.consumer.close(true)
  }
}
