import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { rssBytes } from '../../bench/lib/cpu.js'
import { E2E, postJson } from '../helpers/e2e-http.js'
import { postHead, RawConnection } from '../helpers/raw-http.js'
import { readJsonLines } from '../helpers/service.js'
import { sleep, waitFor } from '../kit/wait.js'

// Bursts of 4096 requests at once, four times the in-flight limit, each
// on its own connection. Whatever share gets 503 (it depends on the machine's speed), every 503
// carries Retry-After and is not logged, every 200 comes out exactly once, memory stays within a
// bound, and the service takes requests again as soon as the burst is over.
// The measured version (10x the maximum rate, peak RSS) is the bench scenario `overload`.
// Real time: the built CLI runs as a child process on its own clock.

const E = 1000
const BURST = 4096
const WAVES = 3
/** Far above what the burst may cost if nothing queues without bound (the service idles near 90 MiB). */
const RSS_LIMIT_BYTES = 1024 * 1024 * 1024

interface Outcome {
  key: string
  status: number
  retryAfter: string | undefined
}

async function sendOne(url: string, key: string): Promise<Outcome> {
  const body = JSON.stringify({ key, action: 1, probability: 0.5, context: { burst: key } })
  try {
    const connection = await RawConnection.open(url)
    try {
      connection.write(postHead('/log_decision', Buffer.byteLength(body)) + body)
      const answer = await connection.response(60_000)
      return { key, status: answer.status, retryAfter: answer.headers['retry-after'] }
    } finally {
      connection.destroy()
    }
  } catch {
    return { key, status: 0, retryAfter: undefined }
  }
}

test('bursts far beyond the in-flight limit get 503 with Retry-After for the excess, lose nothing acknowledged, and leave memory bounded', async (t) => {
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const output = join(dir, 'joined.jsonl')
  const service = await e2e.start({
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${output}`,
    EXP_UNIT_MS: String(E),
  })
  const pid = service.process.pid as number
  let peakRss = rssBytes(pid)
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssBytes(pid))
  }, 50)
  const outcomes: Outcome[] = []
  try {
    for (let wave = 0; wave < WAVES; wave++) {
      const keys = Array.from({ length: BURST }, (_, i) => `w${wave}-${i}`)
      outcomes.push(...(await Promise.all(keys.map((key) => sendOne(service.url, key)))))
    }
  } finally {
    clearInterval(sampler)
  }
  const count = (status: number) => outcomes.filter((o) => o.status === status).length
  t.diagnostic(
    `${outcomes.length} requests: ${count(200)} × 200, ${count(503)} × 503, ${count(0)} without answer; ` +
      `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  )
  assert.deepEqual(
    outcomes.filter((o) => ![0, 200, 503].includes(o.status)),
    [],
    'only 200 or 503',
  )
  assert.deepEqual(
    outcomes.filter((o) => o.status === 503 && o.retryAfter === undefined),
    [],
    'every 503 has Retry-After',
  )
  assert.ok(peakRss < RSS_LIMIT_BYTES, `peak RSS ${peakRss} bytes`)
  const after = await postJson(service.url, '/log_decision', {
    key: 'after',
    action: 1,
    probability: 1,
    context: 1,
  })
  assert.equal(after.status, 200, 'taken again once the burst is over')

  const acked = new Set(outcomes.filter((o) => o.status === 200).map((o) => o.key))
  acked.add('after')
  const keys = () => (readJsonLines(output) as { key: string }[]).map((r) => r.key)
  await waitFor('every acknowledged decision', () => (keys().length >= acked.size ? true : undefined), 30_000)
  await sleep(E)
  const emitted = keys()
  const emittedSet = new Set(emitted)
  assert.equal(emittedSet.size, emitted.length, 'no record twice')
  assert.deepEqual(
    emitted.filter((key) => !acked.has(key) && outcomes.find((o) => o.key === key)?.status !== 0),
    [],
    'no refused decision was logged',
  )
  assert.deepEqual(
    [...acked].filter((key) => !emittedSet.has(key)),
    [],
    'every acknowledged decision was emitted',
  )
  assert.equal(await e2e.stop(service), 0)
})
