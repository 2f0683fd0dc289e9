import { foldReward, median, scalarResult } from './aggregate.js'
import { fingerprintOf } from './fingerprint.js'
import { KeyIndex, type KeyIndexState } from './key-index.js'
import { SlotQueue } from './slot-queue.js'
import type { DecisionEvent, JoinOutcome, JoinSettings, RewardEvent, RewardsSeen } from './types.js'

const OVERRIDDEN = 1
const ACTIVATED = 2
const PENDING = 4
const DEFERRED = 8
/** The slot has reward ids or median values in a side Map (saves lookups for the many that have none). */
const HAS_IDS = 16
const HAS_VALUES = 32

const INITIAL_CAPACITY = 1024

/** A decision table as plain data, for a snapshot: the per-slot fields up to the slots handed out. */
export interface DecisionTableState {
  index: KeyIndexState
  free: Int32Array
  due: Float64Array
  positions: Float64Array
  his: Int32Array
  los: Int32Array
  flags: Uint8Array
  rewardCounts: Int32Array
  lastRewardMs: Float64Array
  runningRewards: Float64Array
  rewardIds: [slot: number, ids: string[]][]
  medianValues: [slot: number, values: number[]][]
}

/**
 * The decisions whose keys are remembered (SPEC §3): pending inside their window, collecting
 * what counts for them, then (after emission) kept without their details until due + H. A
 * service holds millions, so they are kept as a structure of arrays rather than one object
 * each: an index from key to a slot number (`KeyIndex`, open addressing over an Int32Array),
 * and per slot the due time, the log position (the body
 * is read back from the log), the 64-bit fingerprint as two int32, and the flags in typed
 * arrays. The insert time is implied by the due time (due = insert + E). The reward tally is
 * three more numbers per slot (count, time of the last, the running aggregate); only reward ids
 * and the median's values go to side Maps, for the decisions that have them. Freed slots are
 * reused.
 */
export class DecisionTable {
  private slots = new KeyIndex()
  private due = new Float64Array(INITIAL_CAPACITY)
  private positions = new Float64Array(INITIAL_CAPACITY)
  private his = new Int32Array(INITIAL_CAPACITY)
  private los = new Int32Array(INITIAL_CAPACITY)
  private flags = new Uint8Array(INITIAL_CAPACITY)
  private rewardCounts = new Int32Array(INITIAL_CAPACITY)
  private lastRewardMs = new Float64Array(INITIAL_CAPACITY)
  private runningRewards = new Float64Array(INITIAL_CAPACITY)
  private readonly rewardIds = new Map<number, Set<string>>()
  private readonly medianValues = new Map<number, number[]>()
  /** Slots freed and not yet reused, oldest first. */
  private free = new SlotQueue()
  /** Slots handed out so far (the next fresh slot). */
  private used = 0

  constructor(private readonly rewardAgg: JoinSettings['rewardAgg']) {}

  /** The slot of the decision remembered for `key`, or -1. */
  slotOf(key: string): number {
    return this.slots.get(key)
  }

  /** Remembers a new pending decision due at `dueMs`; returns its slot. */
  add(event: DecisionEvent, dueMs: number): number {
    const slot = this.takeSlot()
    const fingerprint = fingerprintOf(event.fingerprint)
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
    this.slots.delete(slot)
    this.forgetDetails(slot)
    this.free.push(slot)
  }

  key(slot: number): string {
    return this.slots.keyOf(slot)
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
  count(slot: number, reward: RewardEvent): boolean {
    if (reward.id !== undefined) {
      const ids = this.sideEntry(this.rewardIds, slot, HAS_IDS, () => new Set<string>())
      if (ids.has(reward.id)) return false
      ids.add(reward.id)
    }
    const countBefore = this.rewardCounts[slot] as number
    if (this.rewardAgg === 'median')
      this.sideEntry(this.medianValues, slot, HAS_VALUES, () => []).push(reward.reward)
    else {
      const running = this.runningRewards[slot] as number
      this.runningRewards[slot] = foldReward(this.rewardAgg, running, countBefore, reward.reward)
    }
    this.rewardCounts[slot] = countBefore + 1
    this.lastRewardMs[slot] = reward.insertMs
    return true
  }

  /** The rewards counted so far for the decision in `slot`. */
  rewardsSeen(slot: number): RewardsSeen {
    const ids = this.hasFlag(slot, HAS_IDS) ? this.rewardIds.get(slot) : undefined
    return {
      count: this.rewardCounts[slot] as number,
      has: (id) => ids?.has(id) ?? false,
    }
  }

  /** The reward side of the record of the (pending) decision in `slot`, logged at `insertMs`. */
  outcome(slot: number, defaultReward: number, insertMs: number): JoinOutcome {
    const count = this.rewardCounts[slot] as number
    if (count === 0) return { reward: defaultReward, rewardCount: 0, rewardDeltaMs: null }
    const reward =
      this.rewardAgg === 'median'
        ? median(this.medianValues.get(slot) as number[])
        : scalarResult(this.rewardAgg, this.runningRewards[slot] as number, count)
    return { reward, rewardCount: count, rewardDeltaMs: (this.lastRewardMs[slot] as number) - insertMs }
  }

  /** After emission: the key stays remembered (key, due time, fingerprint), the rest can go. */
  forgetDetails(slot: number): void {
    if (this.hasFlag(slot, HAS_IDS)) this.rewardIds.delete(slot)
    if (this.hasFlag(slot, HAS_VALUES)) this.medianValues.delete(slot)
    this.flags[slot] = 0
    this.rewardCounts[slot] = 0
  }

  private hasFlag(slot: number, flag: number): boolean {
    return ((this.flags[slot] as number) & flag) !== 0
  }

  /** The slot's entry in a side Map, made (and flagged) on first use. */
  private sideEntry<T>(side: Map<number, T>, slot: number, flag: number, make: () => T): T {
    if (this.hasFlag(slot, flag)) return side.get(slot) as T
    const entry = make()
    side.set(slot, entry)
    this.flags[slot] = (this.flags[slot] as number) | flag
    return entry
  }

  /** Everything the table holds, for a snapshot. */
  exportState(): DecisionTableState {
    const used = this.used
    return {
      index: this.slots.exportState(),
      free: this.free.toArray(),
      due: this.due.slice(0, used),
      positions: this.positions.slice(0, used),
      his: this.his.slice(0, used),
      los: this.los.slice(0, used),
      flags: this.flags.slice(0, used),
      rewardCounts: this.rewardCounts.slice(0, used),
      lastRewardMs: this.lastRewardMs.slice(0, used),
      runningRewards: this.runningRewards.slice(0, used),
      rewardIds: [...this.rewardIds].map(([slot, ids]) => [slot, [...ids]]),
      medianValues: [...this.medianValues],
    }
  }

  /** The table `exportState` described. */
  static restore(rewardAgg: JoinSettings['rewardAgg'], state: DecisionTableState): DecisionTable {
    const table = new DecisionTable(rewardAgg)
    const used = state.due.length
    while (table.due.length < used) table.grow()
    table.used = used
    table.slots = KeyIndex.restore(state.index)
    table.free = SlotQueue.of(state.free)
    table.due.set(state.due)
    table.positions.set(state.positions)
    table.his.set(state.his)
    table.los.set(state.los)
    table.flags.set(state.flags)
    table.rewardCounts.set(state.rewardCounts)
    table.lastRewardMs.set(state.lastRewardMs)
    table.runningRewards.set(state.runningRewards)
    for (const [slot, ids] of state.rewardIds) table.rewardIds.set(slot, new Set(ids))
    for (const [slot, values] of state.medianValues) table.medianValues.set(slot, values)
    return table
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
    this.rewardCounts = grown(this.rewardCounts, new Int32Array(capacity))
    this.lastRewardMs = grown(this.lastRewardMs, new Float64Array(capacity))
    this.runningRewards = grown(this.runningRewards, new Float64Array(capacity))
  }
}

function grown<T extends Float64Array | Int32Array | Uint8Array>(old: T, next: T): T {
  next.set(old as never)
  return next
}
