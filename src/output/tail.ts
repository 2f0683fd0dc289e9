import type { ServerResponse } from 'node:http'
import { BanditJoinError } from '../errors.js'
import type { EmbeddedLog, RecordLine } from '../log/types.js'
import { withSeq } from './format.js'
import { DEFAULT_OUTPUT_FORMAT, OUTPUT_FORMATS, type OutputFormatName } from './formats.js'

export interface TailOptions {
  /** A subscriber further behind than this many buffered bytes is disconnected (it resumes with ?from). */
  maxBufferedBytes: number
  /** A blank line goes out after this long without a record. @default 15000 */
  keepAliveMs: number
  /** Records read from the log per page while catching up. */
  pageSize: number
}

interface Subscriber {
  response: ServerResponse
  lastWriteMs: number
  /** `?format=`'s line of a stored JSON record (none: the record itself); sent with seq. */
  line: ((jsonLine: string) => string) | undefined
}

/**
 * The live resumable tail `GET /joined?from=N` (SPEC §4): retained records from N on, read
 * from the log, then new ones as they are committed, each with its `seq`.
 */
export class JoinedTail {
  private readonly live = new Set<Subscriber>()
  private readonly keepAlive: NodeJS.Timeout

  constructor(
    private readonly log: EmbeddedLog,
    private readonly options: TailOptions,
  ) {
    this.keepAlive = setInterval(() => this.sendKeepAlives(), Math.max(100, options.keepAliveMs / 3))
    this.keepAlive.unref()
  }

  get subscribers(): number {
    return this.live.size
  }

  /** Where a subscription asking for `from` starts; throws 410/400 for positions out of range. */
  startSeq(from: number | undefined): number {
    const next = this.log.checkpoint.recordSeq + 1
    if (from === undefined) return next
    if (from > next) {
      throw new BanditJoinError(
        'BJ_ERR_BAD_POSITION',
        `from=${from} is beyond the next position ${next}`,
        400,
      )
    }
    const oldest = this.log.firstRetainedRecordSeq()
    if (from < oldest) {
      throw new BanditJoinError(
        'BJ_ERR_GONE',
        `from=${from} is older than the oldest retained record ${oldest} (OUTPUT_RETENTION_MS/BYTES)`,
        410,
      )
    }
    return from
  }

  /** Streams to the response from `seq` on until the client goes away or falls too far behind. */
  async subscribe(
    response: ServerResponse,
    seq: number,
    format: OutputFormatName = DEFAULT_OUTPUT_FORMAT,
  ): Promise<void> {
    response.writeHead(200, streamHeaders(seq))
    // Send the head now: a consumer at the head of the output must know at once it is subscribed.
    response.flushHeaders()
    const subscriber: Subscriber = { response, lastWriteMs: Date.now(), line: OUTPUT_FORMATS[format].line }
    let next = seq
    for (;;) {
      if (response.destroyed) return
      const page = this.log.readOutput('records', next, this.options.pageSize)
      const last = page.at(-1)
      if (last === undefined) break
      next = last.seq + 1
      if (!this.send(subscriber, page)) await drained(response)
    }
    this.live.add(subscriber)
    response.on('close', () => this.live.delete(subscriber))
  }

  /** New committed records, in order, directly after those published before. */
  publish(records: readonly RecordLine[]): void {
    if (records.length === 0) return
    for (const subscriber of this.live) {
      this.send(subscriber, records)
      if (subscriber.response.writableLength > this.options.maxBufferedBytes) {
        this.live.delete(subscriber)
        subscriber.response.destroy()
      }
    }
  }

  /** On shutdown: subscribers are cut off (they resume with ?from), so none holds the stop up. */
  close(): void {
    clearInterval(this.keepAlive)
    for (const subscriber of this.live) subscriber.response.destroy()
    this.live.clear()
  }

  private send(subscriber: Subscriber, records: readonly RecordLine[]): boolean {
    let text = ''
    const { line } = subscriber
    for (const r of records) text += `${withSeq(line === undefined ? r.line : line(r.line), r.seq)}\n`
    subscriber.lastWriteMs = Date.now()
    return subscriber.response.write(text)
  }

  private sendKeepAlives(): void {
    const now = Date.now()
    for (const subscriber of this.live) {
      if (now - subscriber.lastWriteMs >= this.options.keepAliveMs) {
        subscriber.lastWriteMs = now
        subscriber.response.write('\n')
      }
    }
  }
}

function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done)
      response.off('close', done)
      resolve()
    }
    response.on('drain', done)
    response.on('close', done)
  })
}

/** The head of a stream starting at `seq` (also the answer to HEAD). */
export function streamHeaders(seq: number): Record<string, string> {
  // banditjoin-from: where this stream starts, so a consumer can resume before it has seen a record.
  return {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-store',
    'banditjoin-from': String(seq),
  }
}
