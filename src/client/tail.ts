import { answerError, BanditJoinClientError, networkError } from './errors.js'
import { type RetryPolicy, retryDelayMs, sleep } from './retry.js'
import type { Transport } from './transport.js'
import type { DsjsonRecord, JoinedRecord } from './types.js'

export type JoinedFormat = 'json' | 'dsjson'

export interface JoinedOptions<F extends JoinedFormat> {
  /** First position wanted: last seen `seq` + 1. Without it, only records emitted from now on. */
  from?: number
  /** @default 'json' */
  format?: F
  /** Ends the iteration (and the connection) when aborted. */
  signal?: AbortSignal
  /**
   * How reconnections are paced and bounded, counted from the last good connection.
   * @default keeps reconnecting (no budget), waiting 100 ms doubling up to 5 s
   */
  retry?: Partial<RetryPolicy>
  /** A connection that sends nothing (no record, no keep-alive line) this long is dropped and resumed. @default 45000 */
  idleTimeoutMs?: number
}

export type RecordOf<F extends JoinedFormat> = F extends 'dsjson' ? DsjsonRecord : JoinedRecord

const TAIL_RETRY: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  maxElapsedMs: Number.POSITIVE_INFINITY,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
}

/** Where a stream starts, sent by the service, so that a resume never depends on having seen a record. */
const FROM_HEADER = 'banditjoin-from'

/**
 * `GET /joined` as an endless iteration that survives disconnects and restarts of the service:
 * it reconnects with `from` = last `seq` + 1, so each record comes exactly once, in order.
 * Refusals that waiting cannot fix end it with a BanditJoinClientError: 410 (the position is
 * older than the retention: records were missed), 400, 401, and 404 BJ_ERR_NOT_SERVED (the
 * Kafka mode, where the learner reads the output topic).
 */
export async function* joinedRecords<F extends JoinedFormat>(
  transport: Transport,
  options: JoinedOptions<F>,
): AsyncGenerator<RecordOf<F>, void, undefined> {
  const policy = { ...TAIL_RETRY, ...options.retry }
  const idleMs = options.idleTimeoutMs ?? 45_000
  let next = options.from
  let failures = 0
  let failingSince = 0
  for (;;) {
    if (options.signal?.aborted) return
    const connection = new AbortController()
    const abort = () => connection.abort()
    options.signal?.addEventListener('abort', abort, { once: true })
    let error: BanditJoinClientError
    try {
      const response = await fetch(transport.url(query(next, options.format)), {
        headers: transport.headers(),
        signal: connection.signal,
      })
      if (!response.ok) {
        error = await answerError(response)
        if (!error.retryable) throw error
      } else {
        const from = Number(response.headers.get(FROM_HEADER))
        if (next === undefined && Number.isInteger(from) && from > 0) next = from
        failures = 0
        for await (const line of lines(response, connection, idleMs)) {
          const record = JSON.parse(line) as RecordOf<F>
          next = record.seq + 1
          yield record
        }
        error = networkError(new Error('the service ended the stream'))
      }
    } catch (caught) {
      if (options.signal?.aborted) return
      if (caught instanceof BanditJoinClientError && !caught.retryable) throw caught
      error = caught instanceof BanditJoinClientError ? caught : networkError(caught)
    } finally {
      options.signal?.removeEventListener('abort', abort)
      connection.abort()
    }
    if (failures === 0) failingSince = Date.now()
    failures++
    const delay = retryDelayMs(policy, failures, error.retryAfterMs)
    if (failures >= policy.maxAttempts || Date.now() + delay - failingSince > policy.maxElapsedMs) throw error
    try {
      await sleep(delay, options.signal)
    } catch {
      return
    }
  }
}

function query(from: number | undefined, format: JoinedFormat | undefined): string {
  const params = new URLSearchParams()
  if (from !== undefined) params.set('from', String(from))
  if (format !== undefined) params.set('format', format)
  const text = params.toString()
  return text === '' ? '/joined' : `/joined?${text}`
}

/** The non-blank lines of an NDJSON body as they arrive; a silence longer than `idleMs` aborts it. */
async function* lines(
  response: Response,
  connection: AbortController,
  idleMs: number,
): AsyncGenerator<string> {
  if (response.body === null) return
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let idle = setTimeout(() => connection.abort(), idleMs)
  let rest = ''
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      clearTimeout(idle)
      idle = setTimeout(() => connection.abort(), idleMs)
      const parts = (rest + value).split('\n')
      rest = parts.pop() ?? ''
      for (const part of parts) if (part.trim() !== '') yield part
    }
  } finally {
    clearTimeout(idle)
    reader.releaseLock()
  }
}
