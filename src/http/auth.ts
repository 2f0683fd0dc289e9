import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { BanditJoinError } from '../errors.js'

/** Paths anyone may read when API_KEY is set (SPEC §7). */
const PUBLIC_PATHS = new Set(['/', '/healthz', '/readyz', '/openapi.json', '/status'])

function isPublic(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0] ?? ''
  if (request.method !== 'GET' && request.method !== 'HEAD') return false
  return PUBLIC_PATHS.has(path) || path === '/docs' || path.startsWith('/docs/')
}

/** An onRequest hook: every other request needs `Authorization: Bearer <API_KEY>` (401 otherwise). */
export function bearerAuth(apiKey: string) {
  const expected = Buffer.from(`Bearer ${apiKey}`)
  return async (request: FastifyRequest) => {
    if (isPublic(request)) return
    const given = Buffer.from(request.headers.authorization ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new BanditJoinError(
        'BJ_ERR_UNAUTHORIZED',
        'missing or wrong Authorization: Bearer <API_KEY>',
        401,
      )
    }
  }
}
