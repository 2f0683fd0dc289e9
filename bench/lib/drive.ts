import type { AutocannonConfig, AutocannonResult } from '../workers/autocannon.js'
import { CpuMeter } from './cpu.js'
import type { Server } from './spawn.js'
import { LOAD_CORE, startWorker } from './workers.js'

export interface DriveOutcome {
  figures: Record<string, number>
  details: Record<string, unknown>
}

/**
 * Drives a server (or several, which share the connections round-robin) with the autocannon worker
 * pinned to the load core and measures the CPU each side used during the measured window (between
 * the worker's `start` and `end`): the servers together, the load generator, each group of
 * `others` (e.g. `{ broker: [pids] }`: figure `broker_cores`) and the rest of the machine.
 */
export async function driveWithAutocannon(
  server: Server | readonly Server[],
  load: Omit<AutocannonConfig, 'url'>,
  others: Record<string, readonly number[]> = {},
  /** A window without a single 2xx is a result (the retry storm), not a failure. */
  options: { noneAccepted?: 'fails' | 'counts' } = {},
): Promise<DriveOutcome> {
  const servers = Array.isArray(server) ? (server as readonly Server[]) : [server as Server]
  let meter: CpuMeter | undefined
  let cpu: ReturnType<CpuMeter['stop']> | undefined
  const worker = startWorker<AutocannonResult>(
    'autocannon',
    { ...load, url: servers.length === 1 ? (servers[0] as Server).url : servers.map((s) => s.url) },
    {
      cpu: LOAD_CORE,
      timeoutMs: (load.warmupSeconds + load.seconds) * 1000 + 60_000,
      onMessage: (message, pid) => {
        if (message.type === 'start') {
          meter = new CpuMeter({ ...others, server: servers.map((s) => s.pid), loadgen: pid })
          meter.start()
        } else if (message.type === 'end') cpu = meter?.stop()
      },
    },
  )
  const result = await worker.result
  for (const s of servers) s.assertRunning('during the load')
  const otherFigures = Object.fromEntries(
    Object.keys(others).map((name) => [`${name}_cores`, cpu?.cores[name] ?? Number.NaN]),
  )
  if (result.requests2xx === 0 && options.noneAccepted !== 'counts')
    throw new Error(`no request succeeded: ${JSON.stringify(result)}`)
  return {
    figures: {
      requests_per_s: result.rps,
      events_per_s: result.rps * result.eventsPerRequest,
      latency_p50_ms: result.latencyMs.p50,
      latency_p99_ms: result.latencyMs.p99,
      latency_max_ms: result.latencyMs.max,
      server_cores: cpu?.cores.server ?? Number.NaN,
      loadgen_cores: cpu?.cores.loadgen ?? Number.NaN,
      other_cores: cpu?.other ?? Number.NaN,
      ...otherFigures,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    },
    details: { ...load, autocannon: result },
  }
}
