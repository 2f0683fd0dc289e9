import assert from 'node:assert/strict'
import { join } from 'node:path'
import { waitFor } from '../kit/wait.js'
import type { Ledger } from './e2e-load.js'
import { readJoined } from './e2e-tail.js'
import { readJsonLines } from './service.js'

/**
 * The independent oracle of SPEC §3-4 for end-to-end runs: from what clients were told (a
 * Ledger, filled by e2e-load with REWARD_AGG=sum and rewards worth distinct powers of two) it
 * checks the joined output and the dead letters of a run, however often the service was killed.
 */

/** Tolerance between the client's clock and the service's (both follow the same wall clock). */
const CLOCK_MARGIN_MS = 50

export interface JoinedLine {
  key: string
  action: unknown
  probability: unknown
  context: unknown
  reward: number
  reward_count: number
  decision_insert_ms: number
  reward_delta_ms: number | null
  emitted_ms: number
}

export interface DeadLine {
  type: string
  key: string
  reward: number
  reason: string
}

/** How the output compares with what was acknowledged. */
export interface Tally {
  /** Acknowledged decisions without a record. */
  missing: number
  /** Records beyond the first for the same key. */
  duplicated: number
  /** Records of decisions that were sent but never acknowledged (allowed, at most once). */
  unacknowledged: number
}

/**
 * A run the oracle checks, in `dir`: the service's environment (a file output and dead letters,
 * REWARD_AGG=sum, DURABILITY=power) and what it wrote.
 */
export class OracleFiles {
  readonly output: string
  readonly deadLetter: string
  readonly env: Record<string, string>

  constructor(dir: string, windowMs: number, earlyRewardMs: number) {
    this.output = join(dir, 'joined.jsonl')
    this.deadLetter = join(dir, 'dead.jsonl')
    this.env = {
      DATA_DIR: join(dir, 'data'),
      OUTPUT: `file:${this.output}`,
      DEAD_LETTER: `file:${this.deadLetter}`,
      DURABILITY: 'power',
      EXP_UNIT_MS: String(windowMs),
      EARLY_REWARD_MS: String(earlyRewardMs),
      REWARD_AGG: 'sum',
    }
  }

  records(): JoinedLine[] {
    return readJsonLines(this.output) as JoinedLine[]
  }

  deadLetters(): DeadLine[] {
    return readJsonLines(this.deadLetter) as DeadLine[]
  }

  /** Waits until every decision acknowledged so far is in the output (the oracle says which are not, after). */
  async everyAcknowledgedOut(ledger: Ledger, timeoutMs: number): Promise<void> {
    const acked = [...ledger.decisions.values()].filter((d) => d.outcome === 'acked')
    await waitFor(
      'every acknowledged decision in the output',
      () => {
        const keys = new Set(this.records().map((r) => r.key))
        return acked.every((d) => keys.has(d.key)) ? true : undefined
      },
      timeoutMs,
    ).catch(() => undefined)
  }
}

const popcount = (mask: number) => mask.toString(2).replaceAll('0', '').length

export function tally(ledger: Ledger, records: readonly JoinedLine[]): Tally {
  const seen = new Set<string>()
  let duplicated = 0
  let unacknowledged = 0
  for (const r of records) {
    if (seen.has(r.key)) duplicated++
    else if (ledger.decisions.get(r.key)?.outcome !== 'acked') unacknowledged++
    seen.add(r.key)
  }
  let missing = 0
  for (const d of ledger.decisions.values()) if (d.outcome === 'acked' && !seen.has(d.key)) missing++
  return { missing, duplicated, unacknowledged }
}

/**
 * Every way the records contradict what clients were told, as readable lines: a record twice, or
 * of a decision never sent or refused, before its due time (`windowMs` after its insert time),
 * out of due-time order, not echoing its decision, missing an acknowledged reward that was in
 * time or counting one never sent; and an acknowledged decision without a record.
 */
export function violations(
  ledger: Ledger,
  records: readonly JoinedLine[],
  windowMs: number,
  /** Which ordered stream the i-th record came from (a Kafka partition); one stream by default. */
  streamOf: (index: number) => number = () => 0,
): string[] {
  const found: string[] = []
  const seen = new Set<string>()
  const previousInsertMs = new Map<number, number>()
  records.forEach((r, index) => {
    if (seen.has(r.key)) found.push(`${r.key} emitted twice`)
    seen.add(r.key)
    const sent = ledger.decisions.get(r.key)
    if (sent === undefined) {
      found.push(`${r.key} emitted but never sent`)
      return
    }
    if (sent.outcome === 'refused') found.push(`${r.key} emitted although it was refused`)
    if (r.emitted_ms < r.decision_insert_ms + windowMs)
      found.push(`${r.key} emitted ${r.emitted_ms - r.decision_insert_ms} ms after insert, before E`)
    const stream = streamOf(index)
    if (r.decision_insert_ms < (previousInsertMs.get(stream) ?? 0))
      found.push(`${r.key} is out of due-time order`)
    previousInsertMs.set(stream, r.decision_insert_ms)
    const { action, probability, context } = sent.body
    try {
      assert.deepEqual(
        { action: r.action, probability: r.probability, context: r.context },
        { action, probability, context },
      )
    } catch {
      found.push(`${r.key} does not echo its decision: ${JSON.stringify(r)}`)
    }
    // REWARD_AGG=sum of distinct powers of two: the reward says exactly which rewards counted.
    const rewards = ledger.rewardsOf(r.key)
    const sentMask = rewards.reduce((mask, w) => mask | w.reward, 0)
    const mustCount = rewards
      .filter(
        (w) =>
          w.outcome === 'acked' && (w.ackMs as number) < r.decision_insert_ms + windowMs - CLOCK_MARGIN_MS,
      )
      .reduce((mask, w) => mask | w.reward, 0)
    if ((r.reward & mustCount) !== mustCount)
      found.push(`${r.key}: reward ${r.reward} misses acknowledged rewards ${mustCount}`)
    if ((r.reward & ~sentMask) !== 0) found.push(`${r.key}: reward ${r.reward} counts rewards never sent`)
    if (popcount(r.reward) !== r.reward_count)
      found.push(`${r.key}: reward ${r.reward} with reward_count ${r.reward_count}`)
    if (r.reward_count === 0 && r.reward_delta_ms !== null)
      found.push(`${r.key}: reward_delta_ms without reward`)
  })
  for (const d of ledger.decisions.values()) {
    if (d.outcome === 'acked' && !seen.has(d.key)) found.push(`${d.key} was acknowledged but never emitted`)
  }
  return found
}

/** Nothing is silently lost: an acknowledged reward either counts or is dead-lettered, exactly once. */
export function rewardAccounting(
  ledger: Ledger,
  records: readonly JoinedLine[],
  deadLetters: readonly DeadLine[],
): string[] {
  const found: string[] = []
  const counted = new Map(records.map((r) => [r.key, r.reward]))
  const lettered = new Set<string>()
  for (const d of deadLetters) {
    const id = `${d.key}/${d.reward}`
    if (d.type !== 'reward') found.push(`unexpected dead letter ${JSON.stringify(d)}`)
    else if (!['late', 'orphan'].includes(d.reason)) found.push(`${id} dead-lettered as ${d.reason}`)
    if (lettered.has(id)) found.push(`${id} dead-lettered twice`)
    lettered.add(id)
    if (((counted.get(d.key) ?? 0) & d.reward) !== 0) found.push(`${id} both counted and dead-lettered`)
  }
  for (const w of ledger.rewards) {
    const id = `${w.key}/${w.reward}`
    const isCounted = ((counted.get(w.key) ?? 0) & w.reward) !== 0
    if (w.outcome === 'acked' && !isCounted && !lettered.has(id)) found.push(`${id} acknowledged, then lost`)
  }
  return found
}

/** The live tail from 1 holds the file's records, numbered 1..N without gaps or duplicates. */
export async function tailMatches(url: string, records: readonly JoinedLine[]): Promise<string[]> {
  const tail = await readJoined(url, 1, records.length)
  const found: string[] = []
  if (tail.length !== records.length)
    found.push(`the tail has ${tail.length} records, the file ${records.length}`)
  tail.forEach(({ seq, ...record }, i) => {
    if (seq !== i + 1) found.push(`tail record ${i + 1} has seq ${seq}`)
    if (JSON.stringify(record) !== JSON.stringify(records[i]))
      found.push(`tail record ${seq} differs from the file`)
  })
  return found.slice(0, 20)
}
