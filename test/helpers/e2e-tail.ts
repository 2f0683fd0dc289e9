import { type ClientRequest, request } from 'node:http'
import { sleep, waitFor } from '../kit/wait.js'

export interface TailRecord {
  seq: number
  key: string
  decision_insert_ms: number
  emitted_ms: number
  [field: string]: unknown
}

/**
 * A learner on `GET /joined`: reads the NDJSON stream as it arrives, skipping blank
 * keep-alive lines, and remembers each record with the local time it was received.
 */
export class JoinedConsumer {
  readonly records: TailRecord[] = []
  readonly receivedAtMs: number[] = []
  status = 0
  /** Local time the answer's head arrived. */
  headAtMs = 0
  ended = false
  private req: ClientRequest | undefined
  private rest = ''

  private constructor() {}

  /**
   * Connects (from = undefined: only new records) and resolves once the request was sent; the
   * answer's status is known once its head arrives (`head()`).
   */
  static connect(base: string, from?: number): Promise<JoinedConsumer> {
    const consumer = new JoinedConsumer()
    const url = from === undefined ? `${base}/joined` : `${base}/joined?from=${from}`
    return new Promise((resolve, reject) => {
      // A socket of its own: the stream is closed by destroying it.
      const req = request(url, { agent: false }, (res) => {
        consumer.status = res.statusCode ?? 0
        consumer.headAtMs = Date.now()
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => consumer.take(chunk))
        res.on('error', () => {
          consumer.ended = true
        })
        res.on('close', () => {
          consumer.ended = true
        })
      })
      consumer.req = req
      req.on('error', (error) => {
        consumer.ended = true
        reject(error)
      })
      req.on('finish', () => resolve(consumer))
      req.end()
    })
  }

  /** Waits for the answer's head and returns its status. */
  async head(timeoutMs = 15_000): Promise<number> {
    return waitFor(
      'the answer head',
      () => {
        if (this.status === 0 && this.ended) throw new Error('the connection ended without an answer')
        return this.status !== 0 && this.status
      },
      { timeoutMs, everyMs: 10 },
    )
  }

  /** The last seq received (0 when none). */
  get lastSeq(): number {
    return this.records.at(-1)?.seq ?? 0
  }

  /** Waits until at least `count` records were received. */
  async waitForCount(count: number, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      `${count} records on the tail`,
      () => {
        if (this.records.length >= count) return true
        if (this.ended) throw new Error(`the tail ended after ${this.records.length} of ${count} records`)
        return false
      },
      { timeoutMs, everyMs: 20, detail: () => `the tail delivered ${this.records.length} records` },
    )
  }

  close(): void {
    this.req?.destroy()
  }

  private take(chunk: string): void {
    const text = this.rest + chunk
    const lines = text.split('\n')
    this.rest = lines.pop() ?? ''
    const now = Date.now()
    for (const line of lines) {
      if (line.trim() === '') continue
      this.records.push(JSON.parse(line) as TailRecord)
      this.receivedAtMs.push(now)
    }
  }
}

/** Reads `GET /joined?from=N` until `count` records arrived, then disconnects. */
export async function readJoined(base: string, from: number, count: number): Promise<TailRecord[]> {
  const consumer = await JoinedConsumer.connect(base, from)
  try {
    const status = await consumer.head()
    if (status !== 200) throw new Error(`GET /joined?from=${from} answered ${status}`)
    await consumer.waitForCount(count)
    // Real socket: anything beyond what was expected would arrive right behind it.
    await sleep(200)
    return consumer.records
  } finally {
    consumer.close()
  }
}
