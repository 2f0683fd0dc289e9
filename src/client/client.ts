import { Batcher, type BatcherOptions, DEFAULT_BATCHER } from './batcher.js'
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js'
import { type JoinedFormat, type JoinedOptions, joinedRecords, type RecordOf } from './tail.js'
import { Transport } from './transport.js'
import type { Ack, BatchEvent, Decision, Reward } from './types.js'

export interface ClientOptions {
  /** The service's base URL. @default 'http://127.0.0.1:8080' */
  url?: string
  /** Sent as `Authorization: Bearer <apiKey>`; needed when the service runs with API_KEY. */
  apiKey?: string
  /** Retries of requests refused with 503 or left without an answer. @default DEFAULT_RETRY */
  retry?: Partial<RetryPolicy>
  /** Each attempt is given up (and retried) after this long. @default 10000 */
  timeoutMs?: number
  /** When `batch()` sends. @default DEFAULT_BATCHER */
  batch?: Partial<BatcherOptions>
}

/**
 * A client of banditjoin's HTTP API (SPEC §1, §4). Every send is retried on 503 (after the
 * service's Retry-After) and when no answer comes, within a bounded budget; that is safe
 * because a decision sent twice is answered as a duplicate and a reward carries an `id`.
 */
export class BanditJoinClient {
  private readonly transport: Transport
  private readonly batcher: Batcher

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport({
      url: options.url ?? 'http://127.0.0.1:8080',
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      retry: { ...DEFAULT_RETRY, ...options.retry },
      timeoutMs: options.timeoutMs ?? 10_000,
    })
    this.batcher = new Batcher(this.transport, { ...DEFAULT_BATCHER, ...options.batch })
  }

  /** `POST /log_decision`: resolves once the decision is durably logged. */
  logDecision(decision: Decision): Promise<Ack> {
    return this.transport.post('/log_decision', JSON.stringify(decision), 'application/json')
  }

  /** `POST /log_reward`, with a fresh `id` when none is given, so that a retry counts once. */
  logReward(reward: Reward): Promise<Ack> {
    return this.transport.post('/log_reward', JSON.stringify(withId(reward)), 'application/json')
  }

  /** `POST /override_decision`: business logic overrode decision `key`; it will not reach the learner. */
  override(key: string): Promise<Ack> {
    return this.transport.post('/override_decision', JSON.stringify({ key }), 'application/json')
  }

  /** `POST /activate_decision`: a deferred decision was really carried out. */
  activate(key: string): Promise<Ack> {
    return this.transport.post('/activate_decision', JSON.stringify({ key }), 'application/json')
  }

  /**
   * Queues an event for `POST /events`, sent with others by size or time (`batch` option);
   * resolves once its batch is durably logged. A refused batch rejects every event in it.
   */
  batch(event: BatchEvent): Promise<void> {
    return this.batcher.add(event.type === 'reward' ? withId(event) : event)
  }

  /** Sends the queued events now; resolves once every batch sent so far has its answer. */
  flush(): Promise<void> {
    return this.batcher.flush()
  }

  /**
   * The joined records, as they are emitted: `for await (const record of client.joined({ from }))`.
   * Resumes after a disconnect or a restart of the service from the last `seq` + 1. Not served
   * in the Kafka mode (SPEC §5): there it ends at once with BJ_ERR_NOT_SERVED.
   */
  joined<F extends JoinedFormat = 'json'>(options: JoinedOptions<F> = {}): AsyncGenerator<RecordOf<F>, void> {
    return joinedRecords(this.transport, options)
  }
}

function withId<R extends Reward>(reward: R): R {
  return reward.id === undefined ? { ...reward, id: crypto.randomUUID() } : reward
}
