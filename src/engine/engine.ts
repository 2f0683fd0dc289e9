import { DecisionTable, type DecisionTableState } from './decision-table.js'
import { Fifo } from './fifo.js'
import { type Fingerprint, fingerprintOf, sameFingerprint } from './fingerprint.js'
import { SlotQueue } from './slot-queue.js'
import {
  type DecisionEvent,
  type DecisionRef,
  type EngineSink,
  type FollowUpEvent,
  type JoinSettings,
  keyMemoryMs,
  type LoggedEvent,
  type RewardsSeen,
  withTextBody,
} from './types.js'

/** A reward, override or activation that came before any decision with its key. */
interface HeldEvent {
  readonly event: FollowUpEvent
  claimed: boolean
}

/** A join engine's state as plain data (see `JoinEngine.exportState`). */
export interface EngineState {
  /** The log time the engine had reached. */
  timeMs: number
  /** Events held for decisions that had not come, oldest first. */
  held: FollowUpEvent[]
  /** Slots of the pending decisions and of the remembered ones, each in due order. */
  pending: Int32Array
  remembered: Int32Array
  table: DecisionTableState
}

const NONE_SEEN: RewardsSeen = { count: 0, has: () => false }

/**
 * The join of SPEC §3 as a deterministic state machine. Events go in through `apply` in log
 * order; `advanceTo(T)` says that every event stamped before T has been applied. Records and
 * dead letters come out through the sink in release order. No clock, no I/O, no timers: what
 * comes out depends only on the sequence of events, not on when `advanceTo` is called.
 */
export class JoinEngine {
  private decisions: DecisionTable
  /** Slots of the pending decisions, in due order (log order: due = insert + E). */
  private pendingQueue = new SlotQueue()
  /** Slots of the decisions released and still remembered, in due order. */
  private rememberedQueue = new SlotQueue()
  private readonly heldByKey = new Map<string, HeldEvent[]>()
  private readonly heldQueue = new Fifo<HeldEvent>()
  private readonly keyMemoryMs: number
  private nowMs = Number.NEGATIVE_INFINITY
  private heldCount = 0

  constructor(
    readonly settings: JoinSettings,
    private sink: EngineSink,
  ) {
    this.keyMemoryMs = keyMemoryMs(settings)
    this.decisions = new DecisionTable(settings.rewardAgg)
  }

  /**
   * The engine's whole state as plain data, for a snapshot: restoring it gives an engine that
   * behaves exactly as this one from here on.
   */
  exportState(): EngineState {
    const held: FollowUpEvent[] = []
    for (const h of this.heldQueue.values()) if (!h.claimed) held.push(h.event)
    return {
      timeMs: this.nowMs,
      held,
      pending: this.pendingQueue.toArray(),
      remembered: this.rememberedQueue.toArray(),
      table: this.decisions.exportState(),
    }
  }

  /** The engine `exportState` described, under the same settings. */
  static restore(settings: JoinSettings, sink: EngineSink, state: EngineState): JoinEngine {
    const engine = new JoinEngine(settings, sink)
    engine.nowMs = state.timeMs
    engine.decisions = DecisionTable.restore(settings.rewardAgg, state.table)
    engine.pendingQueue = SlotQueue.of(state.pending)
    engine.rememberedQueue = SlotQueue.of(state.remembered)
    for (const event of state.held) engine.hold(event)
    return engine
  }

  /** Replaces where outputs go (recovery replays into a sink that discards them). */
  setSink(sink: EngineSink): void {
    this.sink = sink
  }

  /** The log time the engine has reached. */
  get timeMs(): number {
    return this.nowMs
  }

  /** Decisions inside their window. */
  get pendingDecisions(): number {
    return this.pendingQueue.length
  }

  /** Rewards, overrides and activations waiting for their decision. */
  get heldEvents(): number {
    return this.heldCount
  }

  /**
   * The decision a new decision with this key logged at `atMs` would collide with, if its key
   * is still remembered then.
   */
  rememberedDecision(key: string, atMs: number): { fingerprint: Fingerprint } | undefined {
    const known = this.rememberedAt(key, atMs)
    return known < 0 ? undefined : { fingerprint: this.decisions.fingerprint(known) }
  }

  /** The log position of the decision pending for `key`, if one is. */
  pendingPos(key: string): number | undefined {
    const known = this.decisions.slotOf(key)
    return known >= 0 && this.decisions.pending(known) ? this.decisions.pos(known) : undefined
  }

  /** The slot of the decision whose key is remembered at `atMs`, or -1. */
  private rememberedAt(key: string, atMs: number): number {
    const known = this.decisions.slotOf(key)
    return known >= 0 && atMs < this.decisions.dueMs(known) + this.keyMemoryMs ? known : -1
  }

  /** The due time of the decision in the slot at the head of `queue`, if any. */
  private headDueMs(queue: SlotQueue): number | undefined {
    const slot = queue.peek()
    return slot < 0 ? undefined : this.decisions.dueMs(slot)
  }

  /** The due time of the oldest pending decision: when the next one leaves the pending set. */
  oldestPendingDueMs(): number | undefined {
    return this.headDueMs(this.pendingQueue)
  }

  /** When the oldest held event becomes an orphan and stops being held. */
  oldestHeldExpiryMs(): number | undefined {
    const held = this.peekUnclaimedHeld()
    return held === undefined ? undefined : this.orphanAtMs(held)
  }

  /**
   * The rewards a reward for `key` logged at `atMs` would join: those counted for its pending
   * decision, or those held for the key while no decision came. Undefined when it would be late.
   */
  rewardsFor(key: string, atMs: number): RewardsSeen | undefined {
    const decisions = this.decisions
    const known = decisions.slotOf(key)
    if (known >= 0) {
      const dueMs = decisions.dueMs(known)
      if (decisions.pending(known) && atMs < dueMs) return decisions.rewardsSeen(known)
      if (atMs < dueMs + this.keyMemoryMs) return undefined
    }
    return this.heldRewards(key, atMs)
  }

  /** Rewards held for `key` that are still held at `atMs` (not yet orphans then). */
  private heldRewards(key: string, atMs: number): RewardsSeen {
    const held = this.heldCount === 0 ? undefined : this.heldByKey.get(key)
    if (held === undefined) return NONE_SEEN
    const ids = new Set<string>()
    let count = 0
    for (const { event } of held) {
      if (event.type !== 'reward' || this.orphanAtMs({ event }) <= atMs) continue
      if (event.id === undefined) count++
      else if (!ids.has(event.id)) {
        ids.add(event.id)
        count++
      }
    }
    return { count, has: (id) => ids.has(id) }
  }

  /** The next log time at which something will be released, if anything is waiting. */
  nextReleaseMs(): number | undefined {
    const due = this.headDueMs(this.pendingQueue)
    const held = this.peekUnclaimedHeld()
    const orphanAt = held === undefined ? undefined : this.orphanAtMs(held)
    if (due === undefined) return orphanAt
    if (orphanAt === undefined) return due
    return Math.min(due, orphanAt)
  }

  /**
   * The log time from which the engine will hold no state at all (no decision pending or
   * remembered, no event held), or undefined if it holds none now.
   */
  quietFromMs(): number | undefined {
    const newestPending = this.pendingQueue.last()
    const newest = newestPending >= 0 ? newestPending : this.rememberedQueue.last()
    const decisionsUntil = newest < 0 ? undefined : this.decisions.dueMs(newest) + this.keyMemoryMs
    const held = this.heldCount > 0 ? this.heldQueue.last() : undefined
    const heldUntil = held === undefined ? undefined : this.orphanAtMs(held)
    if (decisionsUntil === undefined) return heldUntil
    return heldUntil === undefined ? decisionsUntil : Math.max(decisionsUntil, heldUntil)
  }

  apply(event: LoggedEvent): void {
    this.advanceTo(event.insertMs)
    if (event.type === 'decision') this.applyDecision(event)
    else this.applyFollowUp(event)
  }

  /**
   * Every event stamped before `timeMs` has been applied: release decisions due at or before
   * it and held events that can no longer meet their decision, in (time, log position) order.
   */
  advanceTo(timeMs: number): void {
    if (timeMs <= this.nowMs) return
    this.nowMs = timeMs
    const decisions = this.decisions
    for (;;) {
      const decision = this.pendingQueue.peek()
      const dueMs = decision < 0 ? Number.NaN : decisions.dueMs(decision)
      const held = this.peekUnclaimedHeld()
      const decisionReady = decision >= 0 && dueMs <= timeMs
      const heldReady = held !== undefined && this.orphanAtMs(held) <= timeMs
      if (!decisionReady && !heldReady) break
      const decisionFirst =
        decisionReady &&
        (!heldReady ||
          dueMs < this.orphanAtMs(held) ||
          (dueMs === this.orphanAtMs(held) && decisions.pos(decision) < held.event.pos))
      if (decisionFirst) this.releaseDecision(this.pendingQueue.shift())
      else this.releaseHeld(this.heldQueue.shift() as HeldEvent)
    }
    this.forgetExpiredKeys(timeMs)
  }

  /** The oldest held event not yet claimed by its decision (claimed ones are dropped on the way). */
  private peekUnclaimedHeld(): HeldEvent | undefined {
    let held = this.heldQueue.peek()
    while (held?.claimed) {
      this.heldQueue.shift()
      held = this.heldQueue.peek()
    }
    return held
  }

  /** A held event is an orphan once no decision can claim it: a decision at t claims it iff t - G <= its time. */
  private orphanAtMs(held: Pick<HeldEvent, 'event'>): number {
    return held.event.insertMs + this.settings.earlyRewardMs + 1
  }

  private applyDecision(event: DecisionEvent): void {
    const known = this.rememberedAt(event.key, event.insertMs)
    if (known >= 0) {
      if (sameFingerprint(this.decisions.fingerprint(known), fingerprintOf(event.fingerprint)))
        this.sink.observe({ kind: 'duplicate_decision' })
      else this.sink.deadLetter({ event, reason: 'conflicting_duplicate', releaseMs: event.insertMs })
      return
    }
    const pending = this.decisions.add(event, event.insertMs + this.settings.expUnitMs)
    this.pendingQueue.push(pending)
    // A held event is counted until claimed or released: none counted, no list to look up.
    const held = this.heldCount === 0 ? undefined : this.heldByKey.get(event.key)
    if (held !== undefined) {
      this.heldByKey.delete(event.key)
      for (const h of held) {
        h.claimed = true
        this.heldCount--
        this.attach(pending, h.event)
      }
    }
  }

  private applyFollowUp(event: FollowUpEvent): void {
    const known = this.decisions.slotOf(event.key)
    if (known >= 0 && this.decisions.pending(known)) {
      this.attach(known, event)
      return
    }
    if (known >= 0) {
      if (event.type === 'reward') {
        const decisionMs = this.decisions.dueMs(known) - this.settings.expUnitMs
        this.sink.observe({ kind: 'reward_late', delayMs: event.insertMs - decisionMs })
      }
      this.sink.deadLetter({ event, reason: 'late', releaseMs: event.insertMs })
      return
    }
    this.hold(event)
    this.sink.observe({ kind: 'held_early', type: event.type })
  }

  /** Holds an event for a decision that has not come (yet), with its body as text (`withTextBody`). */
  private hold(event: FollowUpEvent): void {
    const held: HeldEvent = { event: withTextBody(event), claimed: false }
    const forKey = this.heldByKey.get(event.key)
    if (forKey === undefined) this.heldByKey.set(event.key, [held])
    else forKey.push(held)
    this.heldQueue.push(held)
    this.heldCount++
  }

  private attach(pending: number, event: FollowUpEvent): void {
    const decisions = this.decisions
    switch (event.type) {
      case 'reward':
        if (decisions.count(pending, event)) {
          const decisionMs = decisions.dueMs(pending) - this.settings.expUnitMs
          this.sink.observe({ kind: 'reward_counted', delayMs: event.insertMs - decisionMs })
        } else {
          this.sink.observe({ kind: 'reward_repeated' })
        }
        return
      case 'override':
        if (decisions.overridden(pending)) this.sink.observe({ kind: 'no_effect', type: 'override' })
        decisions.markOverridden(pending)
        return
      case 'activate':
        if (!decisions.deferred(pending) || decisions.activated(pending))
          this.sink.observe({ kind: 'no_effect', type: 'activate' })
        decisions.markActivated(pending)
        return
    }
  }

  private releaseDecision(slot: number): void {
    const decisions = this.decisions
    const dueMs = decisions.dueMs(slot)
    const deferred = decisions.deferred(slot)
    const insertMs = dueMs - this.settings.expUnitMs
    const event: DecisionRef = {
      type: 'decision',
      pos: decisions.pos(slot),
      insertMs,
      key: decisions.key(slot),
      deferred,
    }
    const outcome = decisions.outcome(slot, this.settings.defaultReward, insertMs)
    if (decisions.overridden(slot))
      this.sink.deadLetter({ event, reason: 'overridden', releaseMs: dueMs, outcome })
    else if (deferred && !decisions.activated(slot)) {
      this.sink.deadLetter({ event, reason: 'not_activated', releaseMs: dueMs, outcome })
    } else this.sink.record({ decision: event, dueMs, outcome })
    decisions.forgetDetails(slot)
    this.rememberedQueue.push(slot)
  }

  private releaseHeld(held: HeldEvent): void {
    const { event } = held
    const forKey = this.heldByKey.get(event.key)
    if (forKey !== undefined) {
      forKey.shift()
      if (forKey.length === 0) this.heldByKey.delete(event.key)
    }
    this.heldCount--
    this.sink.deadLetter({ event, reason: 'orphan', releaseMs: this.orphanAtMs(held) })
  }

  private forgetExpiredKeys(timeMs: number): void {
    for (;;) {
      const oldest = this.rememberedQueue.peek()
      if (oldest < 0 || this.decisions.dueMs(oldest) + this.keyMemoryMs > timeMs) return
      this.rememberedQueue.shift()
      // A key is reused only after it expired here, so the entry is still this one.
      this.decisions.remove(oldest)
    }
  }
}
