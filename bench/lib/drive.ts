import type { AutocannonConfig, AutocannonResult } from '../workers/autocannon.js'
import { CpuMeter } from './cpu.js'
import type { Server } from './spawn.js'
import { LOAD_CORE, startWorker } from './workers.js'

export interface DriveOutcome {
  figures: Record<string, number>
  details: Record<string, unknown>
}

/**
 * Drives a server with the autocannon worker pinned to the load core and measures the CPU each
 * side used during the measured window (between the worker's `start` and `end`).
 */
export async function driveWithAutocannon(
  server: Server,
  load: Omit<AutocannonConfig, 'url'>,
): Promise<DriveOutcome> {
  let meter: CpuMeter | undefined
  let cpu: ReturnType<CpuMeter['stop']> | undefined
  const worker = startWorker<AutocannonResult>(
    'autocannon',
    { ...load, url: server.url },
    {
      cpu: LOAD_CORE,
      timeoutMs: (load.warmupSeconds + load.seconds) * 1000 + 60_000,
      onMessage: (message, pid) => {
        if (message.type === 'start') {
          meter = new CpuMeter({ server: server.pid, loadgen: pid })
          meter.start()
        } else if (message.type === 'end') cpu = meter?.stop()
      },
    },
  )
  const result = await worker.result
  server.assertRunning('during the load')
  if (result.requests2xx === 0) throw new Error(`no request succeeded: ${JSON.stringify(result)}`)
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
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    },
    details: { ...load, autocannon: result },
  }
}
