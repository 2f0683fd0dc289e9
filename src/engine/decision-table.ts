import { createAccumulator, type RewardAccumulator } from './aggregate.js'
import { fingerprintOf } from './fingerprint.js'
import { SlotQueue } from './slot-queue.js'
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
/** The slot has a reward tally in the side Map (saves a lookup for the many that have none). */
const TALLIED = 16

const INITIAL_CAPACITY = 1024

/**
 * The decisions whose keys are remembered (SPEC §3): pending inside their window, collecting
 * what counts for them, then (after emission) kept without their details until due + H. A
 * service holds millions, so they are kept as a structure of arrays rather than one object
 * each: a Map from key to a slot number, and per slot the due time, the log position (the body
 * is read back from the log), the 64-bit fingerprint as two int32, and the flags in typed
 * arrays. The insert time is implied by the due time (due = insert + E); the reward tally
 * lives in a side Map, only for the decisions that have rewards. Freed slots are reused.
 */
export class DecisionTable {
  private readonly slots = new Map<string, number>()
  /** The key of each slot in use ('' once freed, so the string can go). */
  private readonly keys: string[] = []
  private due = new Float64Array(INITIAL_CAPACITY)
  private positions = new Float64Array(INITIAL_CAPACITY)
  private his = new Int32Array(INITIAL_CAPACITY)
  private los = new Int32Array(INITIAL_CAPACITY)
  private flags = new Uint8Array(INITIAL_CAPACITY)
  private readonly tallies = new Map<number, RewardTally>()
  /** Slots freed and not yet reused, oldest first. */
  private readonly free = new SlotQueue()
  /** Slots handed out so far (the next fresh slot). */
  private used = 0

  /** The slot of the decision remembered for `key`, or -1. */
  slotOf(key: string): number {
    return this.slots.get(key) ?? -1
  }

  /** Remembers a new pending decision due at `dueMs`; returns its slot. */
  add(event: DecisionEvent, dueMs: number): number {
    const slot = this.takeSlot()
    const fingerprint = fingerprintOf(event.fingerprint)
    this.keys[slot] = event.key
    this.due[slot] = dueMs
    this.positions[slot] = event.pos
    this.his[slot] = fingerprint.hi
    this.los[slot] = fingerprint.lo
    this.flags[slot] = PENDING | (event.deferred ? DEFERRED : 0)
    this.slots.set(event.key, slot)
    return slot
  }

  /** Forgets the key of `slot` altogether and frees the slot for reuse. */
  remove(slot: number): void {
    this.slots.delete(this.keys[slot] as string)
    this.keys[slot] = ''
    if (((this.flags[slot] as number) & TALLIED) !== 0) this.tallies.delete(slot)
    this.flags[slot] = 0
    this.free.push(slot)
  }

  key(slot: number): string {
    return this.keys[slot] as string
  }

  dueMs(slot: number): number {
    return this.due[slot] as number
  }

  /** Where the decision is in the log: its body is read back from there when it is released. */
  pos(slot: number): number {
    return this.positions[slot] as number
  }

  hi(slot: number): number {
    return this.his[slot] as number
  }

  lo(slot: number): number {
    return this.los[slot] as number
  }

  pending(slot: number): boolean {
    return ((this.flags[slot] as number) & PENDING) !== 0
  }

  deferred(slot: number): boolean {
    return ((this.flags[slot] as number) & DEFERRED) !== 0
  }

  overridden(slot: number): boolean {
    return ((this.flags[slot] as number) & OVERRIDDEN) !== 0
  }

  activated(slot: number): boolean {
    return ((this.flags[slot] as number) & ACTIVATED) !== 0
  }

  markOverridden(slot: number): void {
    this.flags[slot] = (this.flags[slot] as number) | OVERRIDDEN
  }

  markActivated(slot: number): void {
    this.flags[slot] = (this.flags[slot] as number) | ACTIVATED
  }

  /** Counts a reward once per id for the decision in `slot`; returns false for a repeated id. */
  count(slot: number, reward: RewardEvent, settings: JoinSettings): boolean {
    let tally = this.tally(slot)
    if (tally === undefined) {
      tally = new RewardTally(createAccumulator(settings.rewardAgg))
      this.tallies.set(slot, tally)
      this.flags[slot] = (this.flags[slot] as number) | TALLIED
    }
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

  /** The rewards counted so far for the decision in `slot`. */
  rewardsSeen(slot: number): RewardsSeen {
    const tally = this.tally(slot)
    return {
      count: tally?.count ?? 0,
      has: (id) => tally?.ids?.has(id) ?? false,
    }
  }

  /** The reward side of the record of the (pending) decision in `slot`, logged at `insertMs`. */
  outcome(slot: number, settings: JoinSettings, insertMs: number): JoinOutcome {
    const tally = this.tally(slot)
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
  forgetDetails(slot: number): void {
    if (((this.flags[slot] as number) & TALLIED) !== 0) this.tallies.delete(slot)
    this.flags[slot] = 0
  }

  private tally(slot: number): RewardTally | undefined {
    return ((this.flags[slot] as number) & TALLIED) === 0 ? undefined : this.tallies.get(slot)
  }

  private takeSlot(): number {
    if (this.free.length > 0) return this.free.shift()
    if (this.used === this.due.length) this.grow()
    return this.used++
  }

  private grow(): void {
    const capacity = this.due.length * 2
    this.due = grown(this.due, new Float64Array(capacity))
    this.positions = grown(this.positions, new Float64Array(capacity))
    this.his = grown(this.his, new Int32Array(capacity))
    this.los = grown(this.los, new Int32Array(capacity))
    this.flags = grown(this.flags, new Uint8Array(capacity))
  }
}

function grown<T extends Float64Array | Int32Array | Uint8Array>(old: T, next: T): T {
  next.set(old as never)
  return next
}
