import { TopicReader } from '../../test/kit/kafka-topic.js'
import { sleep } from '../../test/kit/wait.js'

/**
 * Reads `topic` from its start (read_committed) until it holds `expected` records or `timeoutMs`
 * has passed, and gives the reader to `summarise`.
 */
async function readTopic<T>(
  bootstrap: string,
  topic: string,
  expected: number,
  timeoutMs: number,
  summarise: (reader: TopicReader) => T,
): Promise<T> {
  const reader = new TopicReader(bootstrap, topic)
  try {
    await reader.start()
    const deadline = performance.now() + timeoutMs
    while (reader.values.length < expected && performance.now() < deadline) await sleep(200)
    return summarise(reader)
  } finally {
    await reader.close()
  }
}

/** What the Kafka scenarios read of a joined record, and the partition it came from. */
export interface JoinedRecord {
  key: string
  partition: number
  decisionInsertMs: number
  emittedMs: number
}

export interface JoinedOutput {
  records: JoinedRecord[]
  /** Keys read more than once (exactly-once says 0). */
  duplicates: number
  /** Distinct keys read. */
  distinct: number
}

/**
 * Reads an output topic from its start as a learner does (read_committed) until it holds
 * `expected` records or `timeoutMs` has passed. Read after the load, so that the reader's CPU
 * does not disturb the measured window; the figures come from the records' own times.
 */
export async function readJoined(
  bootstrap: string,
  topic: string,
  expected: number,
  timeoutMs: number,
): Promise<JoinedOutput> {
  return readTopic(bootstrap, topic, expected, timeoutMs, (reader) => {
    const records = reader.values.map((value, i) => {
      const r = JSON.parse(value) as { key: string; decision_insert_ms: number; emitted_ms: number }
      return {
        key: r.key,
        partition: reader.partitions[i] as number,
        decisionInsertMs: r.decision_insert_ms,
        emittedMs: r.emitted_ms,
      }
    })
    const distinct = new Set(records.map((r) => r.key)).size
    return { records, duplicates: records.length - distinct, distinct }
  })
}

/** emitted_ms − (decision_insert_ms + E) of each record. */
export function latenessOf(records: readonly JoinedRecord[], expUnitMs: number): Float64Array {
  return Float64Array.from(records, (r) => r.emittedMs - (r.decisionInsertMs + expUnitMs))
}

/** The records of some partitions, by partition, in emission order. */
function byPartition(records: readonly JoinedRecord[], partitions: readonly number[]): Map<number, number[]> {
  const times = new Map<number, number[]>(partitions.map((p) => [p, []]))
  for (const r of records) times.get(r.partition)?.push(r.emittedMs)
  for (const list of times.values()) list.sort((a, b) => a - b)
  return times
}

/**
 * Around an event at `atMs` (an instance killed), for some partitions: how many never emitted
 * after it (`stuck`); of the others, the longest one went without emitting across it (first
 * emission after − last before) and the time from the event until each had emitted again (NaN
 * when none did).
 */
export function emissionGap(
  records: readonly JoinedRecord[],
  partitions: readonly number[],
  atMs: number,
): { gapMs: number; resumedAfterMs: number; stuck: number } {
  let gapMs = Number.NaN
  let resumedAfterMs = Number.NaN
  let stuck = 0
  for (const times of byPartition(records, partitions).values()) {
    const after = times.findIndex((t) => t > atMs)
    if (after === -1) {
      stuck++
      continue
    }
    const next = times[after] as number
    const previous = times[after - 1] ?? atMs
    gapMs = Math.max(Number.isNaN(gapMs) ? 0 : gapMs, next - previous)
    resumedAfterMs = Math.max(Number.isNaN(resumedAfterMs) ? 0 : resumedAfterMs, next - atMs)
  }
  return { gapMs, resumedAfterMs, stuck }
}

/** The longest some partitions went without emitting between `fromMs` and `toMs`. */
export function largestGap(
  records: readonly JoinedRecord[],
  partitions: readonly number[],
  fromMs: number,
  toMs: number,
): number {
  let gapMs = 0
  for (const times of byPartition(records, partitions).values()) {
    let previous = fromMs
    for (const t of times) {
      if (t < fromMs) continue
      if (t > toMs) break
      gapMs = Math.max(gapMs, t - previous)
      previous = t
    }
    gapMs = Math.max(gapMs, toMs - previous)
  }
  return gapMs
}

/** What a join wrote to its output topic, for checking two joins of the same events against each other. */
export interface JoinedTotals {
  records: number
  /** Keys read more than once (exactly-once says 0). */
  duplicates: number
  /** The rewards of every record, added. */
  rewardSum: number
  /** Each partition's offset of its last record (-1: none). */
  lastOffsets: number[]
}

/** Reads an output topic from its start (read_committed) until it holds `expected` records or `timeoutMs` has passed. */
export async function readJoinedTotals(
  bootstrap: string,
  topic: string,
  partitions: number,
  expected: number,
  timeoutMs: number,
): Promise<JoinedTotals> {
  return readTopic(bootstrap, topic, expected, timeoutMs, (reader) => {
    const lastOffsets = new Array<number>(partitions).fill(-1)
    const keys = new Set<string>()
    let rewardSum = 0
    reader.values.forEach((value, i) => {
      const r = JSON.parse(value) as { key: string; reward: number }
      keys.add(r.key)
      rewardSum += r.reward
      const p = reader.partitions[i] as number
      lastOffsets[p] = Math.max(lastOffsets[p] as number, reader.offsets[i] as number)
    })
    return {
      records: reader.values.length,
      duplicates: reader.values.length - keys.size,
      rewardSum,
      lastOffsets,
    }
  })
}
