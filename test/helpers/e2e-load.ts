import { sleep } from '../kit/wait.js'
import { type HttpAnswer, postBatch, postJson } from './e2e-http.js'

export { seeded as seededRandom } from '../../demo/world.js'

/** What the client knows about one event it sent. */
export type Outcome = 'acked' | 'refused' | 'unknown'

export interface SentDecision {
  key: string
  body: { key: string; action: number; probability: number; context: unknown }
  outcome: Outcome
  /** Local time of the 200 (acked only). */
  ackMs?: number
}

export interface SentReward {
  key: string
  /** A power of two, so that a REWARD_AGG=sum record says exactly which rewards counted. */
  reward: number
  outcome: Outcome
  ackMs?: number
}

/**
 * What clients sent and were told, event by event: the oracle's input. One ledger can collect
 * the events of several loads (one per run of the service, across restarts).
 */
export class Ledger {
  readonly decisions = new Map<string, SentDecision>()
  readonly rewards: SentReward[] = []
  private readonly rewardsByKey = new Map<string, SentReward[]>()

  rewardsOf(key: string): SentReward[] {
    return this.rewardsByKey.get(key) ?? []
  }

  /** A reward of `value` for `key`, to be sent (its outcome is filled in when it is). */
  planReward(key: string, value: number): SentReward {
    const reward: SentReward = { key, reward: value, outcome: 'unknown' }
    this.rewards.push(reward)
    const forKey = this.rewardsByKey.get(key)
    if (forKey === undefined) this.rewardsByKey.set(key, [reward])
    else forKey.push(reward)
    return reward
  }

  count(outcome: Outcome): { decisions: number; rewards: number } {
    let decisions = 0
    for (const d of this.decisions.values()) if (d.outcome === outcome) decisions++
    return { decisions, rewards: this.rewards.filter((r) => r.outcome === outcome).length }
  }
}

export interface LoadOptions {
  base: string
  /** Where the events are recorded (a new ledger by default). */
  ledger?: Ledger
  /** Keys are `<prefix>-<n>-<random>`: distinct prefixes keep several loads' keys apart. @default 'crash' */
  keyPrefix?: string
  decisions: number
  /** Requests in flight at once. */
  concurrency: number
  /** One task in this many is an NDJSON batch. */
  batchEvery: number
  batchSize: number
  /** Some decisions get one more reward (worth 8), sent this long after their acknowledgement. */
  lateRewardAfterMs?: number
  /** Called after every acknowledged request with the number of events acknowledged so far. */
  onAck?(ackedEvents: number): void
  random?: () => number
}

/**
 * Mixed concurrent load: single decisions, single rewards (each sent only after its decision was
 * acknowledged: 0 to 3 of them, worth 1, 2 and 4, and for some decisions a late one worth 8) and
 * NDJSON batches of both, recording the outcome of every event. Stops issuing requests once
 * `stop()` was called.
 */
export class Load {
  readonly ledger: Ledger
  ackedEvents = 0
  requests = 0
  inFlight = 0
  private stopped = false
  private nextDecision = 0
  private readonly readyRewards: SentReward[] = []
  private readonly delayedRewards: { reward: SentReward; atMs: number }[] = []
  private readonly random: () => number

  constructor(private readonly options: LoadOptions) {
    this.random = options.random ?? Math.random
    this.ledger = options.ledger ?? new Ledger()
  }

  stop(): void {
    this.stopped = true
  }

  /** Runs until every planned event was sent (or stop() was called). */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.concurrency }, () => this.worker()))
  }

  private async worker(): Promise<void> {
    let idle = 0
    while (!this.stopped) {
      const task = this.nextTask()
      if (task === undefined) {
        // Rewards may still come from decisions in flight on other workers, or be delayed. Real
        // time: the load runs against a service in a child process (or on a broker).
        const waiting = this.delayedRewards.length > 0
        if (this.nextDecision >= this.options.decisions && !waiting && idle++ > 100) return
        await sleep(5)
        continue
      }
      idle = 0
      this.requests++
      this.inFlight++
      try {
        await task()
      } finally {
        this.inFlight--
      }
    }
  }

  private nextTask(): (() => Promise<void>) | undefined {
    const { batchEvery, batchSize } = this.options
    const now = Date.now()
    while ((this.delayedRewards[0]?.atMs ?? Number.POSITIVE_INFINITY) <= now) {
      this.readyRewards.push((this.delayedRewards.shift() as { reward: SentReward }).reward)
    }
    if (this.nextDecision < this.options.decisions && this.random() * batchEvery < 1) {
      const decisions = this.takeDecisions(batchSize)
      const rewards = this.readyRewards.splice(0, batchSize)
      return () => this.sendBatch(decisions, rewards)
    }
    const reward = this.random() < 0.5 || this.nextDecision >= this.options.decisions
    if (reward && this.readyRewards.length > 0) {
      const r = this.readyRewards.shift() as SentReward
      return () => this.sendReward(r)
    }
    const [decision] = this.takeDecisions(1)
    return decision === undefined ? undefined : () => this.sendDecision(decision)
  }

  private takeDecisions(count: number): SentDecision[] {
    const taken: SentDecision[] = []
    while (taken.length < count && this.nextDecision < this.options.decisions) {
      const i = this.nextDecision++
      const key = `${this.options.keyPrefix ?? 'crash'}-${i}-${Math.floor(this.random() * 1e9).toString(36)}`
      const body = {
        key,
        action: i % 7,
        probability: 1 / (1 + (i % 4)),
        context: { i, user: `u${i % 97}`, features: [i % 3, i % 5], text: 'ünïcödé' },
      }
      const decision: SentDecision = { key, body, outcome: 'unknown' }
      this.ledger.decisions.set(key, decision)
      taken.push(decision)
    }
    return taken
  }

  private acked(decision: SentDecision, ackMs: number): void {
    decision.outcome = 'acked'
    decision.ackMs = ackMs
    const count = Math.floor(this.random() * 4)
    for (let j = 0; j < count; j++) this.readyRewards.push(this.ledger.planReward(decision.key, 2 ** j))
    const { lateRewardAfterMs } = this.options
    if (lateRewardAfterMs !== undefined && this.random() < 0.1) {
      const late = this.ledger.planReward(decision.key, 8)
      this.delayedRewards.push({ reward: late, atMs: ackMs + lateRewardAfterMs })
    }
  }

  private countAcks(events: number): void {
    this.ackedEvents += events
    this.options.onAck?.(this.ackedEvents)
  }

  private async sendDecision(decision: SentDecision): Promise<void> {
    try {
      const answer = await postJson(this.options.base, '/log_decision', decision.body)
      if (answer.status !== 200) {
        decision.outcome = outcomeOf(answer)
        return
      }
      this.acked(decision, Date.now())
      this.countAcks(1)
    } catch {
      // No answer: the decision may or may not be in the log.
    }
  }

  private async sendReward(reward: SentReward): Promise<void> {
    try {
      const answer = await postJson(this.options.base, '/log_reward', {
        key: reward.key,
        reward: reward.reward,
      })
      if (answer.status !== 200) {
        reward.outcome = outcomeOf(answer)
        return
      }
      reward.outcome = 'acked'
      reward.ackMs = Date.now()
      this.countAcks(1)
    } catch {}
  }

  private async sendBatch(decisions: SentDecision[], rewards: SentReward[]): Promise<void> {
    const lines = [
      ...decisions.map((d) => ({ type: 'decision', ...d.body })),
      ...rewards.map((r) => ({ type: 'reward', key: r.key, reward: r.reward })),
    ]
    if (lines.length === 0) return
    try {
      const answer = await postBatch(this.options.base, lines)
      if (answer.status !== 200) {
        for (const event of [...decisions, ...rewards]) event.outcome = outcomeOf(answer)
        return
      }
      const ackMs = Date.now()
      for (const d of decisions) this.acked(d, ackMs)
      for (const r of rewards) {
        r.outcome = 'acked'
        r.ackMs = ackMs
      }
      this.countAcks(lines.length)
    } catch {}
  }
}

/** A refusal, unless the service says the events may have been logged all the same (Kafka mode). */
function outcomeOf(answer: HttpAnswer): Outcome {
  const code = (answer.json as { code?: unknown } | undefined)?.code
  return code === 'BJ_ERR_OUTCOME_UNKNOWN' ? 'unknown' : 'refused'
}
