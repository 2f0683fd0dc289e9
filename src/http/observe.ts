import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics.js'
import { INGEST_ROUTE_TYPES } from './errors.js'

/** A refused batch's message names every offending line: the log line keeps the first ones. */
const MAX_LOGGED_MESSAGE = 300

/**
 * Request duration by route and status, and the few request outcomes worth a log line: a refused
 * batch (rate-limited to one line a second), and back-pressure (503) starting and stopping.
 * No line per request.
 */
export function observeHttp(app: FastifyInstance, metrics: Metrics, logger: Logger): HttpObserver {
  const errors = new WeakMap<FastifyRequest, Error>()
  const refusedBatches = new Throttle(1000)
  const pressure = new BackPressure(logger)
  // Callback hooks: an async hook costs a promise per request.
  app.addHook('onError', (request, _reply, error, done) => {
    errors.set(request, error)
    done()
  })
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const status = reply.statusCode
    metrics.httpDuration.observe(
      { route, method: request.method, status_code: String(status) },
      reply.elapsedTime / 1000,
    )
    if (Object.hasOwn(INGEST_ROUTE_TYPES, route)) {
      if (status >= 400) metrics.live.refused()
      const error = errors.get(request)
      if (status === 503) pressure.refused(route, error)
      else if (status < 300) pressure.accepted()
      if (route === '/events' && status >= 400 && status !== 503) {
        refusedBatches.run((suppressed) =>
          logger.warn(
            {
              statusCode: status,
              error: truncate(error?.message ?? ''),
              ...(suppressed > 0 && { suppressed }),
            },
            'refused a batch',
          ),
        )
      }
    }
    done()
  })
  return {
    shed(route) {
      // Answered at once: a duration of 0 keeps the request counts of the histogram whole.
      metrics.httpDuration.observe({ route, method: 'POST', status_code: '503' }, 0)
      metrics.eventsRefused.inc({ type: INGEST_ROUTE_TYPES[route] ?? 'other', reason: 'BJ_ERR_OVERLOADED' })
      metrics.live.refused()
      pressure.refused(route, undefined, SHED_REASON)
    },
  }
}

/** What the back-pressure log says of a request refused before routing (shed.ts). */
const SHED_REASON = 'in-flight limits reached (refused before routing)'

/** What is counted of requests that never reach Fastify's hooks. */
export interface HttpObserver {
  /** An ingest request refused 503 before routing (shed.ts). */
  shed(route: string): void
}

const truncate = (text: string) =>
  text.length > MAX_LOGGED_MESSAGE ? `${text.slice(0, MAX_LOGGED_MESSAGE)}...` : text

/** Runs at most once per interval; counts the calls it skipped and hands the count to the next run. */
class Throttle {
  private lastMs = Number.NEGATIVE_INFINITY
  private suppressed = 0
  constructor(private readonly intervalMs: number) {}
  run(action: (suppressed: number) => void): void {
    const now = Date.now()
    if (now - this.lastMs < this.intervalMs) {
      this.suppressed++
      return
    }
    this.lastMs = now
    action(this.suppressed)
    this.suppressed = 0
  }
}

/**
 * While ingest answers 503 some requests still get through; back-pressure is off only once no
 * 503 was answered for this long (before, an overload mixing 200s and 503s logged a pair of lines
 * per request).
 */
const BACK_PRESSURE_QUIET_MS = 500

/**
 * Logs once when ingest starts answering 503 and once when it accepts again after
 * BACK_PRESSURE_QUIET_MS without a 503, with what happened between.
 */
class BackPressure {
  private since: number | undefined
  private lastRefusalMs = 0
  private refusals = 0
  constructor(private readonly logger: Logger) {}

  refused(route: string, error: Error | undefined, reason = error?.message): void {
    this.refusals++
    this.lastRefusalMs = Date.now()
    if (this.since !== undefined) return
    this.since = this.lastRefusalMs
    this.logger.warn({ route, reason }, 'back-pressure on: ingest answers 503 with Retry-After')
  }

  accepted(): void {
    if (this.since === undefined || Date.now() - this.lastRefusalMs < BACK_PRESSURE_QUIET_MS) return
    this.logger.info(
      { refusedRequests: this.refusals, durationMs: Date.now() - this.since },
      'back-pressure off: ingest accepts events again',
    )
    this.since = undefined
    this.refusals = 0
  }
}
