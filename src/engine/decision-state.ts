import { createAccumulator, type RewardAccumulator } from './aggregate.js'
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

/**
 * A decision whose key is remembered: pending inside its window, collecting what counts for
 * it, then (after emission) kept without its details until due + H (SPEC §3). A service holds
 * one per decision, so it is kept small: no copies of the event's fields, the flags in one
 * number, and the reward tally only once a reward came.
 */
export class DecisionState {
  /** The logged decision while pending; dropped once emitted, when only the key and fingerprint still matter. */
  event: DecisionEvent | undefined
  readonly key: string
  readonly fingerprint: string
  private flags = 0
  private rewards: RewardTally | undefined

  constructor(
    event: DecisionEvent,
    readonly dueMs: number,
  ) {
    this.event = event
    this.key = event.key
    this.fingerprint = event.fingerprint
  }

  get pending(): boolean {
    return this.event !== undefined
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

  /** After emission: the key stays remembered, the rest can go. */
  forgetDetails(): void {
    this.event = undefined
    this.rewards = undefined
  }
}
