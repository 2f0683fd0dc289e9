import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { BanditJoinError } from '../errors.js'

/** Paths anyone may read when API_KEY is set (SPEC §7). */
const PUBLIC_PATHS = new Set(['/', '/healthz', '/readyz', '/openapi.json', '/status'])

function isPublic(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0] ?? ''
  if (request.method !== 'GET' && request.method !== 'HEAD') return false
  return PUBLIC_PATHS.has(path) || path === '/docs' || path.startsWith('/docs/')
}

const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * A check of text against `secret` in a time that depends on neither (not even on their lengths):
 * their SHA-256 digests, always of the same length, are compared with crypto.timingSafeEqual.
 */
export function secretMatcher(secret: string): (given: string) => boolean {
  const expected = digest(secret)
  return (given) => timingSafeEqual(digest(given), expected)
}

/** An onRequest hook: every other request needs `Authorization: Bearer <API_KEY>` (401 otherwise). */
export function bearerAuth(apiKey: string) {
  const matches = secretMatcher(`Bearer ${apiKey}`)
  return async (request: FastifyRequest) => {
    if (isPublic(request)) return
    if (!matches(request.headers.authorization ?? '')) {
      throw new BanditJoinError(
        'BJ_ERR_UNAUTHORIZED',
        'missing or wrong Authorization: Bearer <API_KEY>',
        401,
      )
    }
  }
}
