import type { FastifyInstance } from 'fastify'
import type { Gauge } from 'prom-client'
import { overloaded } from '../errors.js'
import { INGEST_ROUTE_TYPES } from './errors.js'

/** How much ingest may be in flight at once (received, not yet answered). */
export interface InflightLimits {
  /** Requests. @default 1024 */
  requests: number
  /** Bytes of their bodies, as declared by Content-Length (a chunked body counts as MAX_BODY_BYTES). */
  bodyBytes: number
}

/** 1024 requests, and four bodies of the largest size allowed (64 MiB by default). */
export const inflightLimits = (maxBodyBytes: number): InflightLimits => ({
  requests: 1024,
  bodyBytes: 4 * maxBodyBytes,
})

/** Where the limiter reports what it holds (the Prometheus gauges). */
export interface InflightGauges {
  requests: Pick<Gauge, 'set'>
  bodyBytes: Pick<Gauge, 'set'>
}

/**
 * Load shedding before a body is read (issue #5): an ingest request beyond the in-flight limits
 * gets 503 with Retry-After at once, so that more load than the machine can take is refused
 * instead of queueing without bound, and request bodies never hold more than `bodyBytes` of
 * memory. One request is always let in, whatever its size. Register after authentication.
 */
export function limitInflight(
  app: FastifyInstance,
  limits: InflightLimits,
  maxBodyBytes: number,
  gauges: InflightGauges,
): void {
  let requests = 0
  let bytes = 0
  const report = () => {
    gauges.requests.set(requests)
    gauges.bodyBytes.set(bytes)
  }
  // One error for every refusal: under overload, building one (and its stack) per request shows.
  const refusal = overloaded(
    `too much in flight: at most ${limits.requests} requests and ${limits.bodyBytes} body bytes at once`,
  )
  app.addHook('onRequest', async (request, reply) => {
    if (!Object.hasOwn(INGEST_ROUTE_TYPES, request.routeOptions.url ?? '')) return
    const declared = Number(request.headers['content-length'])
    const size = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, maxBodyBytes) : maxBodyBytes
    if (requests > 0 && (requests >= limits.requests || bytes + size > limits.bodyBytes)) throw refusal
    requests++
    bytes += size
    report()
    // A response closes when it is done, but one queued behind others on a connection (HTTP
    // pipelining) never does if the connection goes first: the connection's end releases it then.
    // On a client's abort both fire (the response's close from inside the socket's), and
    // removing one listener from within the other does not stop it: count once by the flag.
    const { socket } = request.raw
    let released = false
    const release = () => {
      if (released) return
      released = true
      reply.raw.off('close', release)
      socket.off('close', release)
      requests--
      bytes -= size
      report()
    }
    reply.raw.once('close', release)
    socket.once('close', release)
  })
}
