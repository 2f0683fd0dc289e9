import { join } from 'node:path'
import type { Logger } from 'pino'
import { type Clock, MonotonicClock, RealScheduler, type Scheduler } from '../clock.js'
import type { Config } from '../config.js'
import type { JoinSettings } from '../engine/types.js'
import { configError } from '../errors.js'
import type { Backend, BackendContext } from '../join/backend.js'
import { sameSettings, settingsChangeRefusal } from '../join/settings-change.js'
import { SqliteLog } from '../log/sqlite/sqlite-log.js'
import type { EmbeddedLog } from '../log/types.js'
import { FileSink } from '../output/file-sink.js'
import { OUTPUT_FORMATS } from '../output/formats.js'
import { FormattedSink, type OutputSink } from '../output/sink.js'
import { StdoutSink } from '../output/stdout-sink.js'
import { JoinedTail } from '../output/tail.js'
import { Joiner } from './joiner.js'

export interface EmbeddedOptions {
  /** Replaces the monotonic clock and Node's timers (tests inject a manual one). */
  clock?: (floorMs: number) => Scheduler
  stdout?: NodeJS.WriteStream
  /** Shorter intervals for tests. */
  tailKeepAliveMs?: number
}

/** The embedded backend, with its driver and log open to tests. */
export interface EmbeddedBackend extends Backend {
  readonly joiner: Joiner
  readonly log: EmbeddedLog
  readonly tail: JoinedTail
}

/** Opens the SQLite log, recovers, and wires log -> joiner -> outputs and the tail. */
export async function openEmbeddedBackend(
  context: BackendContext,
  options: EmbeddedOptions = {},
): Promise<EmbeddedBackend> {
  const { config, metrics, logger, settings: wanted } = context
  const log = new SqliteLog({ dataDir: config.dataDir, durability: config.durability })
  try {
    await log.ready()
    if (log.recordedSettings === undefined) await log.resetSettings(wanted)
    const recorded = log.recordedSettings as JoinSettings
    const clock = (options.clock ?? ((floor) => new RealScheduler(new MonotonicClock(floor))))(
      log.checkpoint.timeMs,
    )
    metrics.configure(recorded, clock)
    // The log keeps JSON records (the tail serves every format); outputs of records write the format.
    const format = OUTPUT_FORMATS[config.outputFormat]
    const sinks = openSinks(config, log, logger, options.stdout).map((sink) =>
      format.line !== undefined && sink.stream === 'records' ? new FormattedSink(sink, format.line) : sink,
    )
    const tail = new JoinedTail(log, {
      maxBufferedBytes: 8 * 1024 * 1024,
      keepAliveMs: options.tailKeepAliveMs ?? 15_000,
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
      snapshotPath: join(config.dataDir, 'engine-snapshot'),
    })
    joiner.start()
    if (!sameSettings(recorded, wanted)) {
      await changeSettings(joiner, clock, recorded, wanted, logger)
      metrics.configure(wanted)
    }
    return {
      ingestor: joiner,
      gauges: joiner,
      tail,
      joiner,
      log,
      reopenOutputs: () => joiner.reopenOutputs(),
      close: () => joiner.close(),
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
