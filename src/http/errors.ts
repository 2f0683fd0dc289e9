import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { BanditJoinError } from '../errors.js'
import { describeValidationError } from '../ingest/validate.js'

/** Maps any error to SPEC §1's answer: a 4xx/5xx with `{"ok": false, "error": "..."}`. */
export function toHttpError(
  error: FastifyError | BanditJoinError | Error,
  body: unknown,
  maxBodyBytes: number,
): BanditJoinError {
  if (error instanceof BanditJoinError) return error
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) {
    const first = fastifyError.validation[0]
    const prefix = fastifyError.validationContext === 'querystring' ? 'query parameter ' : ''
    const data = fastifyError.validationContext === 'querystring' ? undefined : body
    const message = first === undefined ? fastifyError.message : describeValidationError(first as never, data)
    return new BanditJoinError('BJ_ERR_INVALID_EVENT', `${prefix}${message}`, 422)
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BanditJoinError(
        'BJ_ERR_TOO_LARGE',
        `body is larger than MAX_BODY_BYTES=${maxBodyBytes}`,
        413,
      )
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BanditJoinError('BJ_ERR_CONTENT_TYPE', fastifyError.message, fastifyError.statusCode ?? 415)
    default:
      if (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500) {
        return new BanditJoinError('BJ_ERR_INVALID_EVENT', fastifyError.message, fastifyError.statusCode)
      }
      return new BanditJoinError('BJ_ERR_UNAVAILABLE', 'internal error', 500, { cause: error })
  }
}

export function sendError(reply: FastifyReply, error: BanditJoinError) {
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
  return reply.code(error.statusCode).send({ ok: false, error: error.message })
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
