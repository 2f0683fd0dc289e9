import { type JoinSettings, REWARD_AGGREGATIONS } from '../engine/types.js'
import { BanditJoinError } from '../errors.js'
import type { PartitionCheckpoint } from '../join/partition-join.js'

/**
 * What a partition owner commits as the metadata of its consumer offset (in the same
 * transaction as its output): with the offset itself, where a new owner resumes.
 */
export interface CommittedState extends Omit<PartitionCheckpoint, 'offset'> {
  /** The join settings the partition was joined with (SPEC §3 records them in the log). */
  settings: JoinSettings
}

const VERSION = 1

/** The offset metadata: small JSON (brokers keep up to 4096 bytes by default). */
export function encodeCommittedState(state: CommittedState): string {
  const { timeMs, lastCollisionMs, settings } = state
  return JSON.stringify({
    v: VERSION,
    t: timeMs,
    c: Number.isFinite(lastCollisionMs) ? lastCollisionMs : null,
    s: [settings.expUnitMs, settings.earlyRewardMs, settings.rewardAgg, settings.defaultReward],
  })
}

/** Reads what encodeCommittedState wrote; refuses anything else rather than guess. */
export function decodeCommittedState(text: string, where: string): CommittedState {
  const refuse = (why: string) =>
    new BanditJoinError(
      'BJ_ERR_KAFKA',
      `the committed offset of ${where} carries metadata banditjoin cannot read (${why}): ${JSON.stringify(text.slice(0, 200))}`,
    )
  let value: { v?: unknown; t?: unknown; c?: unknown; s?: unknown }
  try {
    value = JSON.parse(text)
  } catch {
    throw refuse('not JSON')
  }
  if (value.v !== VERSION) throw refuse(`format version ${String(value.v)}, this version reads ${VERSION}`)
  const [expUnitMs, earlyRewardMs, rewardAgg, defaultReward] = Array.isArray(value.s) ? value.s : []
  if (
    typeof value.t !== 'number' ||
    !(value.c === null || typeof value.c === 'number') ||
    typeof expUnitMs !== 'number' ||
    typeof earlyRewardMs !== 'number' ||
    !REWARD_AGGREGATIONS.includes(rewardAgg) ||
    typeof defaultReward !== 'number'
  ) {
    throw refuse('missing or mistyped fields')
  }
  return {
    timeMs: value.t,
    lastCollisionMs: value.c ?? Number.NEGATIVE_INFINITY,
    settings: { expUnitMs, earlyRewardMs, rewardAgg, defaultReward },
  }
}
