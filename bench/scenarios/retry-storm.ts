import { type DriveOutcome, driveWithAutocannon } from '../lib/drive.js'
import { withService } from '../lib/service-run.js'
import { LOAD_CORE } from '../lib/workers.js'
import { met, num, row, stat } from '../report/format.js'
import { loadWindows, SINGLE_EVENT_CONNECTIONS, THROUGHPUT_EXP_UNIT_MS } from './http-settings.js'
import type { Scenario } from './types.js'

/** Clients of the storm: 10 × the service's in-flight limit (1024), so that it is over its limits. */
const STORM_CONNECTIONS = 10_240
/** The storm offers this many times the capacity measured just before it. */
const OFFERED_FACTOR = 10
/** What the storm must keep: accepted requests/s ≥ this × the capacity of the same run. */
const TARGET_RATIO = 0.5

/**
 * The service runs on this core, the load generator on LOAD_CORE: the storm's generator (10 × the
 * load) must not take the service's CPU, as clients on other machines would not; the capacity it is
 * compared with is measured on the same core.
 */
const SERVICE_CORE = 1 - LOAD_CORE

const figure = (outcome: DriveOutcome, name: string) => outcome.figures[name] ?? Number.NaN

/**
 * Clients that retry 503s at once (ignoring Retry-After) must not take the CPU
 * from the requests being served. Capacity and storm are measured in the same run, one after the
 * other on the same service, so that both see the same machine (several runs interleave them).
 */
export const retryStorm: Scenario = {
  id: 'retry-storm',
  title: 'Retry storm: 10 × capacity offered, 503s retried at once',
  method: `One fresh service (DURABILITY=power, EXP_UNIT_MS=${THROUGHPUT_EXP_UNIT_MS}) pinned to core ${SERVICE_CORE}, the load generator pinned to core ${LOAD_CORE}, so that the storm's generator does not take the service's CPU (clients would be on other machines). (1) Capacity: the decision-reward load at ${SINGLE_EVENT_CONNECTIONS} connections (warm-up, then the measured window), in 2xx requests/s, measured twice, the larger kept. (2) The storm, right after: the same requests from ${STORM_CONNECTIONS} connections (10 × the in-flight limit), offered at ${OFFERED_FACTOR} × the capacity of (1) in requests/s (autocannon's overallRate over all connections); a connection sends its next request as soon as its answer comes, 503s included (autocannon does not honour Retry-After), so each refusal is retried at once. (3) Capacity again, right after the storm. The reference is the largest of the three capacity windows, so that a machine busier during one of them does not lower it (the offered rate comes from (1)). Accepted = 2xx per second of the storm's window. The load generator's and the service's CPU (from /proc, over the measured window) are reported beside it: the generator has one core, shared with whatever else runs, and may not reach the offered rate.`,
  async run(context) {
    const windows = loadWindows(context.options.quick)
    const capacityLoad = {
      profile: 'decision-reward' as const,
      connections: SINGLE_EVENT_CONNECTIONS,
      ...windows,
    }
    return withService(
      retryStorm.id,
      { EXP_UNIT_MS: THROUGHPUT_EXP_UNIT_MS },
      async (server) => {
        // Twice before (the machine is shared: one window can fall in a busier second), the larger
        // sets the offered rate.
        const first = await driveWithAutocannon(server, capacityLoad)
        const second = await driveWithAutocannon(server, { ...capacityLoad, warmupSeconds: 0 })
        const before = figure(first, 'requests_per_s') >= figure(second, 'requests_per_s') ? first : second
        const beforePerS = figure(before, 'requests_per_s')
        const offeredPerS = Math.round(OFFERED_FACTOR * beforePerS)
        const storm = await driveWithAutocannon(
          server,
          {
            profile: 'decision-reward',
            connections: STORM_CONNECTIONS,
            overallRate: offeredPerS,
            warmupSeconds: 0,
            seconds: windows.seconds,
          },
          {},
          { noneAccepted: 'counts' },
        )
        const after = await driveWithAutocannon(server, capacityLoad)
        const afterPerS = figure(after, 'requests_per_s')
        const capacityPerS = Math.max(beforePerS, afterPerS)
        const capacity = beforePerS >= afterPerS ? before : after
        const statusCodes = (storm.details.autocannon as { statusCodes: Record<string, number> }).statusCodes
        const seconds = (storm.details.autocannon as { seconds: number }).seconds
        const refused = statusCodes['503'] ?? 0
        const answered = Object.values(statusCodes).reduce((a, b) => a + b, 0)
        const acceptedPerS = figure(storm, 'requests_per_s')
        return {
          figures: {
            capacity_requests_per_s: capacityPerS,
            capacity_before_per_s: beforePerS,
            capacity_after_per_s: afterPerS,
            // Of the capacity window taken as the reference.
            capacity_server_cores: figure(capacity, 'server_cores'),
            capacity_loadgen_cores: figure(capacity, 'loadgen_cores'),
            offered_per_s: offeredPerS,
            storm_answered_per_s: answered / seconds,
            storm_accepted_per_s: acceptedPerS,
            storm_503_per_s: refused / seconds,
            storm_other_non2xx: figure(storm, 'non2xx') - refused,
            storm_errors: figure(storm, 'errors'),
            storm_latency_p99_ms: figure(storm, 'latency_p99_ms'),
            storm_server_cores: figure(storm, 'server_cores'),
            storm_loadgen_cores: figure(storm, 'loadgen_cores'),
            storm_other_cores: figure(storm, 'other_cores'),
            accepted_ratio: acceptedPerS / capacityPerS,
          },
          details: { capacity: before.details, storm: storm.details, capacityAfter: after.details },
        }
      },
      SERVICE_CORE,
    )
  },
  rows(view) {
    const s = view.get(retryStorm.id)
    if (s === undefined) return []
    const ratioMedian = s.accepted_ratio?.median
    return [
      row(view, retryStorm.id, {
        measure: `retry storm (${OFFERED_FACTOR} × capacity offered, ${num(STORM_CONNECTIONS)} connections, 503s retried at once): accepted / answered / 503 per s; CPU cores service / load generator`,
        banditjoin: `${stat(s.storm_accepted_per_s)} / ${stat(s.storm_answered_per_s)} / ${stat(s.storm_503_per_s)}; ${num(s.storm_server_cores?.median, 2)} / ${num(s.storm_loadgen_cores?.median, 2)}`,
        reference: `capacity ${stat(s.capacity_requests_per_s)}/s (same run), offered ${stat(s.offered_per_s)}/s`,
        // Of each run (its storm against its own capacity), the median.
        ratio: ratioMedian === undefined ? 'n/a' : `${ratioMedian.toFixed(2)}×`,
        target: `accepted ≥ ${TARGET_RATIO} × capacity`,
        met: met(ratioMedian === undefined ? undefined : ratioMedian >= TARGET_RATIO),
      }),
    ]
  },
}
