import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { errorSchema } from '../../ingest/schemas.js'
import type { Metrics } from '../../metrics.js'
import { bearerSecurity, TAGS } from '../openapi.js'
import { statsSchema } from '../stats-schema.js'

/** The page's files, next to the compiled routes (the build copies them: scripts/copy-assets.mjs). */
const ASSETS = new URL('../status/', import.meta.url)

/** The status page as one document: its style and script inlined, read once at start. */
function statusPage(): string {
  const read = (name: string) => readFileSync(new URL(name, ASSETS), 'utf8')
  return read('status.html')
    .replace('/* STYLE */', () => read('status.css'))
    .replace('/* SCRIPT */', () => read('status.js'))
}

/** The hash source a Content-Security-Policy allows one inline `<tag>` of the page by. */
function inlineHash(page: string, tag: 'script' | 'style'): string {
  const text = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(page)?.[1] ?? ''
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`
}

/**
 * The page runs its own inline script and style and reads /stats, nothing else: no injected
 * markup could run or load anything, and no other site may frame it (clickjacking of the key form).
 */
function securityHeaders(page: string): Record<string, string> {
  const policy = [
    "default-src 'none'",
    `script-src ${inlineHash(page, 'script')}`,
    `style-src ${inlineHash(page, 'style')}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ]
  return {
    'content-security-policy': policy.join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
  }
}

/**
 * GET /stats: what the status page shows, as JSON (needs the API key when one is set), and
 * GET /status: the live page itself (public; it asks for the key to read /stats).
 */
export function statusRoutes(app: FastifyInstance, metrics: Metrics): void {
  const page = statusPage()
  const headers = securityHeaders(page)
  app.get(
    '/stats',
    {
      schema: {
        operationId: 'getStats',
        tags: [TAGS.status],
        security: bearerSecurity,
        response: { 200: statsSchema, 401: errorSchema },
        summary:
          'Live statistics: the version, readiness, output lag and dead letters by reason, throughput per second over the last 10 minutes, pending decisions, reward outcomes, and the reward-delay histogram with the share of rewards each candidate window would keep',
      },
    },
    () => metrics.status(),
  )
  const pageSchema = {
    operationId: 'statusPage',
    tags: [TAGS.status],
    summary: 'The live status page (HTML)',
    response: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
  }
  app.get('/status', { schema: pageSchema }, async (_request, reply) => {
    reply
      .headers(headers)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
    return page
  })
}
