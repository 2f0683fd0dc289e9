/**
 * A reference model of the join (SPEC §3), written from the definitions, not from the engine:
 * it looks at the whole log at once and decides every event's fate directly, with no queues,
 * no clock and no incremental state. Quadratic, and meant to be obviously right.
 *
 * Definitions used (t = insert_ms, E, G, H = max(E, G)):
 * - an accepted decision d remembers its key during [t_d, t_d + E + H) and is pending during
 *   [t_d, t_d + E);
 * - a decision is accepted iff no earlier accepted decision remembers its key at its time;
 *   otherwise it is a duplicate (same fingerprint: no output) or a conflicting duplicate
 *   (dead letter at its own time);
 * - a reward, override or activation whose key is remembered but not pending by an earlier
 *   accepted decision is late (dead letter at its own time); otherwise it belongs to the
 *   accepted decision with its key whose window [t_d - G, t_d + E) contains its time (such
 *   windows of one key never overlap), and if there is none it is an orphan once G has
 *   passed, i.e. at t + G + 1;
 * - a decision is released at t_d + E: overridden if an override belongs to it, else
 *   not_activated if deferred and no activation belongs to it, else a joined record.
 * Everything comes out ordered by (release time, log position).
 */
import type {
  DeadLetter,
  DecisionEvent,
  FollowUpEvent,
  JoinOutcome,
  JoinSettings,
  LoggedEvent,
  RewardAggregation,
  RewardEvent,
} from '../../src/engine/types.js'
import type { Output } from './engine-events.js'

/** Combines rewards given in log order, straight from the definitions of SPEC §3. */
export function aggregate(agg: RewardAggregation, values: readonly number[]): number {
  if (values.length === 0) throw new Error('nothing to aggregate')
  const sum = values.reduce((a, b) => a + b, 0)
  switch (agg) {
    case 'last':
      return values[values.length - 1] as number
    case 'first':
      return values[0] as number
    case 'sum':
      return sum
    case 'mean':
      return sum / values.length
    case 'min':
      return Math.min(...values)
    case 'max':
      return Math.max(...values)
    case 'median': {
      const sorted = [...values].sort((a, b) => a - b)
      const n = sorted.length
      if (n % 2 === 1) return sorted[(n - 1) / 2] as number
      return ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2
    }
  }
}

function memoryMs(s: JoinSettings): number {
  return Math.max(s.expUnitMs, s.earlyRewardMs)
}

/** The accepted decisions of a log, each with whether it was accepted, in log order. */
function acceptedDecisions(s: JoinSettings, events: readonly LoggedEvent[]): DecisionEvent[] {
  const accepted: DecisionEvent[] = []
  for (const e of events) {
    if (e.type !== 'decision') continue
    if (rememberingDecision(s, accepted, e.key, e.insertMs) === undefined) accepted.push(e)
  }
  return accepted
}

/** The accepted decision (among `accepted`) that remembers `key` at time `t`, if any. */
function rememberingDecision(
  s: JoinSettings,
  accepted: readonly DecisionEvent[],
  key: string,
  t: number,
): DecisionEvent | undefined {
  return accepted.find((d) => d.key === key && d.insertMs <= t && t < d.insertMs + s.expUnitMs + memoryMs(s))
}

/**
 * The fingerprint of the decision that remembers `key` at `atMs` after the whole log `events`
 * (what a new decision logged then would collide with), if any.
 */
export function modelRememberedFingerprint(
  s: JoinSettings,
  events: readonly LoggedEvent[],
  key: string,
  atMs: number,
): string | undefined {
  return rememberingDecision(s, acceptedDecisions(s, events), key, atMs)?.fingerprint
}

/**
 * The distinct rewards (a repeated id once) a reward for `key` logged at `atMs` would join after
 * the whole log `events`: those counted for its pending decision, or those held for the key
 * (no decision, not yet orphans); undefined when it would be late.
 */
export function modelRewardsFor(
  s: JoinSettings,
  events: readonly LoggedEvent[],
  key: string,
  atMs: number,
): { count: number; ids: string[] } | undefined {
  const E = s.expUnitMs
  const G = s.earlyRewardMs
  const accepted = acceptedDecisions(s, events)
  const remembering = rememberingDecision(s, accepted, key, atMs)
  if (remembering !== undefined && atMs >= remembering.insertMs + E) return undefined
  const joined: RewardEvent[] = []
  for (const e of events) {
    if (e.type !== 'reward' || e.key !== key) continue
    const earlier = rememberingDecision(
      s,
      accepted.filter((d) => d.pos < e.pos),
      key,
      e.insertMs,
    )
    if (earlier !== undefined && e.insertMs >= earlier.insertMs + E) continue
    const owner = accepted.find(
      (d) => d.key === key && d.insertMs - G <= e.insertMs && e.insertMs < d.insertMs + E,
    )
    if (remembering !== undefined ? owner === remembering : owner === undefined && atMs < e.insertMs + G + 1)
      joined.push(e)
  }
  const ids = new Set<string>()
  let count = 0
  for (const e of joined) {
    if (e.id === undefined) count++
    else if (!ids.has(e.id)) {
      ids.add(e.id)
      count++
    }
  }
  return { count, ids: [...ids].sort() }
}

function outcomeOf(
  s: JoinSettings,
  decision: DecisionEvent,
  belonging: readonly FollowUpEvent[],
): JoinOutcome {
  const seenIds = new Set<string>()
  const counted: { value: number; insertMs: number }[] = []
  for (const e of belonging) {
    if (e.type !== 'reward') continue
    if (e.id !== undefined) {
      if (seenIds.has(e.id)) continue
      seenIds.add(e.id)
    }
    counted.push({ value: e.reward, insertMs: e.insertMs })
  }
  const lastCounted = counted[counted.length - 1]
  if (lastCounted === undefined) return { reward: s.defaultReward, rewardCount: 0, rewardDeltaMs: null }
  return {
    reward: aggregate(
      s.rewardAgg,
      counted.map((c) => c.value),
    ),
    rewardCount: counted.length,
    rewardDeltaMs: lastCounted.insertMs - decision.insertMs,
  }
}

interface Released {
  releaseMs: number
  pos: number
  output: Output
}

/**
 * What the engine must have output after applying all of `events` (in order) and advancing to
 * `finalMs` (at least the last event's time): records and dead letters, in release order.
 */
export function referenceOutputs(s: JoinSettings, events: readonly LoggedEvent[], finalMs: number): Output[] {
  const E = s.expUnitMs
  const G = s.earlyRewardMs
  const accepted = acceptedDecisions(s, events)
  const released: Released[] = []
  const dead = (deadLetter: DeadLetter) =>
    released.push({
      releaseMs: deadLetter.releaseMs,
      pos: deadLetter.event.pos,
      output: { kind: 'dead', deadLetter },
    })
  const belongsTo = new Map<DecisionEvent, FollowUpEvent[]>(accepted.map((d) => [d, []]))

  for (const e of events) {
    const t = e.insertMs
    const earlierAccepted = accepted.filter((d) => d.pos < e.pos)
    const remembering = rememberingDecision(s, earlierAccepted, e.key, t)
    if (e.type === 'decision') {
      if (remembering !== undefined && remembering.fingerprint !== e.fingerprint) {
        dead({ event: e, reason: 'conflicting_duplicate', releaseMs: t })
      }
      continue
    }
    if (remembering !== undefined && t >= remembering.insertMs + E) {
      dead({ event: e, reason: 'late', releaseMs: t })
      continue
    }
    const owner = accepted.find((d) => d.key === e.key && d.insertMs - G <= t && t < d.insertMs + E)
    if (owner !== undefined) belongsTo.get(owner)?.push(e)
    else if (t + G + 1 <= finalMs) dead({ event: e, reason: 'orphan', releaseMs: t + G + 1 })
  }

  for (const [d, belonging] of belongsTo) {
    const dueMs = d.insertMs + E
    if (dueMs > finalMs) continue
    belonging.sort((a, b) => a.pos - b.pos)
    const outcome = outcomeOf(s, d, belonging)
    if (belonging.some((e) => e.type === 'override')) {
      dead({ event: d, reason: 'overridden', releaseMs: dueMs, outcome })
    } else if (d.deferred && !belonging.some((e) => e.type === 'activate')) {
      dead({ event: d, reason: 'not_activated', releaseMs: dueMs, outcome })
    } else {
      released.push({
        releaseMs: dueMs,
        pos: d.pos,
        output: { kind: 'record', record: { decision: d, dueMs, outcome } },
      })
    }
  }

  released.sort((a, b) => a.releaseMs - b.releaseMs || a.pos - b.pos)
  return released.map((r) => r.output)
}
