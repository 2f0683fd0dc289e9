import { Transform } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { Gauge } from 'prom-client'
import { overloaded } from '../errors.js'
import { INGEST_ROUTE_TYPES } from './errors.js'

/** How much ingest may be in flight at once (received, not yet answered). */
export interface InflightLimits {
  /** Requests. @default 1024 */
  requests: number
  /** Body bytes received so far by those requests (not their declared lengths). */
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
 * Load shedding: an ingest request beyond the in-flight limits gets 503 with
 * Retry-After, so that more load than the machine can take is refused instead of queueing
 * without bound, and request bodies never hold more than `bodyBytes` of memory (plus the chunk
 * being read). Bodies are charged as their bytes arrive, not by their declared length: a client
 * that declares 16 MiB and sends a byte a second holds a byte a second, so slow senders cannot
 * take the budget from fast ones. A request is refused before its body is read while the
 * budget is full, and during its body if a chunk would overfill it; one body is always let in,
 * whatever its size. Register after authentication.
 */
export function limitInflight(
  app: FastifyInstance,
  limits: InflightLimits,
  gauges: InflightGauges,
): InflightLimiter {
  let requests = 0
  let bytes = 0
  const roomListeners: (() => void)[] = []
  const report = () => {
    gauges.requests.set(requests)
    gauges.bodyBytes.set(bytes)
  }
  // One error for every refusal: under overload, building one (and its stack) per request shows.
  const refusal = overloaded(
    `too much in flight: at most ${limits.requests} requests and ${limits.bodyBytes} body bytes at once`,
  )
  // preParsing runs after every onRequest hook (so after authentication) and before the body is read.
  app.addHook('preParsing', async (request, reply, payload) => {
    if (!Object.hasOwn(INGEST_ROUTE_TYPES, request.routeOptions.url ?? '')) return payload
    // Mostly answered before Fastify by shed.ts; this catches what arrives between (and inject()).
    if (requests > 0 && (requests >= limits.requests || bytes >= limits.bodyBytes)) throw refusal
    requests++
    let held = 0
    let released = false
    // A response closes when it is done, but one queued behind others on a connection (HTTP
    // pipelining) never does if the connection goes first: the connection's end releases it then.
    // On a client's abort both fire (the response's close from inside the socket's), and
    // removing one listener from within the other does not stop it: count once by the flag.
    const { socket } = request.raw
    const release = () => {
      if (released) return
      released = true
      reply.raw.off('close', release)
      socket.off('close', release)
      requests--
      bytes -= held
      report()
      for (const listener of roomListeners) listener()
    }
    reply.raw.once('close', release)
    socket.once('close', release)
    report()
    const counted = new Transform({
      // Above the largest chunk a socket gives (64 KiB): a chunk passes straight through, without
      // pausing the request after each one.
      writableHighWaterMark: 128 * 1024,
      transform(chunk: Buffer, _encoding, done) {
        // Beyond the budget only while others hold bytes too: a body alone always gets in.
        if (released || (bytes + chunk.length > limits.bodyBytes && bytes > held)) return done(refusal)
        held += chunk.length
        bytes += chunk.length
        report()
        done(null, chunk)
      },
    })
    // pipe() does not pass errors on: a body cut off by its client must end the read too.
    payload.once('error', (error) => counted.destroy(error))
    counted.once('error', () => {
      // The answer (503) goes out while the rest of the body is read and dropped, so that the
      // client sees it rather than a reset connection, and the connection can be reused.
      payload.unpipe(counted)
      payload.resume()
    })
    return payload.pipe(counted)
  })
  return {
    full: () => requests > 0 && (requests >= limits.requests || bytes >= limits.bodyBytes),
    message: refusal.message,
    onRoom: (listener) => roomListeners.push(listener),
  }
}

/** What the cheap refusal (shed.ts) asks the limiter. */
export interface InflightLimiter {
  /** Whether the next ingest request would be refused before its body. */
  full(): boolean
  /** The refusal's message. */
  message: string
  /** Calls `listener` each time an admitted request ends (its place is free again). */
  onRoom(listener: () => void): void
}
