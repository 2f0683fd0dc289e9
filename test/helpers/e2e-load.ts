import { postBatch, postJson } from './e2e-http.js'

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

export interface LoadOptions {
  base: string
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
  readonly decisions = new Map<string, SentDecision>()
  readonly rewards: SentReward[] = []
  ackedEvents = 0
  requests = 0
  inFlight = 0
  private stopped = false
  private nextDecision = 0
  private readonly readyRewards: SentReward[] = []
  private readonly delayedRewards: { reward: SentReward; atMs: number }[] = []
  private readonly rewardsByKey = new Map<string, SentReward[]>()
  private readonly random: () => number

  constructor(private readonly options: LoadOptions) {
    this.random = options.random ?? Math.random
  }

  stop(): void {
    this.stopped = true
  }

  /** Runs until every planned event was sent (or stop() was called). */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.concurrency }, () => this.worker()))
  }

  rewardsOf(key: string): SentReward[] {
    return this.rewardsByKey.get(key) ?? []
  }

  private async worker(): Promise<void> {
    let idle = 0
    while (!this.stopped) {
      const task = this.nextTask()
      if (task === undefined) {
        // Rewards may still come from decisions in flight on other workers, or be delayed.
        const waiting = this.delayedRewards.length > 0
        if (this.nextDecision >= this.options.decisions && !waiting && idle++ > 100) return
        await new Promise((resolve) => setTimeout(resolve, 5))
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
      const key = `crash-${i}-${Math.floor(this.random() * 1e9).toString(36)}`
      const body = {
        key,
        action: i % 7,
        probability: 1 / (1 + (i % 4)),
        context: { i, user: `u${i % 97}`, features: [i % 3, i % 5], text: 'ünïcödé' },
      }
      const decision: SentDecision = { key, body, outcome: 'unknown' }
      this.decisions.set(key, decision)
      taken.push(decision)
    }
    return taken
  }

  private acked(decision: SentDecision, ackMs: number): void {
    decision.outcome = 'acked'
    decision.ackMs = ackMs
    const count = Math.floor(this.random() * 4)
    for (let j = 0; j < count; j++) this.readyRewards.push(this.plan(decision.key, 2 ** j))
    const { lateRewardAfterMs } = this.options
    if (lateRewardAfterMs !== undefined && this.random() < 0.1) {
      this.delayedRewards.push({ reward: this.plan(decision.key, 8), atMs: ackMs + lateRewardAfterMs })
    }
  }

  private plan(key: string, value: number): SentReward {
    const reward: SentReward = { key, reward: value, outcome: 'unknown' }
    this.rewards.push(reward)
    const forKey = this.rewardsByKey.get(key)
    if (forKey === undefined) this.rewardsByKey.set(key, [reward])
    else forKey.push(reward)
    return reward
  }

  private countAcks(events: number): void {
    this.ackedEvents += events
    this.options.onAck?.(this.ackedEvents)
  }

  private async sendDecision(decision: SentDecision): Promise<void> {
    try {
      const answer = await postJson(this.options.base, '/log_decision', decision.body)
      if (answer.status !== 200) {
        decision.outcome = 'refused'
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
        reward.outcome = 'refused'
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
        for (const event of [...decisions, ...rewards]) event.outcome = 'refused'
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

/** A small seeded PRNG (mulberry32), so that a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
