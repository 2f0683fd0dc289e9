import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { E2E, postJson } from '../helpers/e2e-http.js'
import { postHead, RawConnection } from '../helpers/raw-http.js'
import { readJsonLines } from '../helpers/service.js'
import type { ReadyProcess } from '../kit/spawn.js'
import { sleep, waitFor } from '../kit/wait.js'

// SIGTERM/SIGINT stop accepting (503), finish in-flight requests, flush and
// checkpoint, close the log and exit 0 within a bound; a second signal exits at once, losing
// nothing acknowledged. (Pending decisions after a stop and restart: original-client.test.ts.)
// Real time: the built CLI runs as a child process on its own clock, stopped by signals.

/** The CLI's own bound (SHUTDOWN_LIMIT_MS): past it the service exits 1. */
const STOP_LIMIT_MS = 10_000

interface Joined {
  key: string
  decision_insert_ms: number
  emitted_ms: number
}

const decisionOf = (key: string) => ({ key, action: 1, probability: 0.5, context: { k: key } })
const bodyOf = (key: string) => JSON.stringify(decisionOf(key))

const stopping = (child: ReadyProcess) =>
  waitFor('the stop to begin', () => (child.stderr().includes('"msg":"stopping') ? true : undefined))

function setup(e2e: E2E, env: Record<string, string> = {}) {
  const dir = e2e.dir()
  const output = join(dir, 'joined.jsonl')
  return {
    output,
    env: { DATA_DIR: join(dir, 'data'), OUTPUT: `file:${output}`, EXP_UNIT_MS: '3000', ...env },
    records: () => readJsonLines(output) as Joined[],
  }
}

/** Whether connecting is refused within 2 s (the listening socket closes as the stop begins). */
async function refusesConnections(url: string): Promise<boolean> {
  for (const deadline = Date.now() + 2000; Date.now() < deadline; await sleep(25)) {
    const connection = await RawConnection.open(url).catch(() => undefined)
    if (connection === undefined) return true
    connection.destroy()
  }
  return false
}

async function acknowledged(child: ReadyProcess, key: string): Promise<void> {
  const answer = await postJson(child.url, '/log_decision', decisionOf(key))
  assert.equal(answer.status, 200, answer.text)
}

describe('a graceful stop', () => {
  it('on SIGINT answers requests in flight, refuses later ones with 503 and Retry-After, and exits 0', async (t) => {
    const e2e = new E2E(t)
    const { env, records } = setup(e2e)
    const service = await e2e.start(env)
    await acknowledged(service, 'before')
    // A request whose head is only partly there at the signal: it arrives while stopping.
    const late = await RawConnection.open(service.url)
    const lateBody = bodyOf('late')
    const lateHead = postHead('/log_decision', lateBody.length)
    late.write(lateHead.slice(0, 20))
    // In flight at the signal: a head received (the server answered 100 Continue) with half its
    // body. Sent after the late request's first bytes, so these were read by then too.
    const inFlight = await RawConnection.open(service.url)
    const body = bodyOf('in-flight')
    inFlight.write(postHead('/log_decision', body.length, { expect: '100-continue' }))
    await inFlight.waitForText(/^HTTP\/1\.1 100 Continue/)
    inFlight.write(body.slice(0, 10))
    await sleep(200)

    const signalledMs = Date.now()
    service.process.kill('SIGINT')
    await stopping(service)
    late.write(lateHead.slice(20) + lateBody)
    const refused = await late.response()
    assert.equal(refused.status, 503)
    assert.equal(refused.headers['retry-after'], '5')
    assert.equal(refused.headers.connection, 'close')
    assert.deepEqual(JSON.parse(refused.body), {
      ok: false,
      code: 'BJ_ERR_UNAVAILABLE',
      error: 'the service is shutting down',
    })
    assert.ok(await refusesConnections(service.url), 'new connections are refused')
    inFlight.write(body.slice(10))
    const answered = await inFlight.response()
    assert.equal(answered.status, 200, answered.body)
    assert.deepEqual(JSON.parse(answered.body), { ok: true })

    assert.equal(await service.exited, 0)
    const stopMs = Date.now() - signalledMs
    t.diagnostic(`stopped ${stopMs} ms after SIGINT`)
    assert.ok(stopMs < STOP_LIMIT_MS, `stopped after ${stopMs} ms`)

    const again = await e2e.start(env)
    await waitFor('both acknowledged decisions', () => (records().length >= 2 ? true : undefined), 10_000)
    await sleep(500)
    assert.deepEqual(
      records()
        .map((r) => r.key)
        .sort(),
      ['before', 'in-flight'],
      'the 503 was not logged',
    )
    assert.equal(await e2e.stop(again), 0)
  })

  it('writes every record to standard output before it exits, and the next start writes none again', async (t) => {
    const e2e = new E2E(t)
    const { env, records } = setup(e2e, { EXP_UNIT_MS: '200' })
    const both = { ...env, OUTPUT: `stdout,${env.OUTPUT}` }
    const first = await e2e.start(both)
    for (let i = 0; i < 50; i++) await acknowledged(first, `s${i}`)
    await waitFor('50 records', () => (records().length === 50 ? true : undefined))
    assert.equal(await e2e.stop(first), 0)
    const keys = (text: string) =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as Joined).key)
    assert.deepEqual(
      keys(first.stdout()),
      records().map((r) => r.key),
    )
    const second = await e2e.start(both)
    await sleep(500)
    assert.equal(await e2e.stop(second), 0)
    assert.deepEqual(keys(second.stdout()), [], 'the stop persisted where standard output stood')
  })

  it('exits at once on a second signal (SIGTERM, then SIGINT), and loses nothing acknowledged', async (t) => {
    const e2e = new E2E(t)
    const { env, records } = setup(e2e, { EXP_UNIT_MS: '500' })
    const service = await e2e.start(env)
    for (let i = 0; i < 20; i++) await acknowledged(service, `a${i}`)
    // A request that never completes holds the stop up (until the grace period would cut it).
    const stuck = await RawConnection.open(service.url)
    stuck.write(postHead('/log_decision', 1000, { expect: '100-continue' }))
    await stuck.waitForText(/^HTTP\/1\.1 100 Continue/)
    service.process.kill('SIGTERM')
    await stopping(service)
    await sleep(200)
    assert.equal(service.process.exitCode, null, 'the first signal waits for the request in flight')
    const secondMs = Date.now()
    service.process.kill('SIGINT')
    assert.equal(await service.exited, 1)
    assert.ok(Date.now() - secondMs < 1000, `exited ${Date.now() - secondMs} ms after the second signal`)
    assert.match(service.stderr(), /second signal: exiting now/)
    stuck.destroy()

    const again = await e2e.start(env)
    await waitFor('every acknowledged decision', () => (records().length >= 20 ? true : undefined))
    await sleep(1000)
    assert.deepEqual(
      records().map((r) => r.key),
      Array.from({ length: 20 }, (_, i) => `a${i}`),
    )
    assert.equal(await e2e.stop(again), 0)
  })
})
