import type { JoinEngine } from '../engine/engine.js'
import { type Fingerprint, fingerprintOf, sameFingerprint } from '../engine/fingerprint.js'
import type { LoggedEvent, RewardsSeen } from '../engine/types.js'
import { BanditJoinError, invalidEvent, overloaded } from '../errors.js'
import type { Admission } from '../ingest/ingestor.js'
import type { IncomingEvent } from '../ingest/validate.js'

/** The memory budgets of SPEC §7 that the embedded mode enforces at ingest. */
export interface AdmissionLimits {
  /** Decisions pending beyond which a new decision gets 503. */
  maxPending: number
  /** Rewards, overrides and activations held for keys with no decision beyond which such events get 503. */
  maxHeld: number
  /** Distinct rewards counted or held for one key beyond which a reward gets 422. */
  maxRewardsPerDecision: number
}

/** Rewards seen for one key, a repeated id once (SPEC §3). */
class RewardCount implements RewardsSeen {
  count = 0
  private ids: Set<string> | undefined

  has(id: string): boolean {
    return this.ids?.has(id) ?? false
  }

  add(id: string | undefined): void {
    if (id !== undefined) {
      if (this.has(id)) return
      this.ids ??= new Set()
      this.ids.add(id)
    }
    this.count++
  }
}

/** What a reward for one key would join: the engine's and the queue's, then the ones admitted before it in the same request. */
class KeyRewards {
  private readonly added = new RewardCount()
  constructor(private readonly before: readonly RewardsSeen[]) {}

  get count(): number {
    return this.before.reduce((sum, seen) => sum + seen.count, this.added.count)
  }

  has(id: string): boolean {
    return this.added.has(id) || this.before.some((seen) => seen.has(id))
  }

  add(id: string | undefined): void {
    this.added.add(id)
  }
}

const secondsUntil = (ms: number, nowMs: number) => Math.max(1, Math.ceil((ms - nowMs) / 1000))

/**
 * Ingest's judgement of events before they are logged (SPEC §3, §7): duplicates and conflicts
 * of decisions, and the budgets on pending decisions, held events and rewards per decision.
 * It sees the engine and the events appended since the engine last took them (the queue).
 */
export class Admitter {
  /** Decisions appended but not yet applied to the engine, by key: fingerprint. */
  private readonly queuedDecisions = new Map<string, string>()
  private oldestQueuedDecisionMs: number | undefined
  /** Queued events that the engine will hold (no decision known for their key when appended). */
  private queuedHeld = 0
  private oldestQueuedHeldMs: number | undefined
  /** Queued rewards that will count or be held, by key, beyond what the engine has for the key. */
  private readonly queuedRewards = new Map<string, RewardCount>()

  constructor(private readonly limits: AdmissionLimits) {}

  /**
   * Decides, without changing anything, what would happen to each event if it were logged at
   * `atMs` after the ones before it in the list.
   */
  admit(engine: JoinEngine, events: readonly IncomingEvent[], atMs: number): Admission[] {
    const batchDecisions = new Map<string, string>()
    const rewardsByKey = new Map<string, KeyRewards>()
    let newDecisions = 0
    let newHeld = 0
    let decisionKeys: Set<string> | undefined
    return events.map((event): Admission => {
      const known = batchDecisions.get(event.key) ?? this.knownDecision(engine, event.key, atMs)
      if (event.type === 'decision') {
        // Checked without fingerprints (Ingestor.needsFingerprints), a decision cannot be judged
        // or logged here: every one would repeat every other.
        if (event.fingerprint === '')
          throw new Error(`decision ${JSON.stringify(event.key)} has no fingerprint`)
        if (known !== undefined) {
          if (sameDecision(known, event.fingerprint)) return { kind: 'duplicate' }
          return { kind: 'refuse', error: conflict(event.key) }
        }
        if (engine.pendingDecisions + this.queuedDecisions.size + newDecisions >= this.limits.maxPending) {
          return { kind: 'refuse', error: this.pendingFull(engine, atMs) }
        }
        batchDecisions.set(event.key, event.fingerprint)
        newDecisions++
        return { kind: 'accept', event }
      }
      if (event.type === 'reward') {
        let rewards = rewardsByKey.get(event.key)
        if (rewards === undefined) {
          rewards = this.rewardsFor(engine, event.key, atMs)
          if (rewards !== undefined) rewardsByKey.set(event.key, rewards)
        }
        if (rewards !== undefined && (event.id === undefined || !rewards.has(event.id))) {
          if (rewards.count >= this.limits.maxRewardsPerDecision) {
            return { kind: 'refuse', error: tooManyRewards(this.limits.maxRewardsPerDecision, event.key) }
          }
          rewards.add(event.id)
        }
      }
      if (known === undefined) {
        if (engine.heldEvents + this.queuedHeld + newHeld >= this.limits.maxHeld) {
          // Its decision later in the same request claims it at once: it is never held.
          decisionKeys ??= new Set(events.filter((e) => e.type === 'decision').map((e) => e.key))
          if (!decisionKeys.has(event.key)) return { kind: 'refuse', error: this.heldFull(engine, atMs) }
        } else newHeld++
      }
      return { kind: 'accept', event }
    })
  }

  /** Takes note of an admitted event now waiting in the queue for the engine. */
  appended(engine: JoinEngine, event: LoggedEvent): void {
    if (event.type === 'decision') {
      this.queuedDecisions.set(event.key, event.fingerprint)
      this.oldestQueuedDecisionMs ??= event.insertMs
      return
    }
    if (event.type === 'reward') {
      const inEngine = engine.rewardsFor(event.key, event.insertMs)
      if (inEngine !== undefined && (event.id === undefined || !inEngine.has(event.id))) {
        const queued = this.queuedRewards.get(event.key) ?? new RewardCount()
        this.queuedRewards.set(event.key, queued)
        queued.add(event.id)
      }
    }
    if (this.knownDecision(engine, event.key, event.insertMs) === undefined) {
      this.queuedHeld++
      this.oldestQueuedHeldMs ??= event.insertMs
    }
  }

  /** The engine took the queue (or the queue was dropped after a failed commit). */
  clear(): void {
    this.queuedDecisions.clear()
    this.oldestQueuedDecisionMs = undefined
    this.queuedHeld = 0
    this.oldestQueuedHeldMs = undefined
    this.queuedRewards.clear()
  }

  /**
   * The fingerprint of the decision with this key that an event logged at `atMs` would meet: as
   * logged for a queued one, hashed for one in the engine.
   */
  private knownDecision(engine: JoinEngine, key: string, atMs: number): string | Fingerprint | undefined {
    return this.queuedDecisions.get(key) ?? engine.rememberedDecision(key, atMs)?.fingerprint
  }

  /**
   * What a reward for `key` would join: the engine's (for a decision not in the engine yet, the
   * rewards held for its key) and the queue's. Undefined when it would be late.
   */
  private rewardsFor(engine: JoinEngine, key: string, atMs: number): KeyRewards | undefined {
    const inEngine = engine.rewardsFor(key, atMs)
    if (inEngine === undefined) return undefined
    const queued = this.queuedRewards.get(key)
    return new KeyRewards(queued === undefined ? [inEngine] : [inEngine, queued])
  }

  /** Room comes when the oldest pending decision is due (a decision of this request at the latest). */
  private pendingFull(engine: JoinEngine, atMs: number): BanditJoinError {
    const dueMs =
      engine.oldestPendingDueMs() ?? (this.oldestQueuedDecisionMs ?? atMs) + engine.settings.expUnitMs
    return overloaded(
      `MAX_PENDING=${this.limits.maxPending} decisions pending reached`,
      secondsUntil(dueMs, atMs),
    )
  }

  /** Room comes when the oldest held event becomes an orphan. */
  private heldFull(engine: JoinEngine, atMs: number): BanditJoinError {
    const expiryMs =
      engine.oldestHeldExpiryMs() ?? (this.oldestQueuedHeldMs ?? atMs) + engine.settings.earlyRewardMs + 1
    return overloaded(
      `MAX_HELD=${this.limits.maxHeld} rewards, overrides and activations held for keys with no decision reached`,
      secondsUntil(expiryMs, atMs),
    )
  }
}

/** Whether a decision with this fingerprint repeats the known one (else it conflicts with it). */
function sameDecision(known: string | Fingerprint, fingerprint: string): boolean {
  return typeof known === 'string'
    ? known === fingerprint
    : sameFingerprint(known, fingerprintOf(fingerprint))
}

const conflict = (key: string) =>
  new BanditJoinError('BJ_ERR_CONFLICT', `key ${JSON.stringify(key)} is already a different decision`, 409)

const tooManyRewards = (limit: number, key: string) =>
  invalidEvent(`MAX_REWARDS_PER_DECISION=${limit} rewards for key ${JSON.stringify(key)} reached`)
