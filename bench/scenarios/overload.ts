import { RssPeak, rssBytes } from '../lib/cpu.js'
import { type DriveOutcome, driveWithAutocannon } from '../lib/drive.js'
import { withService } from '../lib/service-run.js'
import { met, num, ratio, row, stat } from '../report/format.js'
import { loadWindows, SINGLE_EVENT_CONNECTIONS, THROUGHPUT_EXP_UNIT_MS } from './http-settings.js'
import type { Scenario } from './types.js'

/** Clients during the overload, each with a request outstanding: 10 × the service's in-flight limit (1024). */
const OVERLOAD_CONNECTIONS = 10_240
/** What the RSS under overload must stay below (the service idles near 90 MB). */
const RSS_BOUND_BYTES = 1024 * 1024 * 1024

/** Milliseconds until a decision sent again and again (one at a time) is answered 200. */
async function timeToAccepted(url: string): Promise<number> {
  const started = performance.now()
  for (let n = 0; ; n++) {
    const response = await fetch(`${url}/log_decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: `overload-probe-${n}`, action: 1, probability: 1, context: 1 }),
      signal: AbortSignal.timeout(30_000),
    })
    await response.arrayBuffer()
    if (response.status === 200) return performance.now() - started
  }
}

const figure = (outcome: DriveOutcome, name: string) => outcome.figures[name] ?? Number.NaN
const mb = (bytes: number | undefined) => num(bytes === undefined ? undefined : bytes / 2 ** 20)

/**
 * Far more load than the service can take, then the usual load again: memory stays bounded, the
 * excess gets 503, and throughput recovers by itself. Peak RSS is sampled from /proc every 100 ms.
 */
export const overload: Scenario = {
  id: 'overload',
  title: 'Overload: bounded memory, 503 for the excess, recovery',
  method: `One fresh service (DURABILITY=power, EXP_UNIT_MS=${THROUGHPUT_EXP_UNIT_MS}). (1) Its maximum: the decision-reward load at ${SINGLE_EVENT_CONNECTIONS} connections (warm-up, then the measured window). (2) Overload: the same load from ${OVERLOAD_CONNECTIONS} connections (10 × the in-flight limit, ${OVERLOAD_CONNECTIONS / SINGLE_EVENT_CONNECTIONS} × the concurrency that saturates it); each sends its next request as soon as one is answered, 503s included (autocannon does not honour Retry-After); connection errors are connections the kernel did not accept (listen backlog 511); VmRSS of the service read every 100 ms. (3) Right after: a decision sent again and again until answered 200 (time to the first 200), then the load of (1) again. All load from the load core; both sides share the machine's 2 cores.`,
  async run(context) {
    const windows = loadWindows(context.options.quick)
    return withService(overload.id, { EXP_UNIT_MS: THROUGHPUT_EXP_UNIT_MS }, async (server) => {
      const single = { profile: 'decision-reward' as const, connections: SINGLE_EVENT_CONNECTIONS }
      const maximum = await driveWithAutocannon(server, { ...single, ...windows })
      const rssBefore = rssBytes(server.pid)
      const peak = new RssPeak(server.pid)
      peak.start()
      let peakRss: number
      let over: DriveOutcome
      try {
        over = await driveWithAutocannon(server, {
          profile: 'decision-reward',
          connections: OVERLOAD_CONNECTIONS,
          warmupSeconds: 0,
          seconds: windows.seconds,
        })
      } finally {
        peakRss = peak.stop()
      }
      const firstAcceptedMs = await timeToAccepted(server.url)
      const after = await driveWithAutocannon(server, {
        ...single,
        warmupSeconds: 0,
        seconds: windows.seconds,
      })
      const statusCodes = (over.details.autocannon as { statusCodes: Record<string, number> }).statusCodes
      const refused = statusCodes['503'] ?? 0
      const answered = Object.values(statusCodes).reduce((a, b) => a + b, 0)
      return {
        figures: {
          max_requests_per_s: figure(maximum, 'requests_per_s'),
          overload_answered_per_s: answered / windows.seconds,
          overload_accepted_per_s: figure(over, 'requests_per_s'),
          overload_503_per_s: refused / windows.seconds,
          overload_other_non2xx: figure(over, 'non2xx') - refused,
          overload_errors: figure(over, 'errors'),
          overload_latency_p99_ms: figure(over, 'latency_p99_ms'),
          rss_before_bytes: rssBefore,
          peak_rss_bytes: peakRss,
          first_accepted_after_ms: firstAcceptedMs,
          recovered_requests_per_s: figure(after, 'requests_per_s'),
          recovered_non2xx: figure(after, 'non2xx'),
        },
        details: { maximum: maximum.details, overload: over.details, recovery: after.details },
      }
    })
  },
  rows(view) {
    const s = view.get(overload.id)
    if (s === undefined) return []
    const peak = s.peak_rss_bytes?.median
    const max = s.max_requests_per_s?.median
    const recovered = s.recovered_requests_per_s?.median
    return [
      row(view, overload.id, {
        measure: `peak RSS under overload (MB), ${num(OVERLOAD_CONNECTIONS)} connections`,
        banditjoin: `${mb(peak)} (before: ${mb(s.rss_before_bytes?.median)})`,
        target: `< ${mb(RSS_BOUND_BYTES)}`,
        met: met(peak === undefined ? undefined : peak < RSS_BOUND_BYTES),
      }),
      row(view, overload.id, {
        measure: 'under overload: answered / accepted / 503 per s; p99 of 200s (ms); connection errors',
        banditjoin: `${stat(s.overload_answered_per_s)} / ${stat(s.overload_accepted_per_s)} / ${stat(s.overload_503_per_s)}; ${num(s.overload_latency_p99_ms?.median)}; ${num(s.overload_errors?.max)}`,
        reference: `maximum ${stat(s.max_requests_per_s)}/s`,
        ratio: ratio(s.overload_answered_per_s?.median, max),
        target: 'every answer 200 or 503',
        met: met(s.overload_other_non2xx === undefined ? undefined : s.overload_other_non2xx.max === 0),
      }),
      row(view, overload.id, {
        measure: 'after: first 200 (ms); requests/s; non-2xx',
        banditjoin: `${num(s.first_accepted_after_ms?.median)}; ${stat(s.recovered_requests_per_s)}; ${num(s.recovered_non2xx?.max)}`,
        reference: `maximum ${stat(s.max_requests_per_s)}/s`,
        ratio: ratio(recovered, max),
        target: 'recovers by itself (≥ 0.8 × maximum)',
        met: met(recovered === undefined || max === undefined ? undefined : recovered >= 0.8 * max),
      }),
    ]
  },
}
