import type { SenderConfig, SenderResult } from '../workers/paced-sender.js'
import { decisionsPerBatch } from './bodies.js'
import { CpuMeter } from './cpu.js'
import { pollSample } from './metrics.js'
import type { Server } from './spawn.js'
import { LOAD_CORE, startWorker } from './workers.js'

/**
 * 200 decisions every 10 ms: 20,000 decisions/s offered whatever the answers' latency (up to 32
 * requests in flight, so a stall of the service up to 320 ms does not slow the offered load).
 */
export const PACING: Pacing = { batchSize: 200, intervalMs: 10, concurrency: 32 }
export const OFFERED_PER_S = offeredPerSecond(PACING)

/**
 * A batch of `batchSize` lines every `intervalMs`, at most `concurrency` requests in flight; all
 * decisions, or with `withRewards` every third line a reward for the decision before it.
 */
export interface Pacing {
  batchSize: number
  intervalMs: number
  concurrency: number
  withRewards?: boolean
}

/** Decisions offered per second (rewards not counted). */
export function offeredPerSecond(pacing: Pacing): number {
  return (decisionsPerBatch(pacing.batchSize, pacing.withRewards === true) * 1000) / pacing.intervalMs
}

/**
 * Cores used during the paced window: the server(s), the load generator (sender and any
 * `clients`), each group of `others` (e.g. Kafka brokers) by name, the rest.
 */
export interface PacedCpu {
  serverCores: number
  loadgenCores: number
  otherCores: number
  groups: Record<string, number>
}

export interface PacedOptions {
  /** Default PACING. */
  pacing?: Pacing
  /** Processes measured apart from the server and the load side, by group (e.g. `{ broker: [pids] }`). */
  others?: Record<string, readonly number[]>
}

/**
 * Sends the paced load for `seconds` from the load core (to several servers: batches go
 * round-robin); returns what was acknowledged and the CPU used meanwhile by the server(s), by the
 * load side (the sender plus `clients`, e.g. a consumer), by `others` and by the rest of the machine.
 */
export async function pacedLoad(
  server: Server | readonly Server[],
  seconds: number,
  clients: Record<string, number> = {},
  options: PacedOptions = {},
): Promise<{ sender: SenderResult; cpu: PacedCpu }> {
  const servers = Array.isArray(server) ? (server as readonly Server[]) : [server as Server]
  const others = options.others ?? {}
  let meter: CpuMeter | undefined
  const cpu: PacedCpu = {
    serverCores: Number.NaN,
    loadgenCores: Number.NaN,
    otherCores: Number.NaN,
    groups: {},
  }
  const config: SenderConfig = {
    url: servers.length === 1 ? (servers[0] as Server).url : servers.map((s) => s.url),
    mode: 'paced',
    seconds,
    ...(options.pacing ?? PACING),
  }
  const worker = startWorker<SenderResult>('paced-sender', config, {
    cpu: LOAD_CORE,
    timeoutMs: seconds * 1000 + 60_000,
    onMessage: (message, pid) => {
      if (message.type === 'start') {
        meter = new CpuMeter({ ...clients, ...others, server: servers.map((s) => s.pid), sender: pid })
        meter.start()
      } else if (message.type === 'end' && meter !== undefined) {
        const used = meter.stop()
        cpu.serverCores = used.cores.server ?? Number.NaN
        cpu.loadgenCores = Object.entries(used.cores)
          .filter(([name]) => name !== 'server' && !(name in others))
          .reduce((sum, [, cores]) => sum + cores, 0)
        cpu.otherCores = used.other
        for (const name of Object.keys(others)) cpu.groups[name] = used.cores[name] ?? Number.NaN
      }
    },
  })
  const sender = await worker.result
  for (const s of servers) s.assertRunning('during the paced load')
  return { sender, cpu }
}

/** Sends `total` decisions as fast as the service takes them (503s are retried). */
export async function bulkLoad(server: Server, total: number, contextBytes?: number): Promise<SenderResult> {
  const config: SenderConfig = {
    url: server.url,
    mode: 'bulk',
    total,
    batchSize: 5000,
    concurrency: 2,
    ...(contextBytes === undefined ? {} : { contextBytes }),
  }
  try {
    return await startWorker<SenderResult>('paced-sender', config, { cpu: LOAD_CORE, timeoutMs: 600_000 })
      .result
  } finally {
    server.assertRunning('while loading decisions')
  }
}

/** Waits until the service says it has emitted `count` records (or the time is up). */
export async function waitForEmitted(server: Server, count: number, timeoutMs: number): Promise<number> {
  const emitted = await pollSample(
    server.url,
    'banditjoin_records_emitted_total',
    (value) => (value ?? 0) >= count,
    timeoutMs,
  )
  return emitted ?? 0
}
