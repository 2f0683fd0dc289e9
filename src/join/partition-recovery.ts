import { type JoinSettings, keyMemoryMs, replayHorizonMs } from '../engine/types.js'
import type { IncomingEvent } from '../ingest/validate.js'
import { ReplayMeter, type ReplayProgressListener } from '../observability/replay-progress.js'
import {
  type EventDecoder,
  type PartitionCheckpoint,
  PartitionJoin,
  type PartitionRecord,
} from './partition-join.js'

/** Reads one partition of the log by offset (Kafka: outside the consumer group). */
export interface PartitionReader {
  /** The offset of the first record stamped at or after `timeMs` (the end offset if none is). */
  offsetForTime(timeMs: number): Promise<number>
  /** The records in [from, to), in order, a batch at a time. */
  read(from: number, to: number): AsyncIterable<readonly PartitionRecord[]>
}

export interface RecoveryOptions {
  settings: JoinSettings
  decode: EventDecoder
  onProgress?: ReplayProgressListener
}

/**
 * Rebuilds a partition's join as it stood at its committed checkpoint, emitting nothing (what
 * it released is already in the outputs), by replaying the last replayHorizonMs of the
 * partition, as the embedded recovery does.
 *
 * Unlike the embedded log, a partition holds the duplicate and conflicting decisions too (the
 * owner, not ingest, resolves them), and whether a decision in the replay was a duplicate can
 * depend on a decision with its key from before the horizon, which in turn depends on one before
 * that. The checkpoint says when such a collision last happened; only if one may reach into the
 * replay are the earlier decisions of the keys concerned looked up (keyHistory).
 */
export async function recoverPartition(
  reader: PartitionReader,
  committed: PartitionCheckpoint,
  options: RecoveryOptions,
): Promise<PartitionJoin> {
  const { settings } = options
  const fromMs = committed.timeMs - replayHorizonMs(settings)
  const from = await reader.offsetForTime(fromMs)
  const join = new PartitionJoin(settings, options.decode, {
    offset: from,
    timeMs: Number.NEGATIVE_INFINITY,
    lastCollisionMs: committed.lastCollisionMs,
  })
  if (committed.lastCollisionMs >= fromMs) {
    for (const [record, event] of await keyHistory(reader, join, settings, fromMs, from, committed.offset)) {
      join.applyEarlier(record, event)
    }
  }
  const meter = options.onProgress && new ReplayMeter(committed.timeMs, options.onProgress)
  for await (const batch of reader.read(from, committed.offset)) {
    for (const record of batch) {
      join.apply(record)
      meter?.step(record.timestampMs)
    }
  }
  meter?.finish()
  join.engine.advanceTo(committed.timeMs)
  return join
}

/**
 * The decisions before the replay start whose keys a decision in the replay may collide with,
 * followed back window by window (a decision at t can only collide with one at most E + H
 * earlier) until a window holds none: the key memory the replay must start from.
 */
async function keyHistory(
  reader: PartitionReader,
  join: PartitionJoin,
  settings: JoinSettings,
  replayFromMs: number,
  replayFrom: number,
  replayTo: number,
): Promise<[PartitionRecord, IncomingEvent][]> {
  const spanMs = settings.expUnitMs + keyMemoryMs(settings)
  const firstWindowEnd = await reader.offsetForTime(replayFromMs + spanMs)
  let open = await decisionsOf(reader, join, replayFrom, Math.min(firstWindowEnd, replayTo), undefined)
  const windows: [PartitionRecord, IncomingEvent][][] = []
  let windowEnd = replayFrom
  let windowEndMs = replayFromMs
  while (open.length > 0) {
    const windowStartMs = windowEndMs - spanMs
    const windowStart = await reader.offsetForTime(windowStartMs)
    if (windowStart >= windowEnd) break
    const keys = new Set(open.map(([record]) => record.key))
    open = await decisionsOf(reader, join, windowStart, windowEnd, keys)
    windows.unshift(open)
    windowEnd = windowStart
    windowEndMs = windowStartMs
  }
  return windows.flat()
}

/** The decisions in [from, to), only those of `keys` if given. */
async function decisionsOf(
  reader: PartitionReader,
  join: PartitionJoin,
  from: number,
  to: number,
  keys: Set<string | null> | undefined,
): Promise<[PartitionRecord, IncomingEvent][]> {
  const found: [PartitionRecord, IncomingEvent][] = []
  for await (const batch of reader.read(from, to)) {
    for (const record of batch) {
      if (record.value === null || (keys !== undefined && !keys.has(record.key))) continue
      const event = join.decodeRecord(record)
      if (event?.type === 'decision') found.push([record, event])
    }
  }
  return found
}
