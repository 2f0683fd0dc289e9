/** Why a request failed: the service's refusal (its status and stable code), or the network. */
export class BanditJoinClientError extends Error {
  constructor(
    /** The service's code (`BJ_ERR_…`, docs/errors.md), or `BJ_CLIENT_NETWORK` when no answer came. */
    readonly code: string,
    message: string,
    /** The HTTP status; undefined when no answer came. */
    readonly status?: number,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BanditJoinClientError'
    this.retryAfterMs = options?.retryAfterMs
  }
  /** From the answer's Retry-After, when it had one. */
  readonly retryAfterMs: number | undefined

  /** Worth sending again: the service was busy or stopping (503), or no answer came. */
  get retryable(): boolean {
    return this.status === undefined || this.status === 503
  }
}

/** The error of an answer that is not 2xx, from its `{"ok": false, "code", "error"}` body. */
export async function answerError(response: Response): Promise<BanditJoinClientError> {
  const text = await response.text().catch(() => '')
  let body: { code?: unknown; error?: unknown } = {}
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    // Not the API's own body (a proxy's page, say): the status says enough.
  }
  const code = typeof body.code === 'string' ? body.code : `HTTP_${response.status}`
  const message = typeof body.error === 'string' ? body.error : text.slice(0, 200) || response.statusText
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'))
  return new BanditJoinClientError(code, `${response.status} ${code}: ${message}`, response.status, {
    ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
  })
}

export function networkError(cause: unknown): BanditJoinClientError {
  const detail =
    cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : ''
  return new BanditJoinClientError('BJ_CLIENT_NETWORK', `no answer from the service: ${detail}`, undefined, {
    cause,
  })
}

/** Retry-After in milliseconds: delay-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
