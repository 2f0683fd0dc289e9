import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { type Config, ingestLimits } from './config.js'
import { type EmbeddedOptions, openEmbeddedBackend } from './embedded/backend.js'
import type { Joiner } from './embedded/joiner.js'
import type { JoinSettings } from './engine/types.js'
import type { BanditJoinError } from './errors.js'
import { buildApp, listeningAddress } from './http/app.js'
import { type InflightLimits, inflightLimits } from './http/inflight.js'
import { HTTP_TIMEOUTS, type HttpTimeouts } from './http/timeouts.js'
import {
  type LineParserPool,
  type LineParserPoolOptions,
  startLineParser,
} from './ingest/line-parser-pool.js'
import type { Backend, BackendContext } from './join/backend.js'
import { openKafkaBackend } from './kafka/backend.js'
import type { EmbeddedLog } from './log/types.js'
import { Metrics } from './metrics.js'
import { createLogger } from './observability/logger.js'
import { JoinedTail } from './output/tail.js'

/** A service on either backend, as the command line runs it. */
export interface RunningService {
  app: FastifyInstance
  metrics: Metrics
  logger: Logger
  /** Where the HTTP API listens (after listen). */
  address(): string
  /** SIGHUP: reopen file outputs after they were renamed; resolves with those that could not be. */
  reopenOutputs(): Promise<string[]>
  /**
   * Stops accepting (503), lets requests in flight finish (for at most `stopGraceMs`), commits,
   * persists the outputs' positions and closes the log.
   */
  close(): Promise<void>
}

export interface ServiceOverrides extends EmbeddedOptions {
  logger?: Logger
  httpTimeouts?: Partial<HttpTimeouts>
  inflightLimits?: InflightLimits
  /** How long a stop waits for requests in flight before cutting their connections. @default 5000 */
  stopGraceMs?: number
  /** Batch line checking: how many worker threads, and below what body size the main thread checks. */
  lineCheck?: Pick<LineParserPoolOptions, 'workers' | 'minWorkerLength'>
}

/** The embedded service, with its driver and log open to tests. */
export interface Service extends RunningService {
  joiner: Joiner
  log: EmbeddedLog
  /** GET /joined's followers (tests wait for a subscription to reach it). */
  tail: JoinedTail
  /** The threads checking batch lines (tests stop one). */
  lineParser: LineParserPool
}

const settingsOf = (config: Config): JoinSettings => ({
  expUnitMs: config.expUnitMs,
  earlyRewardMs: config.earlyRewardMs,
  rewardAgg: config.rewardAgg,
  defaultReward: config.defaultReward,
})

/**
 * The service the configuration asks for: embedded, or the distributed mode when KAFKA_BROKERS
 * is set. `onFatal` hears of a failure the backend cannot go on after.
 */
export async function startService(
  config: Config,
  onFatal: (error: BanditJoinError) => void,
): Promise<RunningService> {
  const open = config.kafka === undefined ? openEmbeddedBackend : openKafkaBackend
  return (await serve(config, open, { onFatal })).service
}

/** The embedded service (not yet listening), with its joiner, log and tail for tests. */
export async function createService(config: Config, overrides: ServiceOverrides = {}): Promise<Service> {
  const { service, backend, lineParser } = await serve(
    config,
    (context) => openEmbeddedBackend(context, overrides),
    {
      ...overrides,
      onFatal: () => {},
    },
  )
  return { ...service, joiner: backend.joiner, log: backend.log, tail: backend.tail, lineParser }
}

/**
 * The one place that wires a backend to the metrics, the HTTP API and the outputs' signals:
 * opens the backend, then builds the HTTP app on what it gives (not yet listening).
 */
async function serve<B extends Backend>(
  config: Config,
  open: (context: BackendContext) => Promise<B>,
  overrides: ServiceOverrides & { onFatal: (error: BanditJoinError) => void },
): Promise<{ service: RunningService; backend: B; lineParser: LineParserPool }> {
  const logger = overrides.logger ?? createLogger(config)
  const metrics = new Metrics()
  const backend = await open({
    config,
    settings: settingsOf(config),
    metrics,
    logger,
    onFatal: overrides.onFatal,
  })
  let lineParser: LineParserPool | undefined
  try {
    metrics.bindEngine(backend.gauges)
    metrics.health.markRecovered()
    const ingestSettings = { ...config, fingerprints: backend.ingestor.needsFingerprints }
    lineParser = startLineParser(ingestSettings, { logger, ...overrides.lineCheck })
    const { app, shutdown } = await buildApp({
      ingestor: backend.ingestor,
      metrics,
      tail: backend.tail,
      logger,
      limits: ingestLimits(ingestSettings),
      lineParser,
      maxBodyBytes: config.maxBodyBytes,
      apiKey: config.apiKey,
      timeouts: { ...HTTP_TIMEOUTS, ...overrides.httpTimeouts },
      inflight: overrides.inflightLimits ?? inflightLimits(config.maxBodyBytes),
    })
    const pool = lineParser
    const service: RunningService = {
      app,
      metrics,
      logger,
      address: () => listeningAddress(app),
      reopenOutputs: () => backend.reopenOutputs(),
      close: async () => {
        metrics.health.markStopping()
        // Followers of GET /joined end first: the HTTP stop below waits for requests in flight.
        if (backend.tail instanceof JoinedTail) backend.tail.close()
        await shutdown.stop(overrides.stopGraceMs ?? 5000)
        await pool.close()
        await backend.close()
      },
    }
    return { service, backend, lineParser: pool }
  } catch (error) {
    await lineParser?.close()
    await backend.close()
    throw error
  }
}
