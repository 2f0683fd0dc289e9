import { answerError } from './errors.js'
import { type RetryPolicy, withRetries } from './retry.js'

export interface TransportOptions {
  /** The service's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string
  /** Sent as `Authorization: Bearer <apiKey>` (needed when the service runs with API_KEY). */
  apiKey?: string
  retry: RetryPolicy
  /** Each attempt is given up after this long (and retried). @default 10000 */
  timeoutMs: number
}

/** Sends requests to the service with the global `fetch`, authenticated and retried. */
export class Transport {
  private readonly base: string

  constructor(readonly options: TransportOptions) {
    this.base = options.url.replace(/\/+$/, '')
  }

  url(path: string): string {
    return `${this.base}${path}`
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const { apiKey } = this.options
    return apiKey === undefined ? extra : { authorization: `Bearer ${apiKey}`, ...extra }
  }

  /** POSTs `body` (already serialised) and returns the answer's JSON, retrying per the policy. */
  post<T>(path: string, body: string, contentType: string): Promise<T> {
    return withRetries(this.options.retry, async () => {
      const response = await fetch(this.url(path), {
        method: 'POST',
        headers: this.headers({ 'content-type': contentType }),
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      })
      if (!response.ok) throw await answerError(response)
      return (await response.json()) as T
    })
  }

  /** GETs JSON (`/stats`, `/readyz`, ...), retrying per the policy. */
  get<T>(path: string): Promise<T> {
    return withRetries(this.options.retry, async () => {
      const response = await fetch(this.url(path), {
        headers: this.headers(),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      })
      if (!response.ok) throw await answerError(response)
      return (await response.json()) as T
    })
  }
}
