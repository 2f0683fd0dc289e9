import type { Transport } from './transport.js'
import type { BatchAck, BatchEvent } from './types.js'

export interface BatcherOptions {
  /** A batch is sent once it has this many events. @default 500 */
  maxEvents: number
  /** ... or once its first event has waited this long. @default 50 */
  maxDelayMs: number
}

export const DEFAULT_BATCHER: BatcherOptions = { maxEvents: 500, maxDelayMs: 50 }

interface Pending {
  line: string
  resolve(): void
  reject(error: unknown): void
}

/**
 * Collects events and sends them as one `POST /events` (NDJSON) by size or by time. Each
 * `add` resolves once its batch is durably logged. A batch is all-or-nothing (SPEC §1): if
 * the service refuses it, every event in it is rejected with the same error, which names the
 * offending lines. Retries are safe: a decision sent twice is a duplicate, and rewards carry
 * an id.
 */
export class Batcher {
  private pending: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly transport: Transport,
    private readonly options: BatcherOptions,
  ) {}

  add(event: BatchEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ line: JSON.stringify(event), resolve, reject })
      if (this.pending.length >= this.options.maxEvents) this.send()
      else this.timer ??= setTimeout(() => this.send(), this.options.maxDelayMs)
    })
  }

  /** Sends what is collected now, and resolves once every batch sent so far is answered. */
  async flush(): Promise<void> {
    this.send()
    await Promise.allSettled([...this.inFlight])
  }

  private send(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.pending
    if (batch.length === 0) return
    this.pending = []
    const body = `${batch.map((p) => p.line).join('\n')}\n`
    const sent = this.transport.post<BatchAck>('/events', body, 'application/x-ndjson').then(
      () => {
        for (const p of batch) p.resolve()
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error)
      },
    )
    this.inFlight.add(sent)
    void sent.finally(() => this.inFlight.delete(sent))
  }
}
