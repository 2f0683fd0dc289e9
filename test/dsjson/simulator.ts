import assert from 'node:assert/strict'
import { seeded } from '../../demo/world.js'
import { postBatch } from '../helpers/http-client.js'
import type { InProcessService } from '../helpers/service.js'
import type { ManualClock } from '../kit/manual-clock.js'
import { waitFor } from '../kit/wait.js'

/**
 * A small simulated world for the learning tests: contexts (a user segment and a time of day),
 * four articles whose click probability depends on the context, and clicks whose reward
 * arrives after a random delay (some before the decision is logged, some after the window).
 * Everything the true values need is exact here: click probabilities and the delay distribution.
 */

export const SEGMENTS = ['student', 'parent', 'retiree'] as const
export const DAYPARTS = ['morning', 'evening'] as const
export const TOPICS = ['sports', 'politics', 'recipes', 'travel'] as const

/** Context x = segment * 2 + daypart. */
export const CONTEXTS = SEGMENTS.flatMap((segment) => DAYPARTS.map((daypart) => ({ segment, daypart })))

/** CLICK[x][a]: probability that context x clicks article a. */
export const CLICK: readonly (readonly number[])[] = [
  [0.6, 0.15, 0.1, 0.2],
  [0.45, 0.1, 0.15, 0.7],
  [0.15, 0.4, 0.3, 0.1],
  [0.1, 0.2, 0.65, 0.15],
  [0.05, 0.55, 0.2, 0.3],
  [0.1, 0.2, 0.25, 0.6],
]

/** When a click's reward arrives, in windows E after the decision (negative: before it is logged). */
export const DELAYS: readonly { afterE: number; weight: number }[] = [
  { afterE: -0.4, weight: 0.1 },
  { afterE: 0.05, weight: 0.15 },
  { afterE: 0.2, weight: 0.15 },
  { afterE: 0.4, weight: 0.1 },
  { afterE: 0.8, weight: 0.15 },
  { afterE: 0.9, weight: 0.1 },
  { afterE: 0.95, weight: 0.1 },
  { afterE: 1.3, weight: 0.1 },
  { afterE: 2.5, weight: 0.05 },
]

/** The share of clicks whose reward counts: logged within [t_d - G, t_d + E) (SPEC §3). */
export function countedShare(earlyRewardMs: number, expUnitMs: number): number {
  const inWindow = DELAYS.filter((d) => d.afterE * expUnitMs >= -earlyRewardMs && d.afterE < 1)
  return inWindow.reduce((sum, d) => sum + d.weight, 0)
}

/** The bandit's context for x: shared features and one _multi entry per article (vw --cb_adf). */
export function contextOf(x: number): Record<string, unknown> {
  const { segment, daypart } = CONTEXTS[x] as (typeof CONTEXTS)[number]
  return {
    user: { segment, daypart, who: `${segment}-${daypart}` },
    _multi: TOPICS.map((topic) => ({ article: { topic } })),
  }
}

/** The context index of a logged context. */
export function contextIndex(context: unknown): number {
  const user = (context as { user: { segment: string; daypart: string } }).user
  return CONTEXTS.findIndex((c) => c.segment === user.segment && c.daypart === user.daypart)
}

/** Seeded pseudo-random numbers in [0, 1): the demo's (mulberry32). */
export const rng = seeded

/** An index drawn with the given probabilities. */
export function draw(random: () => number, probabilities: readonly number[]): number {
  let u = random()
  for (let i = 0; i < probabilities.length; i++) {
    u -= probabilities[i] as number
    if (u < 0) return i
  }
  return probabilities.length - 1
}

/** A policy: the probability of each article in context x. */
export type Policy = (x: number) => readonly number[]

export interface SimulationOptions {
  decisions: number
  decisionsPerTick: number
  tickMs: number
  expUnitMs: number
  seed: number
  /** Share of clicks whose reward the application sends twice (a retry without an id). */
  repeatShare: number
  /** Records the service will have emitted in all once these decisions are (default: decisions). */
  records?: number
}

export interface SimulatedDecision {
  key: string
  x: number
  action: number
  click: boolean
  delayMs: number | undefined
}

/**
 * Logs `decisions` decisions of `policy` with their clicks' rewards to the service in
 * simulated time (one batch per tick, the clock moved by hand), then moves the clock past the
 * last due time and waits until every decision has been emitted.
 */
export async function simulate(
  svc: InProcessService,
  clock: ManualClock,
  policy: Policy,
  options: SimulationOptions,
): Promise<SimulatedDecision[]> {
  const random = rng(options.seed)
  const ticks = new Map<number, unknown[]>()
  const at = (tick: number, line: unknown) => {
    const lines = ticks.get(tick) ?? []
    lines.push(line)
    ticks.set(tick, lines)
  }
  const delayTicks = (afterE: number) => Math.round((afterE * options.expUnitMs) / options.tickMs)
  const lead = Math.max(0, ...DELAYS.map((d) => -delayTicks(d.afterE)))
  const simulated: SimulatedDecision[] = []
  for (let i = 0; i < options.decisions; i++) {
    const tick = lead + Math.floor(i / options.decisionsPerTick)
    const x = Math.floor(random() * CONTEXTS.length)
    const probabilities = policy(x)
    const action = draw(random, probabilities)
    const key = `d${i}`
    at(tick, {
      type: 'decision',
      key,
      action: TOPICS[action],
      probability: probabilities[action],
      context: contextOf(x),
      actions: [...TOPICS],
      probabilities,
    })
    const click = random() < (CLICK[x]?.[action] as number)
    const delay = DELAYS[
      draw(
        random,
        DELAYS.map((d) => d.weight),
      )
    ]?.afterE as number
    const repeat = random() < options.repeatShare
    if (click) {
      at(tick + delayTicks(delay), { type: 'reward', key, reward: 1 })
      if (repeat) at(tick + delayTicks(delay) + 1, { type: 'reward', key, reward: 1 })
    }
    simulated.push({ key, x, action, click, delayMs: click ? delay * options.expUnitMs : undefined })
  }
  const start = clock.ms
  for (const tick of [...ticks.keys()].sort((a, b) => a - b)) {
    clock.ms = start + tick * options.tickMs
    // Within a tick, rewards for decisions of earlier ticks and the new decisions: log order.
    const res = await postBatch(svc, ticks.get(tick) as unknown[])
    assert.equal(res.statusCode, 200, res.text)
  }
  clock.advance(options.expUnitMs + options.tickMs)
  const records = options.records ?? options.decisions
  await waitFor(`${records} records`, () => svc.service.log.checkpoint.recordSeq >= records, 15_000)
  return simulated
}
