import { Admin, ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka'
import { partitionOf } from '../../src/kafka/ingest.js'
import { sleep } from '../../test/kit/wait.js'
import { engineMix, mixLine } from './engine-mix.js'

/**
 * Keys and values per partition in one fill request: a quarter of a broker's default 1 MiB batch
 * limit, room enough for the records' framing and for partitions that get more than their share.
 */
const FILL_BATCH_BYTES = 256 * 1024

export interface FilledTopic {
  topic: string
  partitions: number
  events: number
  decisions: number
  rewards: number
  seconds: number
}

interface Message {
  topic: string
  partition: number
  key?: string
  value?: string
}

/**
 * Creates `topic` (LogAppendTime, as the Kafka mode's events topic) and fills it with the engine
 * mix as a user's producers would write a KAFKA_SOURCE_TOPIC: one JSON line of POST /events per
 * record, keyed by decision key, partitioned as Java's default partitioner does; one idempotent
 * producer with one request in flight, so each partition (and so each key) keeps its order.
 * Then, E + 1 ms after the last event, a tick (no key, no value, as banditjoin's own) into each
 * partition: the log's time passes every due time, so any join of the topic can release every
 * decision from the log alone, without writing ticks of its own.
 */
export async function fillEventsTopic(
  bootstrap: string,
  topic: string,
  partitions: number,
  decisions: number,
  expUnitMs: number,
): Promise<FilledTopic> {
  const bootstrapBrokers = bootstrap.split(',')
  const admin = new Admin({ clientId: 'bench-fill-admin', bootstrapBrokers })
  try {
    await admin.createTopics({
      topics: [topic],
      partitions,
      replicas: 1,
      configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
    })
  } finally {
    await admin.close()
  }
  const producer = new Producer({
    clientId: 'bench-fill',
    bootstrapBrokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  })
  const started = performance.now()
  let events = 0
  let rewards = 0
  try {
    // Up to FILL_BATCH_BYTES per partition buffered, then one request with every partition's batch.
    const buffered: Message[][] = Array.from({ length: partitions }, () => [])
    let bufferedBytes = 0
    const flush = async () => {
      const messages = buffered.flatMap((list) => list.splice(0))
      bufferedBytes = 0
      if (messages.length > 0) await producer.send({ messages })
    }
    for (const event of engineMix(decisions, `fill${process.pid.toString(36)}`)) {
      const value = mixLine(event)
      const partition = partitionOf(event.key, partitions)
      ;(buffered[partition] as Message[]).push({ topic, partition, key: event.key, value })
      bufferedBytes += value.length + event.key.length
      events++
      if (event.type === 'reward') rewards++
      if (bufferedBytes >= FILL_BATCH_BYTES * partitions) await flush()
    }
    await flush()
    await sleep(expUnitMs + 1)
    await producer.send({
      messages: Array.from({ length: partitions }, (_, partition) => ({ topic, partition })),
    })
  } finally {
    await producer.close()
  }
  return {
    topic,
    partitions,
    events,
    decisions: events - rewards,
    rewards,
    seconds: (performance.now() - started) / 1000,
  }
}
