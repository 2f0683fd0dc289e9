import { foldReward, median, scalarResult } from './aggregate.js'
import { Column, chunkedLength } from './column.js'
import { type Fingerprint, fingerprintOf } from './fingerprint.js'
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

/**
 * A decision table as plain data, for a snapshot: the per-slot fields up to the slots handed
 * out, each in chunks read one after another (views of the table's pages when exported).
 */
export interface DecisionTableState {
  index: KeyIndexState
  free: Int32Array
  due: Float64Array[]
  positions: Float64Array[]
  his: Int32Array[]
  los: Int32Array[]
  flags: Uint8Array[]
  rewardCounts: Int32Array[]
  lastRewardMs: Float64Array[]
  runningRewards: Float64Array[]
  rewardIds: [slot: number, ids: string[]][]
  medianValues: [slot: number, values: number[]][]
}

/**
 * The decisions whose keys are remembered (SPEC §3): pending inside their window, collecting
 * what counts for them, then (after emission) kept without their details until due + H. A
 * service holds millions, so they are kept as a structure of arrays rather than one object
 * each: an index from key to a slot number (`KeyIndex`, open addressing over Int32Arrays),
 * and per slot (in paged typed arrays, `Column`) the due time, the log position (the body
 * is read back from the log), the 64-bit fingerprint as two int32, and the flags in typed
 * arrays. The insert time is implied by the due time (due = insert + E). The reward tally is
 * three more numbers per slot (count, time of the last, the running aggregate); only reward ids
 * and the median's values go to side Maps, for the decisions that have them. Freed slots are
 * reused.
 */
export class DecisionTable {
  private slots = new KeyIndex()
  private readonly due = new Column((n) => new Float64Array(n))
  private readonly positions = new Column((n) => new Float64Array(n))
  private readonly his = new Column((n) => new Int32Array(n))
  private readonly los = new Column((n) => new Int32Array(n))
  private readonly flags = new Column((n) => new Uint8Array(n))
  private readonly rewardCounts = new Column((n) => new Int32Array(n))
  private readonly lastRewardMs = new Column((n) => new Float64Array(n))
  private readonly runningRewards = new Column((n) => new Float64Array(n))
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
    this.due.set(slot, dueMs)
    this.positions.set(slot, event.pos)
    this.his.set(slot, fingerprint.hi)
    this.los.set(slot, fingerprint.lo)
    this.flags.set(slot, PENDING | (event.deferred ? DEFERRED : 0))
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
    return this.due.get(slot)
  }

  /** Where the decision is in the log: its body is read back from there when it is released. */
  pos(slot: number): number {
    return this.positions.get(slot)
  }

  /** The 64-bit hash of the decision's logged fingerprint. */
  fingerprint(slot: number): Fingerprint {
    return { hi: this.his.get(slot), lo: this.los.get(slot) }
  }

  pending(slot: number): boolean {
    return (this.flags.get(slot) & PENDING) !== 0
  }

  deferred(slot: number): boolean {
    return (this.flags.get(slot) & DEFERRED) !== 0
  }

  overridden(slot: number): boolean {
    return (this.flags.get(slot) & OVERRIDDEN) !== 0
  }

  activated(slot: number): boolean {
    return (this.flags.get(slot) & ACTIVATED) !== 0
  }

  markOverridden(slot: number): void {
    this.flags.set(slot, this.flags.get(slot) | OVERRIDDEN)
  }

  markActivated(slot: number): void {
    this.flags.set(slot, this.flags.get(slot) | ACTIVATED)
  }

  /** Counts a reward once per id for the decision in `slot`; returns false for a repeated id. */
  count(slot: number, reward: RewardEvent): boolean {
    if (reward.id !== undefined) {
      const ids = this.sideEntry(this.rewardIds, slot, HAS_IDS, () => new Set<string>())
      if (ids.has(reward.id)) return false
      ids.add(reward.id)
    }
    const countBefore = this.rewardCounts.get(slot)
    if (this.rewardAgg === 'median')
      this.sideEntry(this.medianValues, slot, HAS_VALUES, () => []).push(reward.reward)
    else {
      const running = this.runningRewards.get(slot)
      this.runningRewards.set(slot, foldReward(this.rewardAgg, running, countBefore, reward.reward))
    }
    this.rewardCounts.set(slot, countBefore + 1)
    this.lastRewardMs.set(slot, reward.insertMs)
    return true
  }

  /** The rewards counted so far for the decision in `slot`. */
  rewardsSeen(slot: number): RewardsSeen {
    const ids = this.hasFlag(slot, HAS_IDS) ? this.rewardIds.get(slot) : undefined
    return {
      count: this.rewardCounts.get(slot),
      has: (id) => ids?.has(id) ?? false,
    }
  }

  /** The reward side of the record of the (pending) decision in `slot`, logged at `insertMs`. */
  outcome(slot: number, defaultReward: number, insertMs: number): JoinOutcome {
    const count = this.rewardCounts.get(slot)
    if (count === 0) return { reward: defaultReward, rewardCount: 0, rewardDeltaMs: null }
    const reward =
      this.rewardAgg === 'median'
        ? median(this.medianValues.get(slot) as number[])
        : scalarResult(this.rewardAgg, this.runningRewards.get(slot), count)
    return { reward, rewardCount: count, rewardDeltaMs: this.lastRewardMs.get(slot) - insertMs }
  }

  /** After emission: the key stays remembered (key, due time, fingerprint), the rest can go. */
  forgetDetails(slot: number): void {
    if (this.hasFlag(slot, HAS_IDS)) this.rewardIds.delete(slot)
    if (this.hasFlag(slot, HAS_VALUES)) this.medianValues.delete(slot)
    this.flags.set(slot, 0)
    this.rewardCounts.set(slot, 0)
  }

  private hasFlag(slot: number, flag: number): boolean {
    return (this.flags.get(slot) & flag) !== 0
  }

  /** The slot's entry in a side Map, made (and flagged) on first use. */
  private sideEntry<T>(side: Map<number, T>, slot: number, flag: number, make: () => T): T {
    if (this.hasFlag(slot, flag)) return side.get(slot) as T
    const entry = make()
    side.set(slot, entry)
    this.flags.set(slot, this.flags.get(slot) | flag)
    return entry
  }

  /** Everything the table holds, for a snapshot. */
  exportState(): DecisionTableState {
    const used = this.used
    return {
      index: this.slots.exportState(used),
      free: this.free.toArray(),
      due: this.due.views(used),
      positions: this.positions.views(used),
      his: this.his.views(used),
      los: this.los.views(used),
      flags: this.flags.views(used),
      rewardCounts: this.rewardCounts.views(used),
      lastRewardMs: this.lastRewardMs.views(used),
      runningRewards: this.runningRewards.views(used),
      rewardIds: [...this.rewardIds].map(([slot, ids]) => [slot, [...ids]]),
      medianValues: [...this.medianValues],
    }
  }

  /** The table `exportState` described. */
  static restore(rewardAgg: JoinSettings['rewardAgg'], state: DecisionTableState): DecisionTable {
    const table = new DecisionTable(rewardAgg)
    const used = chunkedLength(state.due)
    while (table.due.capacity < used) table.grow()
    table.used = used
    table.slots = KeyIndex.restore(state.index)
    table.free = SlotQueue.of(state.free)
    table.due.load(state.due)
    table.positions.load(state.positions)
    table.his.load(state.his)
    table.los.load(state.los)
    table.flags.load(state.flags)
    table.rewardCounts.load(state.rewardCounts)
    table.lastRewardMs.load(state.lastRewardMs)
    table.runningRewards.load(state.runningRewards)
    for (const [slot, ids] of state.rewardIds) table.rewardIds.set(slot, new Set(ids))
    for (const [slot, values] of state.medianValues) table.medianValues.set(slot, values)
    return table
  }

  private takeSlot(): number {
    if (this.free.length > 0) return this.free.shift()
    if (this.used === this.due.capacity) this.grow()
    return this.used++
  }

  private grow(): void {
    for (const column of this.columns()) column.grow()
  }

  private columns(): Column<Float64Array | Int32Array | Uint8Array>[] {
    const { due, positions, his, los, flags, rewardCounts, lastRewardMs, runningRewards } = this
    return [due, positions, his, los, flags, rewardCounts, lastRewardMs, runningRewards]
  }
}
