import { BanditJoinClientError, networkError } from './errors.js'

/** How a request that failed for a passing reason (503, no answer) is sent again. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. @default 10 */
  maxAttempts: number
  /** No attempt starts later than this long after the first. @default 30000 */
  maxElapsedMs: number
  /** The first wait; each next one doubles, up to maxDelayMs. @default 100 */
  baseDelayMs: number
  /** @default 5000 */
  maxDelayMs: number
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 10,
  maxElapsedMs: 30_000,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
}

/**
 * The wait before attempt `attempt + 1`: the service's Retry-After when it sent one, else
 * exponential backoff; both with jitter (up to +50% of Retry-After, "equal jitter" on backoff)
 * so that many clients told to come back at once do not all come back at the same moment.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return retryAfterMs * (1 + Math.random() / 2)
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
  return backoff / 2 + (Math.random() * backoff) / 2
}

/**
 * Runs `attempt` until it succeeds, fails for good (a refusal other than 503), or the policy's
 * budget is spent; then throws the last error. Network failures become BanditJoinClientError.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const started = Date.now()
  for (let n = 1; ; n++) {
    let error: BanditJoinClientError
    try {
      return await attempt()
    } catch (caught) {
      if (signal?.aborted) throw caught
      error = caught instanceof BanditJoinClientError ? caught : networkError(caught)
    }
    if (!error.retryable || n >= policy.maxAttempts) throw error
    const delay = retryDelayMs(policy, n, error.retryAfterMs)
    if (Date.now() + delay - started > policy.maxElapsedMs) throw error
    await sleep(delay, signal)
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(done, ms)
    function done() {
      signal?.removeEventListener('abort', aborted)
      resolve()
    }
    function aborted() {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', aborted, { once: true })
  })
}
