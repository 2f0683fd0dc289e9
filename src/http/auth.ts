import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
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

/**
 * The token of `Authorization: Bearer <token>`, or undefined for another scheme or none. The
 * scheme is case-insensitive and one or more spaces separate it from the token (RFC 9110 §11.1).
 */
function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : /^bearer +(.*)$/i.exec(header)?.[1]
}

/** Whether a request carries the API key; every request does when none is set. */
export function apiKeyCheck(apiKey: string | undefined): (request: FastifyRequest) => boolean {
  const authorized = authorizationCheck(apiKey)
  return (request) => authorized(request.headers.authorization)
}

/** Whether an Authorization header carries the API key; any does when none is set. */
export function authorizationCheck(
  apiKey: string | undefined,
): (authorization: string | undefined) => boolean {
  if (apiKey === undefined) return () => true
  const matches = secretMatcher(apiKey)
  return (authorization) => {
    const token = bearerToken(authorization)
    return token !== undefined && matches(token)
  }
}

/**
 * An onRequest hook: every other request needs `Authorization: Bearer <API_KEY>` (401 with
 * `WWW-Authenticate: Bearer` otherwise, RFC 9110 §11.6.1).
 */
export function bearerAuth(apiKey: string) {
  const authorized = apiKeyCheck(apiKey)
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (isPublic(request) || authorized(request)) return
    reply.header('www-authenticate', 'Bearer')
    throw new BanditJoinError('BJ_ERR_UNAUTHORIZED', 'missing or wrong Authorization: Bearer <API_KEY>', 401)
  }
}
