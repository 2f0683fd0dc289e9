import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../../metrics.js'

const okOnly = { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } }

/** Health checks (the original's GET /, plus /healthz and /readyz) and Prometheus metrics. */
export function opsRoutes(app: FastifyInstance, metrics: Metrics): void {
  app.get('/', { schema: { summary: 'Health check, as the original', ...okOnly } }, async () => ({
    ok: true,
  }))
  app.get('/healthz', { schema: { summary: 'The process is alive', ...okOnly } }, async () => ({ ok: true }))
  app.get(
    '/readyz',
    {
      schema: {
        summary:
          'Ready for traffic: the log is recovered, open and taking commits, and every output took its last write (503 names what is not ready)',
        response: {
          200: okOnly.response[200],
          503: {
            type: 'object',
            properties: { ok: { type: 'boolean' }, not_ready: { type: 'array', items: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      const notReady = metrics.health.notReady()
      if (notReady.length === 0) return { ok: true }
      return reply.code(503).send({ ok: false, not_ready: notReady })
    },
  )
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text format)' } },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType)
      return metrics.registry.metrics()
    },
  )
}
