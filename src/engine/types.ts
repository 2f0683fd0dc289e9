/** The four kinds of event the join consumes, as they sit in the log. */
export type EventType = 'decision' | 'reward' | 'override' | 'activate'

/** What every logged event carries: its place in the log and the service's own time for it. */
interface LoggedBase {
  /** Position in the log: strictly increasing, the tie-breaker for equal times. */
  pos: number
  /** The service clock when the event was accepted (SPEC §2); never decreases along the log. */
  insertMs: number
  key: string
  /** The event's fields as logged, a JSON object text or its UTF-8 bytes (without `type` and `insert_ms`). */
  body: EventBody
}

/**
 * A logged event's JSON text: a string, or its UTF-8 bytes. A batch checked on a worker thread
 * gives its events' bodies as views of one buffer: thousands of body strings a batch, alive until
 * the batch is committed, were garbage in the main thread's old generation (as much again as the
 * bodies with 2 KB contexts) and a structured clone each.
 */
export type EventBody = string | Buffer

/** The text of `body`. */
export function bodyText(body: EventBody): string {
  return typeof body === 'string' ? body : body.toString('utf8')
}

/**
 * `event` with its body as text, for one kept longer than its batch's commit: a view of the
 * batch's bytes would keep the whole batch's buffer as long.
 */
export function withTextBody<E extends LoggedEvent>(event: E): E {
  return typeof event.body === 'string' ? event : { ...event, body: bodyText(event.body) }
}

export interface DecisionEvent extends LoggedBase {
  type: 'decision'
  /** Logged with `"deferred": true`: emitted only if activated within the window. */
  deferred: boolean
  /** Identity of the decision's fields for duplicate detection (equal iff the fields are equal). */
  fingerprint: string
}

export interface RewardEvent extends LoggedBase {
  type: 'reward'
  reward: number
  /** Rewards with the same key and id count once. */
  id?: string | undefined
}

export interface OverrideEvent extends LoggedBase {
  type: 'override'
}

export interface ActivateEvent extends LoggedBase {
  type: 'activate'
}

export type LoggedEvent = DecisionEvent | RewardEvent | OverrideEvent | ActivateEvent
export type FollowUpEvent = RewardEvent | OverrideEvent | ActivateEvent

export const REWARD_AGGREGATIONS = ['last', 'first', 'sum', 'mean', 'min', 'max', 'median'] as const
export type RewardAggregation = (typeof REWARD_AGGREGATIONS)[number]

/** The join's settings (SPEC §3); recorded in the log, since the output depends on them. */
export interface JoinSettings {
  /** E: a decision is due this long after it was logged. @default 10000 */
  expUnitMs: number
  /** G: how long a reward, override or activation may precede its decision. @default 120000 */
  earlyRewardMs: number
  /** How several counted rewards combine. @default 'last' */
  rewardAgg: RewardAggregation
  /** The reward of a decision with no counted reward. @default 0 */
  defaultReward: number
}

/** H: how long after its due time a decision's key is remembered. */
export function keyMemoryMs(s: JoinSettings): number {
  return Math.max(s.expUnitMs, s.earlyRewardMs)
}

/**
 * How far back from a checkpoint the log must be replayed to rebuild the engine's state
 * exactly: a pending decision's rewards may precede it by G, and whether such an early reward
 * was held depended on which keys were remembered then (decisions up to E + H older).
 */
export function replayHorizonMs(s: JoinSettings): number {
  return 2 * s.expUnitMs + s.earlyRewardMs + keyMemoryMs(s)
}

/**
 * The rewards counted or held for one key, a repeated id once (SPEC §3): what ingest bounds
 * by MAX_REWARDS_PER_DECISION.
 */
export interface RewardsSeen {
  readonly count: number
  has(id: string): boolean
}

/** The reward side of a joined record. */
export interface JoinOutcome {
  reward: number
  rewardCount: number
  /** insert_ms of the last counted reward minus the decision's insert_ms; null when none counted. */
  rewardDeltaMs: number | null
}

/**
 * A decision as the engine releases it: where it is in the log and what the join needs, not its
 * body. The engine keeps no bodies; the driver reads the decision's body back from the log (by
 * `pos`) when it writes the record or dead letter out.
 */
export interface DecisionRef {
  type: 'decision'
  pos: number
  insertMs: number
  key: string
  deferred: boolean
}

/** What a dead letter is about: an event as logged, or a cancelled decision by its position. */
export type ReleasedEvent = LoggedEvent | DecisionRef

export interface JoinedRecord {
  decision: DecisionRef
  dueMs: number
  outcome: JoinOutcome
}

export type DeadLetterReason = 'late' | 'orphan' | 'overridden' | 'not_activated' | 'conflicting_duplicate'

export interface DeadLetter {
  /** A cancelled decision (overridden, not_activated) comes by position only, without its body. */
  event: ReleasedEvent
  reason: DeadLetterReason
  /** The log time at which the reason became final. */
  releaseMs: number
  /** For a cancelled decision: the reward side its joined record would have had. */
  outcome?: JoinOutcome
}

/** Things worth counting that change no output. */
export type Observation =
  | { kind: 'reward_counted'; delayMs: number }
  | { kind: 'reward_late'; delayMs: number }
  | { kind: 'reward_repeated' }
  | { kind: 'held_early'; type: FollowUpEvent['type'] }
  | { kind: 'duplicate_decision' }
  | { kind: 'no_effect'; type: FollowUpEvent['type'] }

/** Where the engine sends what it produces, in order. */
export interface EngineSink {
  record(r: JoinedRecord): void
  deadLetter(d: DeadLetter): void
  observe(o: Observation): void
}
