import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads'
import { KIND } from './schema.js'

/**
 * Replay reads the events in chunks of this many rows: one `all()` per chunk costs about 0.55 µs
 * a row where `iterate()` costs 0.8–0.9 (better-sqlite3, 1,000,000 rows), and a chunk's rows
 * are garbage soon after.
 */
export const REPLAY_CHUNK_ROWS = 10_000

/** Decisions without their bodies: replay rebuilds an engine, which keeps none. */
export const EVENTS_FROM_SQL = `SELECT pos, insert_ms, kind, key, CASE WHEN kind IN (${KIND.decision}, ${KIND.deferredDecision}) THEN '' ELSE body END AS body, fingerprint FROM events WHERE pos >= ? ORDER BY pos LIMIT ${REPLAY_CHUNK_ROWS}`

export interface EventRow {
  pos: number
  insert_ms: number
  kind: number
  key: string
  body: string
  fingerprint: string | null
}

/** A chunk of fewer rows than a full one is the log's end. */
const isLastChunk = (rows: number) => rows < REPLAY_CHUNK_ROWS

/** The events table's rows from `fromPos` on, a chunk at a time, each read when asked for. */
export function* rowChunks(read: (fromPos: number) => EventRow[], fromPos: number): Generator<EventRow[]> {
  for (let from = fromPos; ; ) {
    const rows = read(from)
    yield rows
    if (isLastChunk(rows.length)) return
    from = (rows.at(-1) as EventRow).pos + 1
  }
}

/**
 * Replays of at least this many rows read on a thread of their own while the main thread applies
 * what was read: with 5,000,000 decisions pending the reads were 3.4 s and the engine 4.7 s, one
 * after the other. Smaller ones read here (a thread costs about 30 ms to start).
 */
export const REPLAY_READER_MIN_ROWS = 200_000

/**
 * Chunks the reader may be ahead of the main thread: up to 40,000 rows, and two more in the
 * making on each side; decisions come without bodies, so only other events' bodies weigh.
 */
const CHUNKS_AHEAD = 4
/** How long the main thread waits for one chunk before it takes the reader for stopped. */
const CHUNK_TIMEOUT_MS = 60_000
/** Slots of the shared counters. */
const POSTED = 0
const TAKEN = 1

/** A chunk as it crosses from the reader: the rows' numbers in one moved array, their strings as lists. */
export interface Chunk {
  /** Per row: pos, insert_ms, kind. */
  numbers: Float64Array<ArrayBuffer>
  keys: string[]
  bodies: string[]
  fingerprints: (string | null)[]
}

type ReaderMessage = Chunk | { error: string; code: string | undefined }

export interface ReplayReaderSetup {
  path: string
  fromPos: number
  port: MessagePort
  /** [chunks posted, chunks taken], over a SharedArrayBuffer. */
  counters: Int32Array<SharedArrayBuffer>
}

/**
 * The rows of the events table from position `fromPos` on, in chunks read by a worker thread a
 * few chunks ahead of the caller. The caller's thread waits for each chunk synchronously (Atomics.wait,
 * then receiveMessageOnPort), so that replay stays a plain iterator that nothing else can run
 * inside. Stopping early (or an error) ends the worker.
 */
export function* readOnWorker(path: string, fromPos: number): Generator<Chunk> {
  const { port1, port2 } = new MessageChannel()
  const counters = new Int32Array(new SharedArrayBuffer(8))
  const setup: ReplayReaderSetup = { path, fromPos, port: port2, counters }
  const worker = new Worker(new URL('./replay-reader-worker.js', import.meta.url), {
    workerData: setup,
    transferList: [port2],
  })
  // A thread that dies outside its own try (out of memory) fails the wait below; its 'error' event,
  // which comes later, must not end the process. Nor may a thread left waiting keep it alive.
  worker.on('error', () => {})
  worker.unref()
  try {
    for (let taken = 0; ; taken++) {
      if (Atomics.wait(counters, POSTED, taken, CHUNK_TIMEOUT_MS) === 'timed-out') {
        throw new Error(`the thread reading the log for replay gave nothing for ${CHUNK_TIMEOUT_MS} ms`)
      }
      const message = receiveMessageOnPort(port1)?.message as ReaderMessage | undefined
      if (message === undefined) throw new Error('the thread reading the log for replay posted nothing')
      if ('error' in message) {
        throw Object.assign(new Error(`reading the log for replay failed: ${message.error}`), {
          code: message.code,
        })
      }
      Atomics.store(counters, TAKEN, taken + 1)
      Atomics.notify(counters, TAKEN)
      yield message
      if (isLastChunk(message.keys.length)) return
    }
  } finally {
    port1.close()
    void worker.terminate()
  }
}

/** Where the reader reads: chunk by chunk from a position, on a connection it closes at the end. */
export interface ChunkSource {
  read(fromPos: number): EventRow[]
  close(): void
}

/** The reader's side: reads chunk after chunk, never more than CHUNKS_AHEAD ahead of the taker. */
export function serveReplayReads(setup: ReplayReaderSetup, open: (path: string) => ChunkSource): void {
  const { port, counters } = setup
  const post = (message: ReaderMessage, transfer: ArrayBuffer[] = []) => {
    port.postMessage(message, transfer)
    Atomics.add(counters, POSTED, 1)
    Atomics.notify(counters, POSTED)
  }
  /** Waits until fewer than CHUNKS_AHEAD posted chunks are still to be taken. */
  const waitForRoom = () => {
    for (
      let taken = Atomics.load(counters, TAKEN);
      Atomics.load(counters, POSTED) - taken >= CHUNKS_AHEAD;
    ) {
      Atomics.wait(counters, TAKEN, taken)
      taken = Atomics.load(counters, TAKEN)
    }
  }
  let source: ChunkSource | undefined
  try {
    const opened = open(setup.path)
    source = opened
    const read = (fromPos: number) => {
      waitForRoom()
      return opened.read(fromPos)
    }
    for (const rows of rowChunks(read, setup.fromPos)) {
      const numbers = new Float64Array(3 * rows.length)
      const chunk: Chunk = {
        numbers,
        keys: new Array<string>(rows.length),
        bodies: new Array<string>(rows.length),
        fingerprints: new Array<string | null>(rows.length),
      }
      rows.forEach((row, i) => {
        numbers[3 * i] = row.pos
        numbers[3 * i + 1] = row.insert_ms
        numbers[3 * i + 2] = row.kind
        chunk.keys[i] = row.key
        chunk.bodies[i] = row.body
        chunk.fingerprints[i] = row.fingerprint
      })
      post(chunk, [numbers.buffer])
    }
  } catch (error) {
    const { code } = error as { code?: unknown }
    post({
      error: error instanceof Error ? error.message : String(error),
      code: typeof code === 'string' ? code : undefined,
    })
  } finally {
    source?.close()
    port.close()
  }
}
