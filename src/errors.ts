/** Stable error codes: what callers and tests match on, independent of message wording (docs/errors.md). */
export const ERROR_CODES = [
  'BJ_ERR_MALFORMED_JSON',
  'BJ_ERR_FORBIDDEN_KEY',
  'BJ_ERR_INVALID_EVENT',
  'BJ_ERR_INVALID_BATCH',
  'BJ_ERR_TOO_LARGE',
  'BJ_ERR_CONTENT_TYPE',
  'BJ_ERR_CONTENT_ENCODING',
  'BJ_ERR_CONFLICT',
  'BJ_ERR_UNAUTHORIZED',
  'BJ_ERR_OVERLOADED',
  'BJ_ERR_UNAVAILABLE',
  'BJ_ERR_OUTCOME_UNKNOWN',
  'BJ_ERR_BAD_POSITION',
  'BJ_ERR_GONE',
  'BJ_ERR_CONFIG',
  'BJ_ERR_DATA_DIR',
  'BJ_ERR_KAFKA',
  'BJ_ERR_NOT_FOUND',
  'BJ_ERR_METHOD_NOT_ALLOWED',
  'BJ_ERR_NOT_SERVED',
  'BJ_ERR_INVALID_QUERY',
  'BJ_ERR_CONTENT_LENGTH',
  'BJ_ERR_BAD_URL',
  'BJ_ERR_BAD_REQUEST',
  'BJ_ERR_REQUEST_TIMEOUT',
  'BJ_ERR_HEADERS_TOO_LARGE',
  'BJ_ERR_NOT_READY',
  'BJ_ERR_INTERNAL',
  'BJ_ERR_UNCOMMITTED_AFTER_FAILURE',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** An error with a stable code and, where it maps to one, the HTTP status to answer with. */
export class BanditJoinError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly statusCode = 500,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BanditJoinError'
    this.retryAfterSeconds = options?.retryAfterSeconds
  }
  readonly retryAfterSeconds: number | undefined
}

export const invalidEvent = (message: string) => new BanditJoinError('BJ_ERR_INVALID_EVENT', message, 422)
export const tooLarge = (message: string) => new BanditJoinError('BJ_ERR_TOO_LARGE', message, 413)
export const overloaded = (message: string, retryAfterSeconds = 1) =>
  new BanditJoinError('BJ_ERR_OVERLOADED', message, 503, { retryAfterSeconds })
export const shuttingDown = () =>
  new BanditJoinError('BJ_ERR_UNAVAILABLE', 'the service is shutting down', 503, { retryAfterSeconds: 5 })
export const configError = (message: string) => new BanditJoinError('BJ_ERR_CONFIG', message)
/**
 * The embedded log refused a commit without trying it: an earlier commit, still unreported when
 * this one was asked for, failed (the engine it was built on is being rebuilt).
 */
export const uncommittedAfterFailure = () =>
  new BanditJoinError('BJ_ERR_UNCOMMITTED_AFTER_FAILURE', 'not committed: an earlier commit failed')
