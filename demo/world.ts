/**
 * The demo's simulated world: readers (a segment and a device) are shown one of five articles;
 * the chance of a click depends on both. A click's reward reaches banditjoin after a random
 * delay: most within the window, some after it (they do not count), and some before the
 * decision itself is logged (the bandit's logging pipeline lags now and then).
 */

export const SEGMENTS = ['student', 'parent', 'retiree', 'traveller'] as const
export const DEVICES = ['phone', 'tablet', 'desktop'] as const
export const ARTICLES = ['sports', 'politics', 'recipes', 'travel', 'tech'] as const

/** Click rate of each article by segment... */
const BY_SEGMENT: readonly (readonly number[])[] = [
  [0.35, 0.05, 0.1, 0.15, 0.45],
  [0.15, 0.2, 0.45, 0.1, 0.1],
  [0.05, 0.4, 0.25, 0.3, 0.05],
  [0.1, 0.1, 0.15, 0.5, 0.2],
]
/** ...moved by the device. */
const BY_DEVICE: readonly (readonly number[])[] = [
  [0.15, 0, -0.05, 0, -0.1],
  [0, 0, 0.1, 0.05, 0],
  [-0.1, 0.1, 0, 0, 0.1],
]

export interface Reader {
  segment: (typeof SEGMENTS)[number]
  device: (typeof DEVICES)[number]
}

/** Every context, indexed by x = segment * devices + device. */
export const CONTEXTS: readonly Reader[] = SEGMENTS.flatMap((segment) =>
  DEVICES.map((device) => ({ segment, device })),
)

/** The chance that reader x clicks article a. */
export function clickRate(x: number, a: number): number {
  const s = Math.floor(x / DEVICES.length)
  const d = x % DEVICES.length
  const rate = (BY_SEGMENT[s]?.[a] as number) + (BY_DEVICE[d]?.[a] as number)
  return Math.min(0.95, Math.max(0.01, rate))
}

/** Context index of a logged context. */
export function contextIndex(context: unknown): number {
  const { segment, device } = (context as { reader: Reader }).reader
  return CONTEXTS.findIndex((c) => c.segment === segment && c.device === device)
}

/** The context the bandit logs: the reader, and one `_multi` entry per article (ready for vw --cb_adf). */
export function contextOf(x: number): Record<string, unknown> {
  return { reader: CONTEXTS[x], _multi: ARTICLES.map((topic) => ({ article: { topic } })) }
}

/** Seeded pseudo-random numbers in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** How one decision's events travel: ms after the choice at which banditjoin receives each. */
export interface Timing {
  /** When the decision is logged (0 usually; a lagging pipeline sometimes). */
  decisionMs: number
  /** When the click's reward is logged. */
  rewardMs: number
}

/** Draws the timing of a decision and of its reward, for a window of `windowMs`. */
export function drawTiming(random: () => number, windowMs: number): Timing {
  if (random() < 0.1) {
    // The bandit's logging lags: the application's reward overtakes the decision.
    return { decisionMs: 0.2 * windowMs + random() * 0.25 * windowMs, rewardMs: random() * 0.15 * windowMs }
  }
  if (random() < 0.12) return { decisionMs: 0, rewardMs: (0.75 + random()) * windowMs } // a slow reader
  return { decisionMs: 0, rewardMs: -Math.log(1 - random()) * 0.35 * windowMs }
}

/** The share of rewards that count (logged within [t_d - G, t_d + E)), by sampling the timing. */
export function countedShare(windowMs: number, earlyMs: number, samples = 200_000): number {
  const random = seeded(1)
  let counted = 0
  for (let i = 0; i < samples; i++) {
    const { decisionMs, rewardMs } = drawTiming(random, windowMs)
    const delta = rewardMs - decisionMs
    if (delta >= -earlyMs && delta < windowMs) counted++
  }
  return counted / samples
}

/** Expected windowed reward of the best policy and of the uniformly random one. */
export function benchmarks(counted: number): { best: number; random: number } {
  let best = 0
  let random = 0
  for (let x = 0; x < CONTEXTS.length; x++) {
    const rates = ARTICLES.map((_, a) => clickRate(x, a))
    best += Math.max(...rates) / CONTEXTS.length
    random += rates.reduce((s, r) => s + r, 0) / rates.length / CONTEXTS.length
  }
  return { best: best * counted, random: random * counted }
}
