import type { Logger } from 'pino'
import { type Clock, MonotonicClock } from './clock.js'
import type { Config } from './config.js'
import type { JoinSettings } from './engine/types.js'
import { type BanditJoinError, configError } from './errors.js'
import { buildApp, listeningAddress } from './http/app.js'
import { type InflightLimits, inflightLimits } from './http/inflight.js'
import { HTTP_TIMEOUTS, type HttpTimeouts } from './http/timeouts.js'
import { sameSettings, settingsChangeRefusal } from './join/settings-change.js'
import { Joiner } from './joiner.js'
import { createKafkaService } from './kafka/service.js'
import { SqliteLog } from './log/sqlite/sqlite-log.js'
import type { EventLog } from './log/types.js'
import { Metrics } from './metrics.js'
import { createLogger } from './observability/logger.js'
import { FileSink } from './output/file-sink.js'
import { OUTPUT_FORMATS } from './output/formats.js'
import { FormattedSink, type OutputSink } from './output/sink.js'
import { StdoutSink } from './output/stdout-sink.js'
import { JoinedTail } from './output/tail.js'
import type { RunningService } from './running-service.js'

export type { RunningService } from './running-service.js'

export interface ServiceOverrides {
  /** Replaces the monotonic clock (tests inject one). */
  clock?: (floorMs: number) => Clock
  stdout?: NodeJS.WriteStream
  logger?: Logger
  /** Shorter intervals for tests. */
  tailKeepAliveMs?: number
  httpTimeouts?: Partial<HttpTimeouts>
  inflightLimits?: InflightLimits
  /** How long a stop waits for requests in flight before cutting their connections. @default 5000 */
  stopGraceMs?: number
}

/** The embedded service. */
export interface Service extends RunningService {
  joiner: Joiner
  log: EventLog
}

const settingsOf = (config: Config): JoinSettings => ({
  expUnitMs: config.expUnitMs,
  earlyRewardMs: config.earlyRewardMs,
  rewardAgg: config.rewardAgg,
  defaultReward: config.defaultReward,
})

/**
 * The service the configuration asks for: embedded, or the distributed mode when KAFKA_BROKERS
 * is set. `onFatal` hears of a failure the distributed mode cannot go on after.
 */
export async function startService(
  config: Config,
  onFatal: (error: BanditJoinError) => void,
): Promise<RunningService> {
  if (config.kafka === undefined) return createService(config)
  const logger = createLogger(config)
  return createKafkaService(config, config.kafka, settingsOf(config), { logger, onFatal })
}

/** Opens the log, recovers, and wires log -> joiner -> outputs and the HTTP API (not yet listening). */
export async function createService(config: Config, overrides: ServiceOverrides = {}): Promise<Service> {
  const logger = overrides.logger ?? createLogger(config)
  const log = new SqliteLog({ dataDir: config.dataDir, durability: config.durability })
  try {
    await log.ready()
    const wanted = settingsOf(config)
    if (log.recordedSettings === undefined) await log.resetSettings(wanted)
    const recorded = log.recordedSettings as JoinSettings
    const clock = (overrides.clock ?? ((floor) => new MonotonicClock(floor)))(log.checkpoint.timeMs)
    const metrics = new Metrics()
    metrics.configure(recorded, clock)
    // The log keeps JSON records (the tail serves every format); outputs of records write the format.
    const format = OUTPUT_FORMATS[config.outputFormat]
    const sinks = openSinks(config, log, logger, overrides.stdout).map((sink) =>
      format.line !== undefined && sink.stream === 'records' ? new FormattedSink(sink, format.line) : sink,
    )
    const tail = new JoinedTail(log, {
      maxBufferedBytes: 8 * 1024 * 1024,
      keepAliveMs: overrides.tailKeepAliveMs ?? 15_000,
      pageSize: 1000,
    })
    const joiner = new Joiner(log, clock, sinks, tail, metrics, logger, {
      settings: recorded,
      maxPending: config.maxPending,
      maxHeld: config.maxHeld,
      maxRewardsPerDecision: config.maxRewardsPerDecision,
      maxQueuedEvents: Math.max(100_000, config.maxBatchEvents * 4),
      keepDeadLetters: config.deadLetter !== undefined,
      sinkSyncIntervalMs: 100,
      compactIntervalMs: 250,
      outputRetentionMs: config.outputRetentionMs,
      outputRetentionBytes: config.outputRetentionBytes,
    })
    if (!sameSettings(recorded, wanted)) {
      await changeSettings(joiner, clock, recorded, wanted, logger)
      metrics.configure(wanted)
    }
    metrics.bindEngine(joiner)
    metrics.health.markRecovered()
    const { app, shutdown } = await buildApp({
      ingestor: joiner,
      metrics,
      tail,
      logger,
      limits: {
        maxContextBytes: config.maxContextBytes,
        maxFieldBytes: config.maxFieldBytes,
        refuse: format.refuse,
      },
      maxBatchEvents: config.maxBatchEvents,
      maxBodyBytes: config.maxBodyBytes,
      apiKey: config.apiKey,
      timeouts: { ...HTTP_TIMEOUTS, ...overrides.httpTimeouts },
      inflight: overrides.inflightLimits ?? inflightLimits(config.maxBodyBytes),
    })
    return {
      app,
      joiner,
      log,
      metrics,
      logger,
      address: () => listeningAddress(app),
      reopenOutputs: () => joiner.reopenOutputs(),
      close: async () => {
        metrics.health.markStopping()
        tail.close()
        await shutdown.stop(overrides.stopGraceMs ?? 5000)
        await joiner.close()
      },
    }
  } catch (error) {
    await log.close()
    throw error
  }
}

/** SPEC §3: the settings may change only once nothing logged under the old ones is remembered. */
async function changeSettings(
  joiner: Joiner,
  clock: Clock,
  recorded: JoinSettings,
  wanted: JoinSettings,
  logger: Logger,
) {
  const refusal = settingsChangeRefusal({
    what: 'the log',
    recorded,
    wanted,
    quietFromMs: joiner.quietFromMs(),
    nowMs: clock.now(),
  })
  if (refusal !== undefined) {
    await joiner.close()
    throw configError(refusal)
  }
  await joiner.changeSettings(wanted)
  logger.info({ from: recorded, to: wanted }, 'join settings changed')
}

function openSinks(
  config: Config,
  log: SqliteLog,
  logger: Logger,
  stdout?: NodeJS.WriteStream,
): OutputSink[] {
  const warn = (message: string) => logger.warn(message)
  const start = log.checkpoint
  const sinks: OutputSink[] = config.outputs.map((target) => {
    if (target.kind === 'stdout') {
      const saved = log.sinkPosition('stdout')
      return new StdoutSink(saved?.seq ?? start.recordSeq, stdout, (error) =>
        logger.warn(
          { err: error },
          'standard output is closed; records still go to the log and other outputs',
        ),
      )
    }
    return new FileSink(
      target.path,
      'records',
      log.sinkPosition(`file:${target.path}`),
      start.recordSeq,
      warn,
    )
  })
  if (config.deadLetter !== undefined) {
    const { path } = config.deadLetter
    sinks.push(
      new FileSink(path, 'deadLetters', log.sinkPosition(`dead_letter:${path}`), start.deadLetterSeq, warn),
    )
  }
  return sinks
}
