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
    { schema: { summary: 'The log is open and recovered: ready for traffic', ...okOnly } },
    async () => ({ ok: true }),
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
