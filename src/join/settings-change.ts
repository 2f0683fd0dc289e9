import type { JoinSettings } from '../engine/types.js'

/** The settings as the variables that set them, for messages and logs. */
export const describeSettings = (s: JoinSettings) =>
  `EXP_UNIT_MS=${s.expUnitMs} EARLY_REWARD_MS=${s.earlyRewardMs} REWARD_AGG=${s.rewardAgg} DEFAULT_REWARD=${s.defaultReward}`

export const sameSettings = (a: JoinSettings, b: JoinSettings) => describeSettings(a) === describeSettings(b)

/**
 * SPEC §3: settings other than those a log was joined with apply only once nothing joined under
 * the old ones is remembered, that is once the log's time reaches `quietFromMs` (undefined:
 * nothing is remembered). Why a change must wait, or undefined when it may happen now.
 */
export function settingsChangeRefusal(change: {
  /** What was joined, e.g. "the log" or "partition 3 of banditjoin.events". */
  what: string
  recorded: JoinSettings
  wanted: JoinSettings
  quietFromMs: number | undefined
  nowMs: number
}): string | undefined {
  const { what, recorded, wanted, quietFromMs, nowMs } = change
  if (quietFromMs === undefined || quietFromMs <= nowMs) return undefined
  return `${what} was joined with ${describeSettings(recorded)} and remembers decisions under them until ${new Date(quietFromMs).toISOString()}: until then start with those settings (now asked: ${describeSettings(wanted)})`
}
