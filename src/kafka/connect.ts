/**
 * The Kafka mode's first step: reach a broker of KAFKA_BROKERS, or say at once which broker fails
 * and why. Without it the client library retries in silence for 10-16 s and then throws
 * `metadata failed 31 times` with no cause worth reading.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin, type BaseOptions } from '@platformatic/kafka'
import type { Logger } from 'pino'
import { BanditJoinError } from '../errors.js'

/** Between rounds of attempts: a broker that is still starting gets the time to. */
const RETRY_PAUSE_MS = 1000
/** One attempt's longest wait for a connection or an answer. */
const ATTEMPT_TIMEOUT_MS = 5000
/** The shortest: an attempt cut shorter would report a timeout that is only the deadline's. */
const LAST_ATTEMPT_MS = 500

interface Failure {
  reason: string
  /** Will not change by trying again (a certificate, a password). */
  final: boolean
}

/** Every error an error holds (MultipleErrors' `errors`, `cause`), itself first. */
function* nested(error: unknown, depth = 0): Generator<Record<string, unknown>> {
  if (typeof error !== 'object' || error === null || depth > 8) return
  const e = error as { errors?: unknown[]; cause?: unknown }
  yield e as Record<string, unknown>
  for (const inner of e.errors ?? []) yield* nested(inner, depth + 1)
  yield* nested(e.cause, depth + 1)
}

const TLS_CODE = /^(ERR_TLS|ERR_SSL|ERR_OSSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/

/** Why one broker could not be reached, in words an operator acts on. */
export function failureOf(error: unknown): Failure {
  const all = [...nested(error)]
  const code = (e: Record<string, unknown>) => String(e.code ?? '')
  const message = (e: Record<string, unknown>) => String(e.message ?? e)
  const auth = all.find((e) => code(e) === 'PLT_KFK_AUTHENTICATION' || /SASL/.test(String(e.apiId ?? '')))
  if (auth !== undefined) return { reason: `authentication failed (SASL): ${message(auth)}`, final: true }
  const tls = all.find((e) => TLS_CODE.test(code(e)) || /certificate|SSL routines|TLS/i.test(message(e)))
  if (tls !== undefined) return { reason: `TLS failed: ${message(tls)}`, final: true }
  for (const e of all) {
    switch (code(e)) {
      case 'ECONNREFUSED':
        return { reason: 'connection refused (nothing listens there)', final: false }
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EAI_NONAME':
        return { reason: `host name not resolved (DNS: ${code(e)})`, final: false }
      case 'ETIMEDOUT':
      case 'PLT_KFK_TIMEOUT':
        return { reason: 'no answer (timed out)', final: false }
      case 'ECONNRESET':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return { reason: `network error (${code(e)})`, final: false }
    }
  }
  if (all.some((e) => e.message === 'Connection closed')) {
    // What a TLS or SASL listener does to a client that speaks neither.
    return { reason: 'the connection was closed at once (a TLS or SASL listener? not Kafka?)', final: false }
  }
  const deepest = all.at(-1)
  return { reason: deepest === undefined ? String(error) : message(deepest), final: false }
}

/** Asks one broker for the cluster's metadata, with no retries of the library's own. */
async function attempt(broker: string, client: BaseOptions, timeoutMs: number): Promise<Failure | undefined> {
  const admin = new Admin({
    ...client,
    clientId: `${client.clientId}-connect`,
    bootstrapBrokers: [broker],
    retries: 0,
    connectTimeout: timeoutMs,
    timeout: timeoutMs,
  })
  try {
    await admin.metadata({ topics: [] })
    return undefined
  } catch (error) {
    return failureOf(error)
  } finally {
    await admin.close().catch(() => {})
  }
}

/**
 * Resolves once a broker of `client.bootstrapBrokers` answers. Tries them all at once, again
 * every second while the failures may pass (refused, DNS, timeouts), until `timeoutMs` has passed
 * (the last attempt waits at least LAST_ATTEMPT_MS, so it ends within `timeoutMs` + 1 s); a TLS
 * or authentication failure ends it at once. Then throws BJ_ERR_KAFKA naming each broker and why.
 */
export async function connectToBrokers(
  client: BaseOptions & { bootstrapBrokers: string[] },
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  const brokers = client.bootstrapBrokers
  logger.info({ brokers, timeoutMs }, `connecting to Kafka at ${brokers.join(',')}`)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const wait = Math.min(ATTEMPT_TIMEOUT_MS, Math.max(LAST_ATTEMPT_MS, deadline - Date.now()))
    const failures = await Promise.all(brokers.map((broker) => attempt(broker, client, wait)))
    if (failures.some((f) => f === undefined)) {
      logger.info({ brokers }, 'connected to Kafka')
      return
    }
    const final = failures.some((f) => f?.final)
    const left = deadline - Date.now()
    if (final || left <= 0) {
      const each = brokers.map((b, i) => `${b}: ${failures[i]?.reason}`).join('; ')
      const within = final ? '' : ` within KAFKA_CONNECT_TIMEOUT_MS=${timeoutMs}`
      throw new BanditJoinError(
        'BJ_ERR_KAFKA',
        `cannot reach the Kafka brokers of KAFKA_BROKERS${within}: ${each}`,
      )
    }
    logger.debug({ failures: failures.map((f) => f?.reason) }, 'no Kafka broker answered yet; trying again')
    await sleep(Math.min(RETRY_PAUSE_MS, left))
  }
}
