import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { Ajv } from 'ajv'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify'
import type { Logger } from 'pino'
import { BanditJoinError } from '../errors.js'
import { parseJsonText } from '../ingest/json.js'
import { ajv } from '../ingest/validate.js'
import type { JoinedTail } from '../output/tail.js'
import { apiKeyCheck, authorizationCheck, bearerAuth } from './auth.js'
import { clientErrorHandler } from './client-errors.js'
import { checkBodyHeaders, checkQueryUtf8, ndjsonBody, utf8Body } from './encoding.js'
import { refusedType, sendError, toHttpError } from './errors.js'
import { type InflightLimits, limitInflight } from './inflight.js'
import { notFound } from './not-found.js'
import { observeHttp } from './observe.js'
import { swaggerOptions } from './openapi.js'
import { type IngestDeps, ingestRoutes } from './routes/ingest.js'
import { joinedRoute } from './routes/joined.js'
import { opsRoutes } from './routes/ops.js'
import { statusRoutes } from './routes/status.js'
import { shedBeforeRouting } from './shed.js'
import { HttpShutdown } from './shutdown.js'
import type { HttpTimeouts } from './timeouts.js'

export interface AppOptions extends IngestDeps {
  tail: JoinedTail | { notServed: string }
  logger: Logger
  maxBodyBytes: number
  apiKey: string | undefined
  timeouts: HttpTimeouts
  inflight: InflightLimits
}

export interface App {
  app: FastifyInstance
  /** Stops the HTTP API gracefully (see HttpShutdown). */
  shutdown: HttpShutdown
}

const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/ndjson']

/** Query strings are text: only they are coerced to the types their schema says. */
const queryAjv = new Ajv({ coerceTypes: true, useDefaults: true, strict: false })

/** The Fastify app of SPEC §1: routes with JSON schemas, from which validation and /openapi.json both come. */
export async function buildApp(options: AppOptions): Promise<App> {
  const { timeouts } = options
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes,
    forceCloseConnections: 'idle',
    // HttpShutdown answers requests that arrive while stopping, in the API's own format.
    return503OnClosing: false,
    clientErrorHandler: clientErrorHandler(timeouts),
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkIntervalMs },
  })
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'querystring' ? queryAjv.compile(schema) : ajv.compile(schema),
  )
  registerBodyParsers(app)
  app.setErrorHandler((error, request, reply) => {
    // A request for no route can fail before the not-found handler (a body method without a body type).
    if (request.is404) return unrouted(request, reply)
    const httpError = toHttpError(error as Error, request.body, options.maxBodyBytes)
    if (httpError.statusCode >= 500 && httpError.statusCode !== 503)
      request.log.error({ err: error }, 'request failed')
    else options.metrics.eventsRefused.inc({ type: refusedType(request), reason: httpError.code })
    return sendError(reply, httpError)
  })
  const unrouted = notFound(app)
  app.setNotFoundHandler(unrouted)
  if (options.apiKey !== undefined) app.addHook('onRequest', bearerAuth(options.apiKey))
  const shutdown = new HttpShutdown(app)
  const limiter = limitInflight(app, options.inflight, {
    requests: options.metrics.httpInflightRequests,
    bodyBytes: options.metrics.httpInflightBodyBytes,
  })
  const observer = observeHttp(app, options.metrics, options.logger)
  shedBeforeRouting(app.server, {
    full: limiter.full,
    onRoom: limiter.onRoom,
    message: limiter.message,
    authorized: authorizationCheck(options.apiKey),
    refused: observer.shed,
  })

  await app.register(swagger, swaggerOptions)
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  opsRoutes(app, options.metrics, apiKeyCheck(options.apiKey))
  statusRoutes(app, options.metrics)
  ingestRoutes(app, options)
  joinedRoute(app, options.tail)
  return { app, shutdown }
}

/** Where the app listens, as a URL (empty before listen). */
export function listeningAddress(app: FastifyInstance): string {
  const address = app.server.address()
  return typeof address === 'object' && address !== null ? `http://${address.address}:${address.port}` : ''
}

/**
 * JSON for the event routes (also when no Content-Type is sent, as the original's FastAPI
 * did), NDJSON for /events; anything else is 415. Both in UTF-8 and uncompressed (encoding.ts).
 */
function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.headers['content-type'] === undefined && hasBody(request)) {
      request.headers['content-type'] = isBatch(request) ? NDJSON_TYPES[0] : 'application/json'
    }
    done()
  })
  app.addHook('preParsing', async (request, reply, payload) => {
    if (hasBody(request)) checkBodyHeaders(request, reply)
    return payload
  })
  app.addHook('preValidation', async (request) => checkQueryUtf8(request))
  // Bytes, not strings: text decoded on the way in would already have lost what was not UTF-8.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (isBatch(request)) return done(wrongType(request, 'application/x-ndjson'))
    try {
      const text = utf8Body(body as Buffer)
      done(null, text === '' ? undefined : parseJsonText(text))
    } catch (error) {
      done(error as Error)
    }
  })
  app.addContentTypeParser(NDJSON_TYPES, { parseAs: 'buffer' }, (request, body, done) => {
    if (!isBatch(request)) return done(wrongType(request, 'application/json'))
    done(null, ndjsonBody(body as Buffer))
  })
  app.addContentTypeParser('*', (request, _payload, done) => {
    done(wrongType(request, isBatch(request) ? 'application/x-ndjson' : 'application/json'))
  })
}

const isBatch = (request: FastifyRequest) => request.routeOptions.url === '/events'

const hasBody = (request: FastifyRequest) =>
  request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0

function wrongType(request: FastifyRequest, expected: string): BanditJoinError {
  return new BanditJoinError(
    'BJ_ERR_CONTENT_TYPE',
    `Content-Type ${request.headers['content-type']} is not accepted here: send ${expected}`,
    415,
  )
}
