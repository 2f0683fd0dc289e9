/**
 * Sends NDJSON batches of decisions to POST /events, either paced (a batch every `intervalMs`
 * for `seconds`: the offered rate does not depend on how fast the service answers) or in bulk
 * (`total` decisions as fast as `concurrency` requests in flight allow, retrying 503s).
 */

import { Agent, request } from 'node:http'
import { sleep } from '../../test/kit/wait.js'
import { keyPrefix, ndjsonBatch } from '../lib/bodies.js'
import { Samples, tail } from '../lib/stats.js'
import { workerMain } from '../lib/worker-main.js'

export interface SenderConfig {
  /** Several URLs: batches go to them round-robin. */
  url: string | string[]
  mode: 'paced' | 'bulk'
  batchSize: number
  concurrency: number
  /** paced: one batch every intervalMs during seconds. */
  intervalMs?: number
  seconds?: number
  /** bulk: this many decisions. */
  total?: number
  /** Bytes of each decision's context (default CONTEXT_BYTES, 150). */
  contextBytes?: number
  /** Every third line a reward for the decision before it (ndjsonBatch); acked counts decisions. */
  withRewards?: boolean
}

export interface SenderResult {
  /** Decisions acknowledged (200). */
  acked: number
  /** Batches answered with anything but 200 (paced mode does not retry them). */
  refusedBatches: number
  /** Bulk mode: 503s retried. */
  retries: number
  /** Local wall-clock times (ms) of the first send and the last answer. */
  startedAtMs: number
  finishedAtMs: number
  seconds: number
  /** Acknowledged decisions per second, from the first send to the last answer. */
  ratePerSecond: number
  /** Average size in bytes of one decision's JSON (as POST /log_decision would send it). */
  decisionJsonBytes: number
  /** Paced mode: how late batches left compared with their schedule (ms). */
  slipMs: { p50: number; p99: number; max: number }
  /** Paced mode: batches sent late because `concurrency` requests were still in flight. */
  blockedBatches: number
}

interface Answer {
  status: number
  retryAfterSeconds: number
}

function post(agent: Agent, url: URL, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/events',
        headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume()
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfterSeconds: Number(res.headers['retry-after'] ?? 1),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

class Sender {
  private readonly agent: Agent
  private readonly urls: URL[]
  private turn = 0
  private readonly prefix = keyPrefix()
  private next = 0
  acked = 0
  refusedBatches = 0
  retries = 0
  decisions = 0
  decisionBytes = 0
  lastAnswerMs = 0

  constructor(
    base: string | string[],
    concurrency: number,
    private readonly contextBytes?: number,
    private readonly withRewards = false,
  ) {
    this.urls = (typeof base === 'string' ? [base] : base).map((url) => new URL(url))
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  }

  /** Builds the next batch of decisions. */
  batch(size: number): { body: string; decisions: number } {
    const batch = ndjsonBatch(this.prefix, this.next, size, this.withRewards, this.contextBytes)
    this.next = batch.next
    this.decisions += batch.decisions
    this.decisionBytes += batch.decisionBytes
    return batch
  }

  /** Sends one batch; retries 503s if asked to. */
  async send(body: string, decisions: number, retry: boolean): Promise<void> {
    const url = this.urls[this.turn++ % this.urls.length] as URL
    for (;;) {
      const answer = await post(this.agent, url, body)
      this.lastAnswerMs = Date.now()
      if (answer.status === 200) {
        this.acked += decisions
        return
      }
      if (!retry || answer.status !== 503) {
        this.refusedBatches++
        return
      }
      this.retries++
      await sleep(Math.min(1000, 100 * answer.retryAfterSeconds))
    }
  }

  close(): void {
    this.agent.destroy()
  }
}

async function paced(sender: Sender, config: SenderConfig, slips: Samples): Promise<number> {
  const interval = config.intervalMs ?? 10
  const count = Math.round(((config.seconds ?? 10) * 1000) / interval)
  const inFlight = new Set<Promise<void>>()
  let blocked = 0
  const t0 = performance.now()
  for (let k = 0; k < count; k++) {
    const due = t0 + k * interval
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    if (inFlight.size >= config.concurrency) {
      blocked++
      await Promise.race(inFlight)
    }
    const { body, decisions } = sender.batch(config.batchSize)
    slips.push(performance.now() - due)
    const sending: Promise<void> = sender.send(body, decisions, false).finally(() => inFlight.delete(sending))
    inFlight.add(sending)
  }
  await Promise.all(inFlight)
  return blocked
}

async function bulk(sender: Sender, config: SenderConfig): Promise<void> {
  const total = config.total ?? 0
  const lanes = Array.from({ length: config.concurrency }, async () => {
    while (sender.decisions < total) {
      const { body, decisions } = sender.batch(Math.min(config.batchSize, total - sender.decisions))
      await sender.send(body, decisions, true)
    }
  })
  await Promise.all(lanes)
}

workerMain<SenderConfig, SenderResult>(async (config, channel) => {
  const sender = new Sender(config.url, config.concurrency, config.contextBytes, config.withRewards)
  const slips = new Samples()
  const startedAtMs = Date.now()
  const t0 = performance.now()
  channel.send({ type: 'start' })
  const blockedBatches = config.mode === 'paced' ? await paced(sender, config, slips) : 0
  if (config.mode === 'bulk') await bulk(sender, config)
  const seconds = (performance.now() - t0) / 1000
  channel.send({ type: 'end' })
  sender.close()
  const slip = tail(slips.toArray())
  return {
    acked: sender.acked,
    refusedBatches: sender.refusedBatches,
    retries: sender.retries,
    startedAtMs,
    finishedAtMs: sender.lastAnswerMs,
    seconds,
    ratePerSecond: sender.acked / seconds,
    decisionJsonBytes: sender.decisionBytes / Math.max(1, sender.decisions),
    slipMs: { p50: slip.p50, p99: slip.p99, max: slip.max },
    blockedBatches,
  }
})
