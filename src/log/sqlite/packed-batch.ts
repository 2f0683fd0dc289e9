import type { LoggedEvent } from '../../engine/types.js'
import { Utf8Writer } from '../../utf8-writer.js'
import type { CommitBatch, JoinCheckpoint, OutputLine, RecordLine, SinkPosition } from '../types.js'
import { KIND } from './schema.js'

/**
 * A commit batch as it crosses to the writer thread: every string as UTF-8 in one transferred
 * buffer and every number (with the strings' byte lengths) in one transferred array. Structured
 * cloning an object per event cost the main thread about ten times more; one string of the whole
 * batch (megabytes) was a large object on both threads' heaps, kept until a full collection.
 */
export interface PackedBatch {
  bytes: Uint8Array<ArrayBuffer>
  numbers: Float64Array<ArrayBuffer>
  events: number
  records: number
  deadLetters: number
  checkpoint: Omit<JoinCheckpoint, 'recordBytes'>
  sinkPositions: readonly SinkPosition[]
}

/** An event as the events table stores it. */
export interface EventRow {
  pos: number
  insertMs: number
  kind: number
  key: string
  body: string
  fingerprint: string | null
}

export function kindOf(event: LoggedEvent): number {
  if (event.type === 'decision') return event.deferred ? KIND.deferredDecision : KIND.decision
  return KIND[event.type]
}

const NUMBERS_PER_EVENT = 6
const NUMBERS_PER_RECORD = 3
const NUMBERS_PER_DEAD_LETTER = 2

export function packBatch(batch: CommitBatch): PackedBatch {
  const { events, records, deadLetters } = batch
  const numbers = new Float64Array(
    events.length * NUMBERS_PER_EVENT +
      records.length * NUMBERS_PER_RECORD +
      deadLetters.length * NUMBERS_PER_DEAD_LETTER,
  )
  const { bound } = Utf8Writer
  let bytes = 0
  for (const e of events)
    bytes += bound(e.key) + bound(e.body) + (e.type === 'decision' ? bound(e.fingerprint) : 0)
  for (const r of records) bytes += bound(r.line)
  for (const d of deadLetters) bytes += bound(d.line)
  const out = new Utf8Writer(bytes)
  let n = 0
  for (const e of events) {
    numbers[n++] = e.pos
    numbers[n++] = e.insertMs
    numbers[n++] = kindOf(e)
    numbers[n++] = out.write(e.key)
    numbers[n++] = out.write(e.body)
    numbers[n++] = e.type === 'decision' ? out.write(e.fingerprint) : -1
  }
  for (const r of records) {
    numbers[n++] = r.seq
    numbers[n++] = r.emittedMs
    numbers[n++] = out.write(r.line)
  }
  for (const d of deadLetters) {
    numbers[n++] = d.seq
    numbers[n++] = out.write(d.line)
  }
  return {
    bytes: out.take(),
    numbers,
    events: events.length,
    records: records.length,
    deadLetters: deadLetters.length,
    checkpoint: batch.checkpoint,
    sinkPositions: batch.sinkPositions,
  }
}

export interface UnpackedBatch {
  events: EventRow[]
  records: RecordLine[]
  deadLetters: OutputLine[]
  checkpoint: Omit<JoinCheckpoint, 'recordBytes'>
  sinkPositions: readonly SinkPosition[]
}

export function unpackBatch(packed: PackedBatch): UnpackedBatch {
  const { numbers } = packed
  const bytes = Buffer.from(packed.bytes.buffer, packed.bytes.byteOffset, packed.bytes.byteLength)
  let n = 0
  let at = 0
  const take = (length: number) => {
    at += length
    return bytes.toString('utf8', at - length, at)
  }
  const events: EventRow[] = []
  for (let i = 0; i < packed.events; i++) {
    const pos = numbers[n++] as number
    const insertMs = numbers[n++] as number
    const kind = numbers[n++] as number
    const keyLength = numbers[n++] as number
    const bodyLength = numbers[n++] as number
    const fingerprintLength = numbers[n++] as number
    const key = take(keyLength)
    const body = take(bodyLength)
    const fingerprint = fingerprintLength < 0 ? null : take(fingerprintLength)
    events.push({ pos, insertMs, kind, key, body, fingerprint })
  }
  const records: RecordLine[] = []
  for (let i = 0; i < packed.records; i++) {
    const seq = numbers[n++] as number
    const emittedMs = numbers[n++] as number
    records.push({ seq, emittedMs, line: take(numbers[n++] as number) })
  }
  const deadLetters: OutputLine[] = []
  for (let i = 0; i < packed.deadLetters; i++) {
    const seq = numbers[n++] as number
    deadLetters.push({ seq, line: take(numbers[n++] as number) })
  }
  return { events, records, deadLetters, checkpoint: packed.checkpoint, sinkPositions: packed.sinkPositions }
}
