import { Admin, ProduceAcks, stringDeserializers, stringSerializers } from '@platformatic/kafka'
import { RealScheduler } from '../clock.js'
import { ingestLimits } from '../config.js'
import { startLineParser } from '../ingest/line-parser-pool.js'
import { eventFromLine } from '../ingest/validate.js'
import type { Backend, BackendContext } from '../join/backend.js'
import { recordFormatter } from '../output/formats.js'
import { FixedConsumer, installClientFixes } from './client-fixes.js'
import { connectToBrokers } from './connect.js'
import { KafkaIngestor } from './ingest.js'
import { KafkaJoin } from './kafka-join.js'
import { OneBufferProducer } from './produce-request.js'
import { RecordDecoder } from './record-decoder.js'
import { securityOptions } from './security.js'
import { ensureTopics, topicsOf } from './topics.js'

/**
 * A broker that dies takes its partitions' leadership along until the controller notices (about
 * broker.session.timeout.ms, 9 s by default): retry for longer than that, with metadata fresh
 * enough that a retry finds the new leader.
 */
const RESILIENCE = { retries: 30, retryDelay: 500, metadataMaxAge: 1000 }

/** The most the group's stream fetches from one partition in one request. */
const STREAM_PARTITION_FETCH_BYTES = 1 << 20

/**
 * The distributed mode's backend (SPEC §5): ingest produces to the events topic, and this
 * instance's share of the partitions is joined into the output topics.
 */
export async function openKafkaBackend(context: BackendContext): Promise<Backend> {
  const { config, settings, metrics, logger } = context
  const kafka = config.kafka
  if (kafka === undefined) throw new Error('the Kafka backend needs KAFKA_BROKERS')
  const topics = topicsOf(kafka)
  const security = securityOptions(kafka)
  const client = (role: string) => ({
    clientId: `banditjoin-${role}-${process.pid}`,
    bootstrapBrokers: kafka.brokers,
    ...RESILIENCE,
    ...security,
  })
  installClientFixes()
  await connectToBrokers(client('start'), kafka.connectTimeoutMs, logger)
  metrics.configure(settings)
  metrics.health.useKafka()
  const admin = new Admin(client('admin'))
  const createConsumer = () =>
    new FixedConsumer<string, string, string, string>({
      ...client('join'),
      groupId: kafka.groupId,
      deserializers: stringDeserializers,
      sessionTimeout: kafka.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(kafka.sessionTimeoutMs / 10)),
      maxWaitTime: 100,
      // Java's max.partition.fetch.bytes. The client's default is its whole 50 MB fetch: a new
      // owner's partitions would come in one decoded response that its catch-up has already read.
      maxBytesPerPartition: STREAM_PARTITION_FETCH_BYTES,
    })
  // Never joins a group: reads partitions by offset for recovery.
  const reader = new FixedConsumer({
    ...client('reader'),
    groupId: `${kafka.groupId}.reader`,
    maxWaitTime: 100,
  })
  const clients: { close(): Promise<void> }[] = [reader, admin]
  try {
    await ensureTopics(admin, kafka, topics)
    const partitions = (await admin.metadata({ topics: [topics.events] })).topics.get(topics.events)
      ?.partitionsCount as number
    // A producer beyond the partition count would own no partition.
    const producers = Array.from({ length: Math.min(kafka.ingestProducers, partitions) }, (_, lane) => {
      const producer = new OneBufferProducer({
        ...client(`ingest-${lane}`),
        serializers: stringSerializers,
        idempotent: true,
        acks: ProduceAcks.ALL,
      })
      clients.push(producer)
      return producer
    })
    const ingestor = new KafkaIngestor(
      producers,
      topics.events,
      partitions,
      Math.max(100_000, config.maxBatchEvents * 4),
      metrics,
    )
    // Sizes were checked at ingest; a user's own topic is bounded by its brokers' message size.
    const decodeSettings = {
      ...config,
      maxContextBytes: Number.POSITIVE_INFINITY,
      maxFieldBytes: Number.POSITIVE_INFINITY,
      maxBatchEvents: Number.POSITIVE_INFINITY,
      // The owner judges duplicates and conflicts by them (SPEC §5); ingest computes none.
      fingerprints: true,
    }
    const decodeLimits = ingestLimits(decodeSettings)
    const decode = (value: string) => eventFromLine(value, decodeLimits)
    const decodePool = startLineParser(decodeSettings, { logger })
    clients.push(decodePool)
    const join = new KafkaJoin({
      topics,
      settings,
      clientOptions: client('owner'),
      createConsumer,
      sessionTimeoutMs: kafka.sessionTimeoutMs,
      reader,
      admin,
      tick: (partition) => ingestor.tick(partition),
      decode,
      decoder: new RecordDecoder(decodePool, decode),
      formatRecord: recordFormatter(config.outputFormat),
      metrics,
      logger,
      // The partitions' time is the brokers' (LogAppendTime); the wall clock is what they follow.
      scheduler: new RealScheduler({ now: Date.now }),
      onFatal: context.onFatal,
    })
    await join.start()
    logger.info({ topics, partitions: join.partitions }, 'joining from Kafka')
    return {
      ingestor,
      gauges: join,
      tail: {
        notServed: `GET /joined is not served in the Kafka mode: joined records are in the topic ${topics.joined} (read it with isolation.level=read_committed)`,
      },
      reopenOutputs: async () => [],
      close: async () => {
        await ingestor.close()
        await join.close()
        await closeAll(clients)
      },
    }
  } catch (error) {
    await closeAll(clients)
    throw error
  }
}

async function closeAll(clients: { close(): Promise<void> }[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close().catch(() => {})))
}
