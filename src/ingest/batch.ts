import { BanditJoinError, type ErrorCode, tooLarge } from '../errors.js'
import { Utf8Writer } from '../utf8-writer.js'
import { notUtf8 } from './json.js'
import { eventFromLine, type IncomingEvent, type IngestLimits } from './validate.js'

/** A line of a batch that would be refused, with why (lines are numbered from 1). */
export interface LineError {
  line: number
  error: BanditJoinError
}

/** A batch's lines, checked: the events of the valid ones (with their line numbers) and the refusals. */
export interface CheckedBatch {
  events: IncomingEvent[]
  /** The line number of each of `events`. */
  lineOf: number[]
  errors: LineError[]
}

/**
 * A batch body: its bytes as received, or text (the Kafka owner's values joined by newlines).
 * Bytes are decoded a line at a time, so that no string of the whole body is ever made: a body
 * of megabytes would be one large object on the heap, freed only by a full collection.
 */
export type BatchBody = string | Buffer

const NEWLINE = 0x0a

/**
 * Checks the lines of an NDJSON batch (SPEC §1), each as if sent alone, a few at a time: on the
 * main thread between event-loop turns, or all at once on a line-checking worker
 * (line-parser-pool.ts). Lines are taken one at a time (not split all at once), so that a body of
 * millions of tiny lines costs no array of them, and one line past MAX_BATCH_EVENTS ends the work
 * with 413. Blank lines are skipped; a line whose bytes were not UTF-8 is refused with 400 (a
 * newline byte is never inside a UTF-8 character, so lines of bytes are the lines of the text).
 */
export class BatchLineChecker {
  readonly checked: CheckedBatch = { events: [], lineOf: [], errors: [] }
  private start = 0
  private number = 1

  constructor(
    private readonly body: BatchBody,
    private readonly notUtf8Lines: ReadonlySet<number>,
    private readonly limits: IngestLimits,
    private readonly maxBatchEvents: number,
  ) {}

  /**
   * Checks up to `lines` more lines (blank ones count); false once every line is checked. Throws
   * 413 (BJ_ERR_TOO_LARGE) at the first line past MAX_BATCH_EVENTS.
   */
  next(lines: number): boolean {
    const { body, checked } = this
    for (let n = 0; n < lines; n++) {
      if (this.start > body.length) return false
      const number = this.number++
      const newline =
        typeof body === 'string' ? body.indexOf('\n', this.start) : body.indexOf(NEWLINE, this.start)
      const end = newline < 0 ? body.length : newline
      const line =
        typeof body === 'string' ? body.slice(this.start, end) : body.toString('utf8', this.start, end)
      this.start = end + 1
      if (line.trim() === '') continue
      if (checked.events.length + checked.errors.length >= this.maxBatchEvents) {
        throw tooLarge(`batch has more than MAX_BATCH_EVENTS=${this.maxBatchEvents} events`)
      }
      try {
        if (this.notUtf8Lines.has(number)) throw notUtf8('line')
        checked.events.push(eventFromLine(line, this.limits))
        checked.lineOf.push(number)
      } catch (error) {
        if (!(error instanceof BanditJoinError)) throw error
        checked.errors.push({ line: number, error })
      }
    }
    return this.start <= body.length
  }
}

/** An error as it crosses from a worker: `code` undefined for an unexpected one (a bug: 500). */
export interface PackedError {
  line: number
  code: ErrorCode | undefined
  message: string
  statusCode: number
  retryAfterSeconds: number | undefined
}

/**
 * A CheckedBatch as a worker posts it: flat arrays of strings and numbers and the bodies' bytes in
 * one buffer, which cost far less to copy between threads than an object per event. Or the error that refused the whole batch (413
 * past MAX_BATCH_EVENTS).
 */
export type PackedBatch =
  | {
      ok: true
      /** Per event: its KIND. */
      kinds: Uint8Array
      lineOf: Int32Array
      keys: string[]
      /** Every event's body as UTF-8, one after another, and each one's length in bytes. */
      bodyBytes: Uint8Array<ArrayBuffer>
      bodyLengths: Int32Array<ArrayBuffer>
      /** Per event: a decision's fingerprint, a reward's id, else undefined. */
      tags: (string | undefined)[]
      /** Per event: a reward's value, else 0. */
      rewards: Float64Array
      errors: PackedError[]
    }
  | { ok: false; error: PackedError }

const KIND = { decision: 0, deferredDecision: 1, reward: 2, override: 3, activate: 4 } as const

function packError(line: number, error: unknown): PackedError {
  if (error instanceof BanditJoinError) {
    const { code, message, statusCode, retryAfterSeconds } = error
    return { line, code, message, statusCode, retryAfterSeconds }
  }
  return {
    line,
    code: undefined,
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    statusCode: 500,
    retryAfterSeconds: undefined,
  }
}

/** The error again, on the receiving thread (its message, status and Retry-After unchanged). */
export function unpackError(packed: PackedError): Error {
  if (packed.code === undefined) return new Error(`checking a batch's lines failed: ${packed.message}`)
  return new BanditJoinError(packed.code, packed.message, packed.statusCode, {
    retryAfterSeconds: packed.retryAfterSeconds,
  })
}

/** Checks every line of a batch (a worker's job), packed for the way back; the typed arrays are transferable. */
export function checkPacked(
  body: BatchBody,
  notUtf8Lines: ReadonlySet<number>,
  limits: IngestLimits,
  maxBatchEvents: number,
): PackedBatch {
  const checker = new BatchLineChecker(body, notUtf8Lines, limits, maxBatchEvents)
  try {
    checker.next(Number.POSITIVE_INFINITY)
  } catch (error) {
    return { ok: false, error: packError(0, error) }
  }
  const { events, lineOf, errors } = checker.checked
  const count = events.length
  let bodyBound = 0
  for (const event of events) bodyBound += Utf8Writer.bound(event.body)
  const bodies = new Utf8Writer(bodyBound)
  const packed = {
    ok: true as const,
    kinds: new Uint8Array(count),
    lineOf: Int32Array.from(lineOf),
    keys: new Array<string>(count),
    /** Set once every body is written. */
    bodyBytes: new Uint8Array(0),
    bodyLengths: new Int32Array(count),
    tags: new Array<string | undefined>(count),
    rewards: new Float64Array(count),
    errors: errors.map((e) => packError(e.line, e.error)),
  }
  for (let i = 0; i < count; i++) {
    const event = events[i] as IncomingEvent
    packed.keys[i] = event.key
    packed.bodyLengths[i] = bodies.write(event.body)
    switch (event.type) {
      case 'decision':
        packed.kinds[i] = event.deferred ? KIND.deferredDecision : KIND.decision
        packed.tags[i] = event.fingerprint
        break
      case 'reward':
        packed.kinds[i] = KIND.reward
        packed.tags[i] = event.id
        packed.rewards[i] = event.reward
        break
      default:
        packed.kinds[i] = KIND[event.type]
    }
  }
  packed.bodyBytes = bodies.take()
  return packed
}

/** The CheckedBatch a worker packed (the events shaped as `toIncomingEvent` makes them); throws the batch's error. */
export function unpackChecked(packed: PackedBatch): CheckedBatch {
  if (!packed.ok) throw unpackError(packed.error)
  const { kinds, keys, bodyLengths, tags, rewards } = packed
  const bodyBytes = Buffer.from(
    packed.bodyBytes.buffer,
    packed.bodyBytes.byteOffset,
    packed.bodyBytes.byteLength,
  )
  const events = new Array<IncomingEvent>(kinds.length)
  let at = 0
  for (let i = 0; i < kinds.length; i++) {
    const key = keys[i] as string
    const end = at + (bodyLengths[i] as number)
    const body = bodyBytes.subarray(at, end)
    at = end
    const kind = kinds[i]
    if (kind === KIND.decision || kind === KIND.deferredDecision) {
      const deferred = kind === KIND.deferredDecision
      events[i] = { type: 'decision', key, deferred, fingerprint: tags[i] as string, body }
    } else if (kind === KIND.reward) {
      events[i] = { type: 'reward', key, reward: rewards[i] as number, id: tags[i], body }
    } else {
      events[i] = { type: kind === KIND.override ? 'override' : 'activate', key, body }
    }
  }
  return {
    events,
    lineOf: Array.from(packed.lineOf),
    errors: packed.errors.map((e) => ({ line: e.line, error: unpackError(e) as BanditJoinError })),
  }
}
