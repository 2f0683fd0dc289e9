/**
 * Load generator process (pinned by the harness to the load core): drives a server with
 * autocannon, first a warm-up, then the measured window, announced to the harness with `start`
 * and `end` messages so that it can read the servers' CPU time around exactly that window.
 */
import autocannon from 'autocannon'
import { decisionJson, keyPrefix, ndjsonBatch, rewardJson } from '../lib/bodies.js'
import { Samples, tail } from '../lib/stats.js'
import { workerMain } from '../lib/worker-main.js'

export interface AutocannonConfig {
  /** Several URLs share the connections round-robin. */
  url: string | string[]
  /** `decision-reward`: single events (two decisions, then a reward for the second); `batch`: NDJSON of `batchLines` events. */
  profile: 'decision-reward' | 'batch'
  connections: number
  warmupSeconds: number
  seconds: number
  batchLines?: number
  /** Requests per second across all connections (autocannon's overallRate); as fast as answered if unset. */
  overallRate?: number
}

export interface AutocannonResult {
  seconds: number
  requests2xx: number
  /** 2xx requests per second of the measured window. */
  rps: number
  /** Events per 2xx request (1, or the batch size). */
  eventsPerRequest: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  /** Of every 2xx answer of the measured window, from autocannon's hrtime measurement. */
  latencyMs: { p50: number; p99: number; max: number }
}

const JSON_HEADERS = { 'content-type': 'application/json' }
const NDJSON_HEADERS = { 'content-type': 'application/x-ndjson' }

function decisionRewardRequests(): autocannon.Request[] {
  const prefix = keyPrefix()
  let counter = 0
  // autocannon gives each connection a context that is reset at the start of each pass over the
  // list, so the reward always names the decision this connection sent (and had answered) just before.
  const decision: autocannon.Request = {
    method: 'POST',
    path: '/log_decision',
    headers: JSON_HEADERS,
    setupRequest: (request, context) => {
      const n = counter++
      const key = `${prefix}-${n}`
      context.key = key
      return { ...request, body: decisionJson(key, n) }
    },
  }
  const reward: autocannon.Request = {
    method: 'POST',
    path: '/log_reward',
    headers: JSON_HEADERS,
    setupRequest: (request, context) => ({ ...request, body: rewardJson(context.key as string) }),
  }
  return [decision, decision, reward]
}

function batchRequests(lines: number): autocannon.Request[] {
  const prefix = keyPrefix()
  let next = 0
  return [
    {
      method: 'POST',
      path: '/events',
      headers: NDJSON_HEADERS,
      setupRequest: (request) => {
        const batch = ndjsonBatch(prefix, next, lines, true)
        next = batch.next
        return { ...request, body: batch.body }
      },
    },
  ]
}

/** Runs the load; the latency of every 2xx answer goes to `latencies` (ms, hrtime resolution). */
async function load(
  config: AutocannonConfig,
  seconds: number,
  latencies?: Samples,
): Promise<autocannon.Result> {
  const requests =
    config.profile === 'batch' ? batchRequests(config.batchLines ?? 1000) : decisionRewardRequests()
  const instance = autocannon({
    url: config.url,
    connections: config.connections,
    duration: seconds,
    timeout: 30,
    requests,
    // The latencies reported are our own (`latencies`, of 2xx answers as they come); autocannon's
    // correction for a paced rate would fill its histogram with thousands of values per late answer
    // (in the retry storm, a few percent of the generator's CPU).
    ...(config.overallRate !== undefined && {
      overallRate: config.overallRate,
      ignoreCoordinatedOmission: true,
    }),
  })
  if (latencies !== undefined) {
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms)
    })
  }
  return instance
}

workerMain<AutocannonConfig, AutocannonResult>(async (config, channel) => {
  if (config.warmupSeconds > 0) await load(config, config.warmupSeconds)
  const latencies = new Samples()
  channel.send({ type: 'start' })
  const startedAt = performance.now()
  const result = await load(config, config.seconds, latencies)
  const seconds = (performance.now() - startedAt) / 1000
  channel.send({ type: 'end' })
  const statusCodes: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats)) statusCodes[code] = stat.count
  const latency = tail(latencies.toArray())
  return {
    seconds,
    requests2xx: result['2xx'],
    rps: result['2xx'] / seconds,
    eventsPerRequest: config.profile === 'batch' ? (config.batchLines ?? 1000) : 1,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latencyMs: { p50: latency.p50, p99: latency.p99, max: latency.max },
  }
})
