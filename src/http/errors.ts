import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { BanditJoinError } from '../errors.js'
import { describeValidationError } from '../ingest/validate.js'

/**
 * Maps any error to SPEC §1's answer: a 4xx/5xx with `{"ok": false, "code": "BJ_ERR_...", "error": "..."}`.
 * Fastify's own errors get codes of their own, so that a client can tell them apart (docs/errors.md).
 */
export function toHttpError(
  error: FastifyError | BanditJoinError | Error,
  body: unknown,
  maxBodyBytes: number,
): BanditJoinError {
  if (error instanceof BanditJoinError) return error
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) {
    const first = fastifyError.validation[0]
    if (fastifyError.validationContext === 'querystring') {
      const message =
        first === undefined ? fastifyError.message : describeValidationError(first as never, undefined)
      return new BanditJoinError('BJ_ERR_INVALID_QUERY', `query parameter ${message}`, 422)
    }
    const message = first === undefined ? fastifyError.message : describeValidationError(first as never, body)
    return new BanditJoinError('BJ_ERR_INVALID_EVENT', message, 422)
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BanditJoinError(
        'BJ_ERR_TOO_LARGE',
        `body is larger than MAX_BODY_BYTES=${maxBodyBytes}`,
        413,
      )
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new BanditJoinError('BJ_ERR_CONTENT_TYPE', fastifyError.message, 415)
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BanditJoinError('BJ_ERR_CONTENT_LENGTH', fastifyError.message, 400)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new BanditJoinError('BJ_ERR_MALFORMED_JSON', fastifyError.message, 400)
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_INVALID_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new BanditJoinError('BJ_ERR_BAD_URL', fastifyError.message, fastifyError.statusCode ?? 400)
    default:
      if (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500) {
        return new BanditJoinError('BJ_ERR_BAD_REQUEST', fastifyError.message, fastifyError.statusCode)
      }
      return new BanditJoinError('BJ_ERR_INTERNAL', 'internal error', 500, { cause: error })
  }
}

export function sendError(reply: FastifyReply, error: BanditJoinError) {
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
  return reply.code(error.statusCode).send({ ok: false, code: error.code, error: error.message })
}

/** The ingest routes (SPEC §1) and the event type each one carries. */
export const INGEST_ROUTE_TYPES: Readonly<Record<string, string>> = {
  '/log_decision': 'decision',
  '/log_reward': 'reward',
  '/override_decision': 'override',
  '/log_override': 'override',
  '/activate_decision': 'activate',
  '/events': 'batch',
}

/** The event type a refused request was about, for the refusal metric. */
export function refusedType(request: FastifyRequest): string {
  const url = request.routeOptions.url ?? ''
  return Object.hasOwn(INGEST_ROUTE_TYPES, url) ? (INGEST_ROUTE_TYPES[url] as string) : 'other'
}
