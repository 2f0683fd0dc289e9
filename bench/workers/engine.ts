/**
 * The join engine alone (no log, no HTTP, no output formatting): a log of decisions with
 * 150-byte contexts and rewards for half of them, built through the service's own ingest
 * normalisation in chunks of CHUNK_EVENTS, each chunk built untimed just before it is applied,
 * as a service receives its events; timed are apply() of every event and the advanceTo() that
 * releases every record. (All events built up front stayed alive through the pass, and marking
 * them, 1.5 M objects the service never holds at once, was 40 % of the measured time.) One
 * warm-up pass, then the measured pass on a fresh engine.
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

const CHUNK_EVENTS = 10_000

/** The engine mix (two decisions, then a reward for the second), as the HTTP load sends it, in chunks. */
function* logChunks(config: EngineConfig): Generator<LoggedEvent[]> {
  let chunk: LoggedEvent[] = []
  let pos = 0
  // Logged events of the same shape as the service's, so the engine runs as it does there.
  for (const { type, body } of engineMix(config.decisions, keyPrefix())) {
    pos++
    const event = toIncomingEvent(type, JSON.parse(body), LIMITS)
    chunk.push(toLoggedEvent(event, pos, START_MS + Math.floor(pos / config.eventsPerMs)))
    if (chunk.length === CHUNK_EVENTS) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}

interface Pass {
  events: number
  seconds: number
  records: number
  cpuSeconds: number
}

function pass(config: EngineConfig): Pass {
  let records = 0
  const sink: EngineSink = {
    record: () => {
      records++
    },
    deadLetter: () => {},
    observe: () => {},
  }
  const engine = new JoinEngine(SETTINGS, sink)
  let events = 0
  let lastMs = START_MS
  let ms = 0
  let cpuMicros = 0
  const timed = (work: () => void) => {
    const cpuBefore = process.cpuUsage()
    const t0 = performance.now()
    work()
    ms += performance.now() - t0
    const cpu = process.cpuUsage(cpuBefore)
    cpuMicros += cpu.user + cpu.system
  }
  for (const chunk of logChunks(config)) {
    timed(() => {
      for (const event of chunk) engine.apply(event)
    })
    events += chunk.length
    lastMs = (chunk[chunk.length - 1] as LoggedEvent).insertMs
  }
  timed(() => engine.advanceTo(lastMs + SETTINGS.expUnitMs + keyMemoryMs(SETTINGS) + 1))
  return { events, seconds: ms / 1000, records, cpuSeconds: cpuMicros / 1e6 }
}

const gc = (globalThis as { gc?: () => void }).gc

workerMain<EngineConfig, EngineResult>(async (config) => {
  pass(config)
  gc?.()
  const measured = pass(config)
  if (measured.records !== config.decisions) {
    throw new Error(`engine released ${measured.records} records for ${config.decisions} decisions`)
  }
  return {
    events: measured.events,
    records: measured.records,
    seconds: measured.seconds,
    eventsPerSecond: measured.events / measured.seconds,
    cores: measured.cpuSeconds / measured.seconds,
  }
})
