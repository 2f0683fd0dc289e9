/** fast-check generators for random logs: few keys (so they collide and get reused), small windows. */
import fc from 'fast-check'
import type { JoinSettings, LoggedEvent } from '../../src/engine/types.js'
import { REWARD_AGGREGATIONS } from '../../src/engine/types.js'

/** Short ASCII keys, one beyond Latin-1 and one longer than a key cell (`KeyCells`): kept off the heap and not. */
export const KEYS = ['a', 'b', 'c', 'ключ', `long-${'x'.repeat(40)}`] as const

export const settingsArb: fc.Arbitrary<JoinSettings> = fc.record({
  expUnitMs: fc.integer({ min: 1, max: 20 }),
  earlyRewardMs: fc.integer({ min: 0, max: 30 }),
  rewardAgg: fc.constantFrom(...REWARD_AGGREGATIONS),
  defaultReward: fc.integer({ min: -2, max: 2 }),
})

/** Mostly small gaps, some larger than E, G and H, so every boundary gets hit. */
const gapArb = fc.oneof(
  { arbitrary: fc.constant(0), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 8 },
  { arbitrary: fc.integer({ min: 4, max: 12 }), weight: 4 },
  { arbitrary: fc.integer({ min: 13, max: 40 }), weight: 2 },
  { arbitrary: fc.integer({ min: 41, max: 120 }), weight: 1 },
)

/** One step of a random log: the event to log after `gap` ms, and where to call advanceTo before it. */
export interface Step {
  gap: number
  kind: LoggedEvent['type']
  key: string
  deferred: boolean
  /** 0 and 1 are different decisions; 2 is decision 0 with a different timestamp (same fingerprint). */
  variant: 0 | 1 | 2
  reward: number
  id: string | undefined
  /** advanceTo(previous time + advance % (gap + 1)) before the event, if set. */
  advance: number | undefined
}

export const stepArb: fc.Arbitrary<Step> = fc.record({
  gap: gapArb,
  kind: fc.constantFrom<LoggedEvent['type']>(
    'decision',
    'decision',
    'reward',
    'reward',
    'reward',
    'override',
    'activate',
  ),
  key: fc.constantFrom('a', 'a', 'a', 'b', 'c'),
  deferred: fc.constantFrom(false, false, false, true),
  variant: fc.constantFrom<0 | 1 | 2>(0, 0, 1, 2),
  reward: fc.integer({ min: -3, max: 9 }),
  id: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
  advance: fc.option(fc.nat(200), { nil: undefined }),
})

export const stepsArb = fc.array(stepArb, { minLength: 1, maxLength: 50, size: 'large' })

/** Where the random log starts. */
export const START_MS = 1000

/** The event a step logs at `insertMs` with position `pos`. */
export function eventOf(step: Step, pos: number, insertMs: number): LoggedEvent {
  const { key } = step
  switch (step.kind) {
    case 'decision': {
      const fields = { key, action: step.variant === 1 ? 2 : 1, deferred: step.deferred }
      const body = JSON.stringify(step.variant === 2 ? { ...fields, timestamp: insertMs } : fields)
      return {
        type: 'decision',
        pos,
        insertMs,
        key,
        body,
        deferred: step.deferred,
        fingerprint: JSON.stringify(fields),
      }
    }
    case 'reward': {
      const body = JSON.stringify({ key, reward: step.reward, id: step.id })
      return { type: 'reward', pos, insertMs, key, body, reward: step.reward, id: step.id }
    }
    default:
      return { type: step.kind, pos, insertMs, key, body: JSON.stringify({ key }) }
  }
}

/** A log built from steps, with the advanceTo times to call before each event. */
export interface RandomLog {
  events: LoggedEvent[]
  /** advanceBefore[i]: where to advance before applying events[i], if anywhere. */
  advanceBefore: (number | undefined)[]
}

/**
 * Builds the log of `steps`. `keep(event)` may refuse an event (it is then not logged; time
 * still moves on), as the embedded service refuses a decision whose key is remembered.
 */
export function buildLog(
  steps: readonly Step[],
  keep: (event: LoggedEvent) => boolean = () => true,
): RandomLog {
  const log: RandomLog = { events: [], advanceBefore: [] }
  let previousMs = START_MS
  let pos = 1
  for (const step of steps) {
    const insertMs = previousMs + step.gap
    const event = eventOf(step, pos, insertMs)
    if (keep(event)) {
      log.events.push(event)
      log.advanceBefore.push(
        step.advance === undefined ? undefined : previousMs + (step.advance % (step.gap + 1)),
      )
      pos++
    }
    previousMs = insertMs
  }
  return log
}

/** The time after the last event up to which a run advances at the end. */
export function endOf(log: RandomLog, extra: number): number {
  return (log.events.at(-1)?.insertMs ?? START_MS) + extra
}
