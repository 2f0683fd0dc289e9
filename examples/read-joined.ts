/**
 * Reads banditjoin's joined records from Kafka as a learner must, read_committed, and prints each
 * as a JSON line. Runs until Ctrl-C.
 *
 *   node dist/examples/read-joined.js [--brokers 127.0.0.1:9092] [--topic banditjoin.joined] [--group G]
 *
 * With --group: resumes where that consumer group left off and commits as it goes (a learner);
 * without: reads the topic from its start and commits nothing.
 */
import { parseArgs } from 'node:util'
import { FetchIsolationLevels, FixedConsumer, stringDeserializers } from 'banditjoin/kafka'

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    topic: { type: 'string', default: 'banditjoin.joined' },
    group: { type: 'string' },
  },
})
// FixedConsumer, not @platformatic/kafka's Consumer: that one lets some aborted records through.
const learner = new FixedConsumer({
  clientId: 'learner',
  groupId: values.group ?? `read-joined-${process.pid}-${Date.now()}`,
  bootstrapBrokers: values.brokers.split(','),
  deserializers: stringDeserializers,
  isolationLevel: FetchIsolationLevels.READ_COMMITTED,
})
const stream = await learner.consume({
  topics: [values.topic],
  mode: values.group === undefined ? 'earliest' : 'committed',
  fallbackMode: 'earliest',
  autocommit: values.group !== undefined,
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void learner.close(true))
// The stream can deliver records twice around a broker's death (docs/kafka.md): each offset once.
const nextOffset = new Map<number, bigint>()
for await (const message of stream) {
  if (message.offset < (nextOffset.get(message.partition) ?? 0n)) continue
  nextOffset.set(message.partition, message.offset + 1n)
  const record = JSON.parse(message.value) // a learner trains on it here
  process.stdout.write(`${JSON.stringify(record)}\n`)
}
