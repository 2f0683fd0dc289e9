import { Admin, ProduceAcks, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka'
import type { Logger } from 'pino'
import type { Config, KafkaConfig } from '../config.js'
import type { JoinSettings } from '../engine/types.js'
import type { BanditJoinError } from '../errors.js'
import { buildApp, listeningAddress } from '../http/app.js'
import { inflightLimits } from '../http/inflight.js'
import { HTTP_TIMEOUTS } from '../http/timeouts.js'
import { eventFromLine } from '../ingest/validate.js'
import { Metrics } from '../metrics.js'
import { OUTPUT_FORMATS, recordFormatter } from '../output/formats.js'
import type { RunningService } from '../running-service.js'
import { FixedConsumer, installClientFixes } from './client-fixes.js'
import { connectToBrokers } from './connect.js'
import { KafkaIngestor } from './ingest.js'
import { KafkaJoin } from './kafka-join.js'
import { securityOptions } from './security.js'
import { ensureTopics, topicsOf } from './topics.js'

/**
 * A broker that dies takes its partitions' leadership along until the controller notices (about
 * broker.session.timeout.ms, 9 s by default): retry for longer than that, with metadata fresh
 * enough that a retry finds the new leader.
 */
const RESILIENCE = { retries: 30, retryDelay: 500, metadataMaxAge: 1000 }

/** How long a stop waits for requests in flight (as the embedded service does by default). */
const STOP_GRACE_MS = 5000

export interface KafkaServiceOptions {
  logger: Logger
  /** The instance cannot go on (a setting other instances disagree with, the stream lost). */
  onFatal(error: BanditJoinError): void
}

/**
 * The distributed mode (SPEC §5): the same HTTP API producing to the events topic, and this
 * instance's share of the partitions joined into the output topics.
 */
export async function createKafkaService(
  config: Config,
  kafka: KafkaConfig,
  settings: JoinSettings,
  options: KafkaServiceOptions,
): Promise<RunningService> {
  const { logger } = options
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
  const metrics = new Metrics()
  metrics.configure(settings)
  metrics.health.useKafka()
  const admin = new Admin(client('admin'))
  const producer = new Producer({
    ...client('ingest'),
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  })
  const createConsumer = () =>
    new FixedConsumer<string, string, string, string>({
      ...client('join'),
      groupId: kafka.groupId,
      deserializers: stringDeserializers,
      sessionTimeout: kafka.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(kafka.sessionTimeoutMs / 10)),
      maxWaitTime: 100,
    })
  // Never joins a group: reads partitions by offset for recovery.
  const reader = new FixedConsumer({
    ...client('reader'),
    groupId: `${kafka.groupId}.reader`,
    maxWaitTime: 100,
  })
  const clients = [reader, producer, admin]
  try {
    await ensureTopics(admin, kafka, topics)
    const partitions = (await admin.metadata({ topics: [topics.events] })).topics.get(topics.events)
      ?.partitionsCount as number
    const ingestor = new KafkaIngestor(
      producer,
      topics.events,
      partitions,
      Math.max(100_000, config.maxBatchEvents * 4),
      metrics,
    )
    const join = new KafkaJoin({
      topics,
      settings,
      clientOptions: client('owner'),
      createConsumer,
      sessionTimeoutMs: kafka.sessionTimeoutMs,
      reader,
      admin,
      tick: (partition) => ingestor.tick(partition),
      // Sizes were checked at ingest; a user's own topic is bounded by its brokers' message size.
      decode: (value) =>
        eventFromLine(value, {
          maxContextBytes: Number.POSITIVE_INFINITY,
          maxFieldBytes: Number.POSITIVE_INFINITY,
          refuse: OUTPUT_FORMATS[config.outputFormat].refuse,
        }),
      formatRecord: recordFormatter(config.outputFormat),
      metrics,
      logger,
      onFatal: options.onFatal,
    })
    await join.start()
    metrics.bindEngine(join)
    metrics.health.markRecovered()
    const { app, shutdown } = await buildApp({
      ingestor,
      metrics,
      tail: {
        notServed: `GET /joined is not served in the Kafka mode: joined records are in the topic ${topics.joined} (read it with isolation.level=read_committed)`,
      },
      logger,
      limits: {
        maxContextBytes: config.maxContextBytes,
        maxFieldBytes: config.maxFieldBytes,
        refuse: OUTPUT_FORMATS[config.outputFormat].refuse,
      },
      maxBatchEvents: config.maxBatchEvents,
      maxBodyBytes: config.maxBodyBytes,
      apiKey: config.apiKey,
      timeouts: HTTP_TIMEOUTS,
      inflight: inflightLimits(config.maxBodyBytes),
    })
    logger.info({ topics, partitions: join.partitions }, 'joining from Kafka')
    return {
      app,
      metrics,
      logger,
      address: () => listeningAddress(app),
      reopenOutputs: async () => [],
      close: async () => {
        metrics.health.markStopping()
        await shutdown.stop(STOP_GRACE_MS)
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
