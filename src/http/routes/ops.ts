import type { FastifyInstance, FastifyRequest } from 'fastify'
import { errorSchema } from '../../ingest/schemas.js'
import type { Metrics } from '../../metrics.js'
import { bearerSecurity, jsonError, TAGS } from '../openapi.js'

const okOnly = { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } }

/**
 * Health checks (the original's GET /, plus /healthz and /readyz) and Prometheus metrics.
 * /readyz is public, but why the service is not ready (paths, OS errors) only goes to requests
 * that carry the API key when one is set (`authorized`).
 */
export function opsRoutes(
  app: FastifyInstance,
  metrics: Metrics,
  authorized: (request: FastifyRequest) => boolean,
): void {
  const ops = (operationId: string) => ({ operationId, tags: [TAGS.ops] })
  app.get(
    '/',
    { schema: { ...ops('root'), summary: 'Health check, as the original', ...okOnly } },
    async () => ({
      ok: true,
    }),
  )
  app.get(
    '/healthz',
    { schema: { ...ops('healthz'), summary: 'The process is alive', ...okOnly } },
    async () => ({
      ok: true,
    }),
  )
  app.get(
    '/readyz',
    {
      schema: {
        ...ops('readyz'),
        summary:
          'Ready for traffic: the log is recovered, open and taking commits, and every output took its last write (503 names what is not ready; with API_KEY set, only to requests that carry the key)',
        response: {
          200: okOnly.response[200],
          503: {
            ...errorSchema,
            properties: {
              ...errorSchema.properties,
              not_ready: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const notReady = metrics.health.notReady()
      if (notReady.length === 0) return { ok: true }
      if (!authorized(request)) {
        const error = 'not ready (send the API key for the reasons)'
        return reply.code(503).send({ ok: false, code: 'BJ_ERR_NOT_READY', error })
      }
      return reply.code(503).send({
        ok: false,
        code: 'BJ_ERR_NOT_READY',
        error: `not ready: ${notReady.join(', ')}`,
        not_ready: notReady,
      })
    },
  )
  app.get(
    '/metrics',
    {
      schema: {
        ...ops('metrics'),
        security: bearerSecurity,
        summary: 'Prometheus metrics (text format)',
        response: {
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          401: jsonError('Missing or wrong API key (BJ_ERR_UNAUTHORIZED)'),
        },
      },
    },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType)
      return metrics.registry.metrics()
    },
  )
}
