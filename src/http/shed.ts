import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { INGEST_ROUTE_TYPES } from './errors.js'

/** What a cheap refusal needs to know and to tell. */
export interface ShedOptions {
  /** Whether the in-flight limits are reached (InflightLimiter.full). */
  full(): boolean
  /** The refusal's message (the API's `error`). */
  message: string
  /** Whether the request carries the API key: one that does not is left to Fastify (401). */
  authorized(authorization: string | undefined): boolean
  /** Counts a refusal (metrics, the back-pressure log), by route. */
  refused(route: string): void
}

/**
 * Cheap refusal: while the in-flight limits are reached, an ingest request is
 * answered 503 from the server's own `request` event, before Fastify builds its request and
 * reply, routes it, runs its hooks, reads or parses its body: a small preformatted answer with
 * `Retry-After: 1` in the API's shape. Clients that retry 503s at once (ignoring Retry-After) then
 * cost little more than their bytes, and the requests admitted keep the CPU. Node reads and drops
 * the unread body after the answer, so the connection stays usable. The limiter's own preParsing
 * check (inflight.ts) still refuses what gets past this one (and requests made by inject()).
 */
export function shedBeforeRouting(server: Server, options: ShedOptions): void {
  const handlers = server.listeners('request')
  const handler = handlers[0] as ((request: IncomingMessage, response: ServerResponse) => void) | undefined
  if (handlers.length !== 1 || handler === undefined) {
    throw new Error(`expected one request handler (Fastify's), found ${handlers.length}`)
  }
  const body = Buffer.from(JSON.stringify({ ok: false, code: 'BJ_ERR_OVERLOADED', error: options.message }))
  const headers = [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(body.length),
    'retry-after',
    '1',
  ]
  server.removeListener('request', handler)
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.method === 'POST' && options.full()) {
      const route = ingestRoute(request.url ?? '')
      if (route !== undefined && options.authorized(request.headers.authorization)) {
        response.writeHead(503, headers)
        response.end(body)
        options.refused(route)
        return
      }
    }
    handler.call(server, request, response)
  })
}

/** The ingest route a request URL names (the path before any query), or undefined. */
function ingestRoute(url: string): string | undefined {
  const query = url.indexOf('?')
  const path = query === -1 ? url : url.slice(0, query)
  return Object.hasOwn(INGEST_ROUTE_TYPES, path) ? path : undefined
}
