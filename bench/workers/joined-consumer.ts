/**
 * A learner reading GET /joined: records every record's seq and emitted_ms with the local time
 * its bytes arrived, until it has as many as the harness says were acknowledged (or a deadline).
 * From those it computes, on the consumer's side only, how fast records arrived, how long after
 * their emission, and how many emitted records had not arrived yet at any moment.
 */
import { get } from 'node:http'
import { Samples, tail } from '../lib/stats.js'
import { workerMain } from '../lib/worker-main.js'

export interface ConsumerConfig {
  url: string
  /** Gives up this long after the harness said how many records to expect. */
  drainTimeoutMs: number
}

export interface ConsumerResult {
  received: number
  /** seq not 1, 2, 3... in order. */
  outOfOrder: number
  /** Records per second between the first and the last arrival. */
  ratePerSecond: number
  firstAtMs: number
  lastAtMs: number
  /** Arrival time minus emitted_ms (ms). */
  delayMs: { p50: number; p99: number; max: number }
  /** Most records emitted (by emitted_ms) but not yet arrived at any moment. */
  maxLagRecords: number
}

function maxLag(emitted: Float64Array, arrived: Float64Array): number {
  // Both in arrival order; emitted_ms is sorted here (records leave in due order, but be safe).
  const sortedEmitted = emitted.slice().sort()
  let lag = 0
  let e = 0
  for (let i = 0; i < arrived.length; i++) {
    const at = arrived[i] as number
    if (i > 0 && at === arrived[i - 1]) continue
    // Just before this chunk arrived: emitted so far minus arrived so far.
    while (e < sortedEmitted.length && (sortedEmitted[e] as number) < at) e++
    lag = Math.max(lag, e - i)
  }
  return lag
}

workerMain<ConsumerConfig, ConsumerResult>(
  (config, channel) =>
    new Promise((resolve, reject) => {
      const emitted = new Samples()
      const arrived = new Samples()
      let expected = Number.POSITIVE_INFINITY
      let outOfOrder = 0
      let partial = ''
      let timer: NodeJS.Timeout | undefined
      let done = false
      const finish = () => {
        if (done) return
        done = true
        clearTimeout(timer)
        request.destroy()
        const e = emitted.toArray()
        const a = arrived.toArray()
        const delays = a.map((at, i) => at - (e[i] as number))
        const firstAtMs = a[0] ?? 0
        const lastAtMs = a[a.length - 1] ?? 0
        const delay = tail(delays)
        resolve({
          received: a.length,
          outOfOrder,
          ratePerSecond: a.length > 1 ? (a.length - 1) / ((lastAtMs - firstAtMs) / 1000) : 0,
          firstAtMs,
          lastAtMs,
          delayMs: { p50: delay.p50, p99: delay.p99, max: delay.max },
          maxLagRecords: maxLag(e, a),
        })
      }
      channel.onMessage((message) => {
        if (message.type !== 'expect') return
        expected = message.count as number
        if (emitted.length >= expected) finish()
        else timer = setTimeout(finish, config.drainTimeoutMs)
      })
      const request = get(`${config.url}/joined`, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`GET /joined answered ${res.statusCode}`))
        channel.send({ type: 'ready' })
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          const at = Date.now()
          const lines = (partial + chunk).split('\n')
          partial = lines.pop() ?? ''
          for (const line of lines) {
            if (line === '') continue
            const record = JSON.parse(line) as { seq: number; emitted_ms: number }
            if (record.seq !== emitted.length + 1) outOfOrder++
            emitted.push(record.emitted_ms)
            arrived.push(at)
          }
          if (emitted.length >= expected) finish()
        })
      })
      request.on('error', (error) => {
        if (!done) reject(error)
      })
    }),
)
