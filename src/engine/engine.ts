import { DecisionState } from './decision-state.js'
import { Fifo } from './fifo.js'
import { type Fingerprint, fingerprintOf, sameFingerprint } from './fingerprint.js'
import {
  type DecisionEvent,
  type DecisionRef,
  type EngineSink,
  type FollowUpEvent,
  type JoinSettings,
  keyMemoryMs,
  type LoggedEvent,
  type RewardsSeen,
} from './types.js'

/** A reward, override or activation that came before any decision with its key. */
interface HeldEvent {
  readonly event: FollowUpEvent
  claimed: boolean
}

const NONE_SEEN: RewardsSeen = { count: 0, has: () => false }

/**
 * The join of SPEC §3 as a deterministic state machine. Events go in through `apply` in log
 * order; `advanceTo(T)` says that every event stamped before T has been applied. Records and
 * dead letters come out through the sink in release order. No clock, no I/O, no timers: what
 * comes out depends only on the sequence of events, not on when `advanceTo` is called.
 */
export class JoinEngine {
  private readonly decisions = new Map<string, DecisionState>()
  private readonly pendingQueue = new Fifo<DecisionState>()
  private readonly rememberedQueue = new Fifo<DecisionState>()
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
    return known === undefined ? undefined : { fingerprint: { hi: known.hi, lo: known.lo } }
  }

  /** The log position of the decision pending for `key`, if one is. */
  pendingPos(key: string): number | undefined {
    const known = this.decisions.get(key)
    return known?.pending ? known.pos : undefined
  }

  private rememberedAt(key: string, atMs: number): DecisionState | undefined {
    const known = this.decisions.get(key)
    return known !== undefined && atMs < known.dueMs + this.keyMemoryMs ? known : undefined
  }

  /** The due time of the oldest pending decision: when the next one leaves the pending set. */
  oldestPendingDueMs(): number | undefined {
    return this.pendingQueue.peek()?.dueMs
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
    const known = this.decisions.get(key)
    if (known?.pending && atMs < known.dueMs) return known.rewardsSeen()
    if (known !== undefined && atMs < known.dueMs + this.keyMemoryMs) return undefined
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
    const due = this.pendingQueue.peek()?.dueMs
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
    const newest = this.pendingQueue.last() ?? this.rememberedQueue.last()
    const decisionsUntil = newest === undefined ? undefined : newest.dueMs + this.keyMemoryMs
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
    for (;;) {
      const decision = this.pendingQueue.peek()
      const held = this.peekUnclaimedHeld()
      const decisionReady = decision !== undefined && decision.dueMs <= timeMs
      const heldReady = held !== undefined && this.orphanAtMs(held) <= timeMs
      if (!decisionReady && !heldReady) break
      const decisionFirst =
        decisionReady &&
        (!heldReady ||
          decision.dueMs < this.orphanAtMs(held) ||
          (decision.dueMs === this.orphanAtMs(held) && decision.pos < held.event.pos))
      if (decisionFirst) this.releaseDecision(this.pendingQueue.shift() as DecisionState)
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
    if (known !== undefined) {
      if (sameFingerprint(known, fingerprintOf(event.fingerprint)))
        this.sink.observe({ kind: 'duplicate_decision' })
      else this.sink.deadLetter({ event, reason: 'conflicting_duplicate', releaseMs: event.insertMs })
      return
    }
    const pending = new DecisionState(event, event.insertMs + this.settings.expUnitMs)
    this.decisions.set(event.key, pending)
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
    const known = this.decisions.get(event.key)
    if (known?.pending) {
      this.attach(known, event)
      return
    }
    if (known !== undefined) {
      if (event.type === 'reward') {
        const decisionMs = known.dueMs - this.settings.expUnitMs
        this.sink.observe({ kind: 'reward_late', delayMs: event.insertMs - decisionMs })
      }
      this.sink.deadLetter({ event, reason: 'late', releaseMs: event.insertMs })
      return
    }
    const held: HeldEvent = { event, claimed: false }
    const forKey = this.heldByKey.get(event.key)
    if (forKey === undefined) this.heldByKey.set(event.key, [held])
    else forKey.push(held)
    this.heldQueue.push(held)
    this.heldCount++
    this.sink.observe({ kind: 'held_early', type: event.type })
  }

  private attach(pending: DecisionState, event: FollowUpEvent): void {
    switch (event.type) {
      case 'reward':
        if (pending.count(event, this.settings)) {
          const decisionMs = pending.dueMs - this.settings.expUnitMs
          this.sink.observe({ kind: 'reward_counted', delayMs: event.insertMs - decisionMs })
        } else {
          this.sink.observe({ kind: 'reward_repeated' })
        }
        return
      case 'override':
        if (pending.overridden) this.sink.observe({ kind: 'no_effect', type: 'override' })
        pending.markOverridden()
        return
      case 'activate':
        if (!pending.deferred || pending.activated) this.sink.observe({ kind: 'no_effect', type: 'activate' })
        pending.markActivated()
        return
    }
  }

  private releaseDecision(state: DecisionState): void {
    const { dueMs, key, pos, deferred } = state
    const insertMs = dueMs - this.settings.expUnitMs
    const event: DecisionRef = { type: 'decision', pos, insertMs, key, deferred }
    const outcome = state.outcome(this.settings, insertMs)
    if (state.overridden) this.sink.deadLetter({ event, reason: 'overridden', releaseMs: dueMs, outcome })
    else if (deferred && !state.activated) {
      this.sink.deadLetter({ event, reason: 'not_activated', releaseMs: dueMs, outcome })
    } else this.sink.record({ decision: event, dueMs, outcome })
    state.forgetDetails()
    this.rememberedQueue.push(state)
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
      if (oldest === undefined || oldest.dueMs + this.keyMemoryMs > timeMs) return
      this.rememberedQueue.shift()
      // A key is reused only after it expired here, so the entry is still this one.
      this.decisions.delete(oldest.key)
    }
  }
}
