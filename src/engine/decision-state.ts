import { createAccumulator, type RewardAccumulator } from './aggregate.js'
import { type Fingerprint, fingerprintOf } from './fingerprint.js'
import type { DecisionEvent, JoinOutcome, JoinSettings, RewardEvent, RewardsSeen } from './types.js'

/** The counted rewards of one decision, from its first reward on. */
class RewardTally {
  count = 0
  lastMs = 0
  ids: Set<string> | undefined
  constructor(readonly accumulator: RewardAccumulator) {}
}

const OVERRIDDEN = 1
const ACTIVATED = 2
const PENDING = 4
const DEFERRED = 8

/**
 * A decision whose key is remembered: pending inside its window, collecting what counts for
 * it, then (after emission) kept without its details until due + H (SPEC §3). A service holds
 * one per decision, so it is kept small: no body (the log has it: `pos` says where), the
 * fingerprint as two small integers, the flags in one number, the insert time implied by the
 * due time (due = insert + E), and the reward tally only once a reward came.
 */
export class DecisionState implements Fingerprint {
  readonly key: string
  /** Where the decision is in the log: its body is read back from there when it is released. */
  readonly pos: number
  readonly hi: number
  readonly lo: number
  private flags: number
  private rewards: RewardTally | undefined

  constructor(
    event: DecisionEvent,
    readonly dueMs: number,
  ) {
    this.key = event.key
    this.pos = event.pos
    const fingerprint = fingerprintOf(event.fingerprint)
    this.hi = fingerprint.hi
    this.lo = fingerprint.lo
    this.flags = PENDING | (event.deferred ? DEFERRED : 0)
  }

  get pending(): boolean {
    return (this.flags & PENDING) !== 0
  }

  get deferred(): boolean {
    return (this.flags & DEFERRED) !== 0
  }

  get overridden(): boolean {
    return (this.flags & OVERRIDDEN) !== 0
  }

  get activated(): boolean {
    return (this.flags & ACTIVATED) !== 0
  }

  markOverridden(): void {
    this.flags |= OVERRIDDEN
  }

  markActivated(): void {
    this.flags |= ACTIVATED
  }

  /** Counts a reward once per id; returns false for a repeated id. */
  count(reward: RewardEvent, settings: JoinSettings): boolean {
    this.rewards ??= new RewardTally(createAccumulator(settings.rewardAgg))
    const tally = this.rewards
    if (reward.id !== undefined) {
      tally.ids ??= new Set()
      if (tally.ids.has(reward.id)) return false
      tally.ids.add(reward.id)
    }
    tally.accumulator.add(reward.reward)
    tally.count++
    tally.lastMs = reward.insertMs
    return true
  }

  /** The rewards counted so far. */
  rewardsSeen(): RewardsSeen {
    const tally = this.rewards
    return {
      count: tally?.count ?? 0,
      has: (id) => tally?.ids?.has(id) ?? false,
    }
  }

  /** The reward side of the record of this (pending) decision logged at `insertMs`. */
  outcome(settings: JoinSettings, insertMs: number): JoinOutcome {
    const tally = this.rewards
    if (tally === undefined) {
      return { reward: settings.defaultReward, rewardCount: 0, rewardDeltaMs: null }
    }
    return {
      reward: tally.accumulator.result(),
      rewardCount: tally.count,
      rewardDeltaMs: tally.lastMs - insertMs,
    }
  }

  /** After emission: the key stays remembered (key, due time, fingerprint), the rest can go. */
  forgetDetails(): void {
    this.flags = 0
    this.rewards = undefined
  }
}
