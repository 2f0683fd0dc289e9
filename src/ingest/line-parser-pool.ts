import { setImmediate as yieldTurn } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { type IngestSettings, ingestLimits } from '../config.js'
import { BanditJoinError, shuttingDown } from '../errors.js'
import {
  type BatchBody,
  BatchLineChecker,
  type CheckedBatch,
  type PackedBatch,
  unpackChecked,
} from './batch.js'
import type { LineCheckRequest } from './line-parser-worker.js'
import type { IngestLimits } from './validate.js'

/**
 * Worker threads that check batch lines. One: on 2 cores the main thread, this worker and the
 * SQLite writer already use both under batch load, and a second worker measured no faster.
 */
export const LINE_CHECK_WORKERS = 1

/**
 * Bodies shorter than this (in bytes, or UTF-16 units for text: about 16 lines of decisions with
 * 150-byte contexts, under 80 µs of checking) are checked on the main thread. Handing a batch over
 * costs the main thread about 20 µs and the request about 50 µs more, so from 4 such lines on the
 * main thread saves time; the small batches keep the lower latency.
 */
export const MIN_WORKER_LENGTH = 4 * 1024

/** Lines checked on the main thread per event-loop turn: about a millisecond of work. */
const LINES_PER_TURN = 100

export interface LineParserPoolOptions {
  /** What lines are checked against on this thread. */
  limits: IngestLimits
  maxBatchEvents: number
  /**
   * A worker's entry module and its workerData: it must build the same limits (a refusal rule
   * is a function, which cannot cross to a thread) and call serveLineChecks.
   */
  worker: { url: URL; data: unknown }
  /** @default LINE_CHECK_WORKERS */
  workers?: number
  /** @default MIN_WORKER_LENGTH */
  minWorkerLength?: number
  /** Where a worker that stopped is reported. */
  logger?: Logger
}

/** The answer to a batch sent to a worker, waited for in the order they were sent. */
interface Waiting {
  resolve(packed: PackedBatch): void
  reject(error: Error): void
}

interface Slot {
  worker: Worker
  waiting: Waiting[]
}

/** A worker stopped with batches still to check: they were not logged, and the client may retry. */
export const workerStopped = (why: string) =>
  new BanditJoinError(
    'BJ_ERR_UNAVAILABLE',
    `batch not checked, nothing logged: the thread checking its lines stopped (${why}); retry`,
    503,
    { retryAfterSeconds: 1 },
  )

/**
 * Checks the lines of NDJSON batches (BatchLineChecker) on worker threads, so that the main thread
 * is free for the join and the log while they are parsed, validated and normalised. Small bodies
 * are checked on the main thread. Each worker checks its batches in the order sent; a worker that
 * stops fails its waiting batches with 503 (nothing of them was logged) and is started again for
 * the next batch. `close()` stops the workers.
 */
export class LineParserPool {
  private readonly slots: (Slot | undefined)[]
  private readonly minWorkerLength: number
  private closed = false

  constructor(private readonly options: LineParserPoolOptions) {
    this.slots = new Array<Slot | undefined>(Math.max(1, options.workers ?? LINE_CHECK_WORKERS)).fill(
      undefined,
    )
    this.minWorkerLength = options.minWorkerLength ?? MIN_WORKER_LENGTH
    // Started now, so that the first batch does not wait for a worker to load.
    for (let i = 0; i < this.slots.length; i++) this.slots[i] = this.start(i)
  }

  /**
   * A batch's lines, checked (SPEC §1); rejects with 413 past MAX_BATCH_EVENTS, with 503 if its
   * worker stopped or the pool is closed. Bytes of MIN_WORKER_LENGTH or more that are all of
   * their ArrayBuffer are moved to the worker: the caller's Buffer is empty afterwards.
   */
  async check(body: BatchBody, notUtf8Lines: ReadonlySet<number>): Promise<CheckedBatch> {
    if (this.closed) throw shuttingDown()
    if (body.length < this.minWorkerLength) return this.checkHere(body, notUtf8Lines)
    const slot = this.leastBusy()
    const request: LineCheckRequest = { body: handedOver(body), notUtf8Lines: [...notUtf8Lines] }
    const packed = await new Promise<PackedBatch>((resolve, reject) => {
      // Answers come back in the order sent: a batch is waited for only once it is on its way.
      slot.worker.postMessage(request, typeof request.body === 'string' ? [] : [request.body.buffer])
      slot.waiting.push({ resolve, reject })
    })
    return unpackChecked(packed)
  }

  /** Stops the workers; batches still waiting for one get 503. */
  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.slots.map((slot) => slot?.worker.terminate()))
  }

  /** The running workers (tests stop one to see the pool survive it). */
  workers(): Worker[] {
    return this.slots.flatMap((slot) => (slot === undefined ? [] : [slot.worker]))
  }

  /** Checks the lines on this thread, yielding between turns so that timers and commits run meanwhile. */
  private async checkHere(body: BatchBody, notUtf8Lines: ReadonlySet<number>): Promise<CheckedBatch> {
    const { limits, maxBatchEvents } = this.options
    const checker = new BatchLineChecker(body, notUtf8Lines, limits, maxBatchEvents)
    while (checker.next(LINES_PER_TURN)) await yieldTurn()
    return checker.checked
  }

  private leastBusy(): Slot {
    let best: Slot | undefined
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i] ?? this.start(i)
      this.slots[i] = slot
      if (best === undefined || slot.waiting.length < best.waiting.length) best = slot
    }
    return best as Slot
  }

  private start(index: number): Slot {
    const worker = new Worker(this.options.worker.url, { workerData: this.options.worker.data })
    // A pool left open must not keep the process alive; requests waiting for it do.
    worker.unref()
    const slot: Slot = { worker, waiting: [] }
    let failure: Error | undefined
    worker.on('message', (packed: PackedBatch) => slot.waiting.shift()?.resolve(packed))
    worker.on('messageerror', (error) => slot.waiting.shift()?.reject(error))
    worker.on('error', (error) => {
      failure = error
    })
    worker.on('exit', (exitCode) => {
      if (this.slots[index] === slot) this.slots[index] = undefined
      const waiting = slot.waiting.splice(0)
      if (this.closed) {
        for (const w of waiting) w.reject(shuttingDown())
        return
      }
      const why = failure === undefined ? `exit code ${exitCode}` : failure.message
      this.options.logger?.error(
        { err: failure, exitCode, batchesFailed: waiting.length },
        'a line-checking worker stopped; its waiting batches got 503, the next batch starts another',
      )
      for (const w of waiting) w.reject(workerStopped(why))
    })
    return slot
  }
}

/**
 * A body as sent to a worker: bytes are moved, not copied, when they are all of their
 * ArrayBuffer (a large request body is); bytes that are part of a larger one (Node's pool of
 * small buffers), an empty body (one buffer shared by every request without a body) or bytes
 * in a SharedArrayBuffer are copied, since moving them would take them from their other users.
 */
function handedOver(body: BatchBody): string | Uint8Array<ArrayBuffer> {
  if (typeof body === 'string') return body
  const { buffer, byteOffset, byteLength } = body
  const ownsAll = buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength
  return ownsAll && byteLength > 0 ? (body as Uint8Array<ArrayBuffer>) : new Uint8Array(body)
}

/**
 * The pool that checks batch lines, for these settings: on this thread against ingestLimits, on
 * its worker (src/line-check-worker.ts) against the limits that module builds from the same settings.
 */
export function startLineParser(
  settings: IngestSettings,
  options: Omit<LineParserPoolOptions, 'limits' | 'maxBatchEvents' | 'worker'> = {},
): LineParserPool {
  const { maxContextBytes, maxFieldBytes, outputFormat, maxBatchEvents, fingerprints } = settings
  const data: IngestSettings = { maxContextBytes, maxFieldBytes, outputFormat, maxBatchEvents, fingerprints }
  return new LineParserPool({
    limits: ingestLimits(settings),
    maxBatchEvents,
    worker: { url: new URL('../line-check-worker.js', import.meta.url), data },
    ...options,
  })
}
