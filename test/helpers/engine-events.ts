import { JoinEngine } from '../../src/engine/engine.js'
import type {
  ActivateEvent,
  DeadLetter,
  DecisionEvent,
  DecisionRef,
  EngineSink,
  JoinedRecord,
  JoinSettings,
  LoggedEvent,
  Observation,
  OverrideEvent,
  RewardEvent,
} from '../../src/engine/types.js'
import { replayHorizonMs } from '../../src/engine/types.js'

/** E = 10, G = 5 (so H = 10), `last`, default reward 0: small numbers that keep tests readable. */
export const SETTINGS: JoinSettings = { expUnitMs: 10, earlyRewardMs: 5, rewardAgg: 'last', defaultReward: 0 }

export function settings(overrides: Partial<JoinSettings> = {}): JoinSettings {
  return { ...SETTINGS, ...overrides }
}

export interface DecisionOptions {
  deferred?: boolean
  /** The decision's fields; the fingerprint defaults to this text. */
  body?: string
  fingerprint?: string
}

export interface RewardOptions {
  id?: string
}

/**
 * Builds a log: every event gets the next position, so events are created in log order.
 * Times must not decrease; the builder checks it so a test cannot build an impossible log.
 */
export class LogBuilder {
  readonly events: LoggedEvent[] = []
  private nextPos = 1
  private lastMs = Number.NEGATIVE_INFINITY

  decision(key: string, insertMs: number, options: DecisionOptions = {}): DecisionEvent {
    const body = options.body ?? JSON.stringify({ key, action: 1, probability: 0.5, context: {} })
    return this.push({
      type: 'decision',
      ...this.base(key, insertMs),
      body,
      deferred: options.deferred ?? false,
      fingerprint: options.fingerprint ?? body,
    })
  }

  reward(key: string, insertMs: number, reward: number, options: RewardOptions = {}): RewardEvent {
    const body = JSON.stringify(options.id === undefined ? { key, reward } : { key, reward, id: options.id })
    const event: RewardEvent = { type: 'reward', ...this.base(key, insertMs), body, reward }
    if (options.id !== undefined) event.id = options.id
    return this.push(event)
  }

  override(key: string, insertMs: number): OverrideEvent {
    return this.push({ type: 'override', ...this.base(key, insertMs), body: JSON.stringify({ key }) })
  }

  activate(key: string, insertMs: number): ActivateEvent {
    return this.push({ type: 'activate', ...this.base(key, insertMs), body: JSON.stringify({ key }) })
  }

  private base(key: string, insertMs: number): { pos: number; insertMs: number; key: string } {
    if (insertMs < this.lastMs) throw new Error(`insertMs ${insertMs} decreases (last ${this.lastMs})`)
    this.lastMs = insertMs
    return { pos: this.nextPos++, insertMs, key }
  }

  private push<T extends LoggedEvent>(event: T): T {
    this.events.push(event)
    return event
  }
}

/** One output of the engine, in the order it came out. */
export type Output = { kind: 'record'; record: JoinedRecord } | { kind: 'dead'; deadLetter: DeadLetter }

/** Turns a decision the engine released by position back into the decision as logged. */
export type DecisionResolver = (ref: DecisionRef) => DecisionEvent

/**
 * Resolves released decisions against the log they came from, as a driver reads their bodies
 * back: the logged event at that position, which must agree with what the engine said of it.
 */
export function byPosition(events: readonly LoggedEvent[]): DecisionResolver {
  const byPos = new Map(events.map((e) => [e.pos, e]))
  return (ref) => {
    const event = byPos.get(ref.pos)
    if (
      event?.type !== 'decision' ||
      event.key !== ref.key ||
      event.insertMs !== ref.insertMs ||
      event.deferred !== ref.deferred
    ) {
      throw new Error(`released ${JSON.stringify(ref)}, logged ${JSON.stringify(event)}`)
    }
    return event
  }
}

/**
 * A sink that keeps everything it is given; with a resolver, released decisions are kept as
 * logged (with body and fingerprint), as the reference model states them.
 */
export class CollectingSink implements EngineSink {
  readonly outputs: Output[] = []
  readonly observations: Observation[] = []

  constructor(private readonly resolve?: DecisionResolver) {}

  record(record: JoinedRecord): void {
    const { resolve } = this
    this.outputs.push({
      kind: 'record',
      record: resolve === undefined ? record : { ...record, decision: resolve(record.decision) },
    })
  }

  deadLetter(deadLetter: DeadLetter): void {
    const { resolve } = this
    const { event } = deadLetter
    this.outputs.push({
      kind: 'dead',
      deadLetter:
        resolve === undefined || 'body' in event ? deadLetter : { ...deadLetter, event: resolve(event) },
    })
  }

  observe(observation: Observation): void {
    this.observations.push(observation)
  }

  get records(): JoinedRecord[] {
    return this.outputs.flatMap((o) => (o.kind === 'record' ? [o.record] : []))
  }

  get deadLetters(): DeadLetter[] {
    return this.outputs.flatMap((o) => (o.kind === 'dead' ? [o.deadLetter] : []))
  }

  /** How many observations of this kind were made. */
  count(kind: Observation['kind']): number {
    return this.observations.filter((o) => o.kind === kind).length
  }
}

/** A sink that drops everything (recovery replays into one). */
export const DISCARD: EngineSink = {
  record() {},
  deadLetter() {},
  observe() {},
}

/** A fresh engine with a collecting sink (which resolves released decisions against `events`, if given). */
export function newEngine(
  s: JoinSettings = SETTINGS,
  events?: readonly LoggedEvent[],
): { engine: JoinEngine; sink: CollectingSink } {
  const sink = new CollectingSink(events && byPosition(events))
  return { engine: new JoinEngine(s, sink), sink }
}

/** Applies all events in order, then advances to `untilMs` if given. */
export function run(s: JoinSettings, events: readonly LoggedEvent[], untilMs?: number): CollectingSink {
  const { engine, sink } = newEngine(s, events)
  for (const event of events) engine.apply(event)
  if (untilMs !== undefined) engine.advanceTo(untilMs)
  return sink
}

/** A compact view of a record for assertions: key, due time and the reward side. */
export function summary(r: JoinedRecord): {
  key: string
  dueMs: number
  reward: number
  rewardCount: number
  rewardDeltaMs: number | null
} {
  return { key: r.decision.key, dueMs: r.dueMs, ...r.outcome }
}

/** A compact view of a dead letter: the event's type, key and position, the reason and when. */
export function letter(d: DeadLetter): {
  type: string
  key: string
  pos: number
  reason: string
  releaseMs: number
} {
  return { type: d.event.type, key: d.event.key, pos: d.event.pos, reason: d.reason, releaseMs: d.releaseMs }
}

/**
 * The recovery procedure after a crash: the engine had applied `events[0..crashIndex)` and
 * advanced to `checkpointMs`, and everything released up to then was output. A new engine
 * replays, discarding outputs, the events of that prefix logged at or after
 * `checkpointMs - horizonMs`, advances to the checkpoint, then applies the rest of the log and
 * advances to `endMs`. Returns what the recovered engine output after the checkpoint.
 */
export function recoverAndRun(
  s: JoinSettings,
  events: readonly LoggedEvent[],
  crashIndex: number,
  checkpointMs: number,
  endMs: number,
  horizonMs: number = replayHorizonMs(s),
): CollectingSink {
  const engine = new JoinEngine(s, DISCARD)
  for (const event of events.slice(0, crashIndex)) {
    if (event.insertMs >= checkpointMs - horizonMs) engine.apply(event)
  }
  engine.advanceTo(checkpointMs)
  const after = new CollectingSink(byPosition(events))
  engine.setSink(after)
  for (const event of events.slice(crashIndex)) engine.apply(event)
  engine.advanceTo(endMs)
  return after
}
