/**
 * The join engine alone (no log, no HTTP, no output formatting): builds a log of decisions with
 * 150-byte contexts and rewards for half of them (through the service's own ingest
 * normalisation, before timing), then times apply() of every event plus the advanceTo() that
 * releases every record. One warm-up pass, then the measured pass on a fresh engine.
 */
import { JoinEngine } from '../../src/engine/engine.js'
import { type EngineSink, type JoinSettings, keyMemoryMs, type LoggedEvent } from '../../src/engine/types.js'
import { toIncomingEvent, toLoggedEvent } from '../../src/ingest/validate.js'
import { keyPrefix } from '../lib/bodies.js'
import { engineMix } from '../lib/engine-mix.js'
import { workerMain } from '../lib/worker-main.js'

export interface EngineConfig {
  decisions: number
  /** Log time advances by 1 ms every this many events. */
  eventsPerMs: number
}

export interface EngineResult {
  events: number
  records: number
  seconds: number
  eventsPerSecond: number
  /** CPU-seconds per wall-second of the measured pass (the process is pinned to one core). */
  cores: number
}

/** The service's defaults (E = 10 s, G = 120 s). */
const SETTINGS: JoinSettings = {
  expUnitMs: 10_000,
  earlyRewardMs: 120_000,
  rewardAgg: 'last',
  defaultReward: 0,
}
const LIMITS = { maxContextBytes: 65_536, maxFieldBytes: 1024 }
const START_MS = 1_800_000_000_000

/** The engine mix (two decisions, then a reward for the second), as the HTTP load sends it. */
function buildLog(config: EngineConfig): LoggedEvent[] {
  const events: LoggedEvent[] = []
  // Logged events of the same shape as the service's, so the engine runs as it does there.
  for (const { type, body } of engineMix(config.decisions, keyPrefix())) {
    const pos = events.length + 1
    const event = toIncomingEvent(type, JSON.parse(body), LIMITS)
    events.push(toLoggedEvent(event, pos, START_MS + Math.floor(pos / config.eventsPerMs)))
  }
  return events
}

function pass(events: readonly LoggedEvent[]): { seconds: number; records: number; cpuSeconds: number } {
  let records = 0
  const sink: EngineSink = {
    record: () => {
      records++
    },
    deadLetter: () => {},
    observe: () => {},
  }
  const engine = new JoinEngine(SETTINGS, sink)
  const lastMs = events[events.length - 1]?.insertMs ?? START_MS
  const cpuBefore = process.cpuUsage()
  const t0 = performance.now()
  for (const event of events) engine.apply(event)
  engine.advanceTo(lastMs + SETTINGS.expUnitMs + keyMemoryMs(SETTINGS) + 1)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  return { seconds, records, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

const gc = (globalThis as { gc?: () => void }).gc

workerMain<EngineConfig, EngineResult>(async (config) => {
  const events = buildLog(config)
  pass(events)
  gc?.()
  const measured = pass(events)
  if (measured.records !== config.decisions) {
    throw new Error(`engine released ${measured.records} records for ${config.decisions} decisions`)
  }
  return {
    events: events.length,
    records: measured.records,
    seconds: measured.seconds,
    eventsPerSecond: events.length / measured.seconds,
    cores: measured.cpuSeconds / measured.seconds,
  }
})
