import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { postJson, send } from '../helpers/e2e-http.js'
import { heldRequest, postHead, RawConnection } from '../helpers/raw-http.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'
import { waitFor } from '../kit/wait.js'
import { parseExposition, valueOrZero } from '../observability/prom-text.js'

// Beyond the in-flight limits an ingest request gets 503 with Retry-After before its
// body is read, so that memory stays bounded; what was admitted is answered and logged; once the
// load drops, requests are taken again by themselves. Deterministic: requests are held in flight
// (head received, body not yet sent) instead of being raced.

const LIMITS = { requests: 20, bodyBytes: 64 * 1024 }

const decisionBody = (key: string, pad = 0) =>
  JSON.stringify({ key, action: 1, probability: 1, context: 'x'.repeat(pad) })

describe('in-flight limits', () => {
  let svc: InProcessService
  let url: string
  before(async () => {
    svc = await startInProcess({ MAX_CONTEXT_BYTES: '200000' }, { overrides: { inflightLimits: LIMITS } })
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    url = svc.service.address()
  })
  after(() => svc.close())

  /** A request admitted (its head answered with 100 Continue) whose body is not sent yet. */
  const held = (key: string, pad = 0) => heldRequest(url, '/log_decision', decisionBody(key, pad))

  /** What the limiter counts in flight, from /metrics. */
  async function inflight(): Promise<{ requests: number; bytes: number }> {
    const metrics = parseExposition((await send(`${url}/metrics`, 'GET', {})).text)
    return {
      requests: valueOrZero(metrics, 'banditjoin_http_inflight_requests'),
      bytes: valueOrZero(metrics, 'banditjoin_http_inflight_body_bytes'),
    }
  }

  async function refusedAtOnce(body: string): Promise<void> {
    const before = svc.loggedEvents()
    const connection = await RawConnection.open(url)
    // Only the head: the answer comes before the body is read.
    connection.write(postHead('/log_decision', Buffer.byteLength(body)))
    const answer = await connection.response()
    connection.destroy()
    assert.equal(answer.status, 503, answer.body)
    assert.equal(answer.headers['retry-after'], '1')
    assert.match((JSON.parse(answer.body) as { error: string }).error, /too much in flight/)
    assert.equal(svc.loggedEvents(), before, 'nothing was logged')
  }

  it('refuses the request beyond the request limit with 503 and Retry-After, answers the admitted ones, then takes requests again', async () => {
    const admitted = await Promise.all(Array.from({ length: LIMITS.requests }, (_, i) => held(`held-${i}`)))
    await refusedAtOnce(decisionBody('one-too-many'))
    const before = svc.loggedEvents()
    assert.deepEqual(
      await Promise.all(admitted.map((r) => r.finish())),
      admitted.map(() => 200),
    )
    assert.equal(svc.loggedEvents(), before + LIMITS.requests, 'every admitted request was logged')
    const again = await postJson(url, '/log_decision', JSON.parse(decisionBody('after-the-load')))
    assert.equal(again.status, 200, again.text)
  })

  /** A request admitted whose body has arrived but for its last byte. */
  async function partlySent(key: string, pad: number): Promise<{ finish(): Promise<number> }> {
    const body = Buffer.from(decisionBody(key, pad))
    const before = (await inflight()).bytes
    const connection = await RawConnection.open(url)
    connection.write(postHead('/log_decision', body.length))
    connection.write(body.subarray(0, -1))
    await waitFor(`${key}: its bytes received`, async () =>
      (await inflight()).bytes === before + body.length - 1 ? true : undefined,
    )
    return {
      finish: async () => {
        connection.write(body.subarray(-1))
        const answer = await connection.response()
        connection.destroy()
        return answer.status
      },
    }
  }

  it('refuses a body whose bytes would take the bytes in flight beyond the limit, as they arrive', async () => {
    const partly = await partlySent('partly', 40 * 1024)
    const before = svc.loggedEvents()
    const body = decisionBody('too-big-now', 30 * 1024)
    const connection = await RawConnection.open(url)
    connection.write(postHead('/log_decision', Buffer.byteLength(body)) + body)
    const answer = await connection.response()
    connection.destroy()
    assert.equal(answer.status, 503, answer.body)
    assert.equal(answer.headers['retry-after'], '1')
    assert.match((JSON.parse(answer.body) as { error: string }).error, /too much in flight/)
    assert.equal(svc.loggedEvents(), before, 'nothing was logged')
    assert.equal(await partly.finish(), 200)
    await waitFor('every byte given back', async () => ((await inflight()).bytes === 0 ? true : undefined))
  })

  it('lets one body in whatever its size, and refuses others before their bodies while it holds the budget', async () => {
    const big = await partlySent('big', 100 * 1024)
    await refusedAtOnce(decisionBody('behind-the-big-one'))
    assert.equal(await big.finish(), 200)
    const alone = await postJson(url, '/log_decision', JSON.parse(decisionBody('big-alone', 100 * 1024)))
    assert.equal(alone.status, 200, 'one request is let in whatever its size')
  })

  it('gives back the places of pipelined requests whose connection closed before their answers', async () => {
    // Answers go out in order: behind a GET /joined stream, the decisions' answers never start.
    const before = svc.loggedEvents()
    const pipelined = await RawConnection.open(url)
    const decisions = Array.from({ length: LIMITS.requests }, (_, i) => {
      const body = decisionBody(`pipelined-${i}`)
      return postHead('/log_decision', Buffer.byteLength(body)) + body
    })
    pipelined.write(`GET /joined HTTP/1.1\r\nhost: banditjoin\r\n\r\n${decisions.join('')}`)
    await waitFor('the pipelined decisions logged', () =>
      svc.loggedEvents() === before + LIMITS.requests ? true : undefined,
    )
    await refusedAtOnce(decisionBody('behind-the-pipeline'))
    pipelined.destroy()
    await waitFor('the places given back', async () => {
      const answer = await postJson(url, '/log_decision', JSON.parse(decisionBody(`retry-${Date.now()}`)))
      return answer.status === 200 ? true : undefined
    })
  })

  it('gives back the place of a request aborted by its client once, so aborts do not wear the limits down', async () => {
    // The response's and the connection's close both released it, and the
    // counters went negative, admitting more requests and bytes with every abort.
    const declared = 1000
    for (let round = 1; round <= 3; round++) {
      const aborted = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const connection = await RawConnection.open(url)
          connection.write(postHead('/log_decision', declared, { expect: '100-continue' }))
          await connection.waitForText(/^HTTP\/1\.1 100 Continue/)
          connection.write('{')
          return connection
        }),
      )
      // Each holds the one byte of its body that arrived.
      await waitFor(`round ${round}: all admitted, a byte each`, async () => {
        const now = await inflight()
        return now.requests === 12 && now.bytes === 12 ? true : undefined
      })
      for (const connection of aborted) connection.destroy()
      await waitFor(`round ${round}: the places given back`, async () => {
        const now = await inflight()
        assert.ok(
          now.requests >= 0 && now.bytes >= 0,
          `round ${round}: counted below zero: ${JSON.stringify(now)}`,
        )
        return now.requests === 0 && now.bytes === 0 ? true : undefined
      })
    }
    // The limit is where it was: LIMITS.requests are admitted, and not one more.
    const admitted = await Promise.all(
      Array.from({ length: LIMITS.requests }, (_, i) => held(`after-abort-${i}`)),
    )
    await refusedAtOnce(decisionBody('beyond-after-aborts'))
    await Promise.all(admitted.map((r) => r.finish()))
  })

  it('does not count other routes, nor the requests it refused', async () => {
    const admitted = await Promise.all(Array.from({ length: LIMITS.requests }, (_, i) => held(`more-${i}`)))
    const health = await fetch(`${url}/readyz`)
    assert.equal(health.status, 200)
    for (let i = 0; i < 3; i++) await refusedAtOnce(decisionBody(`refused-${i}`))
    await Promise.all(admitted.map((r) => r.finish()))
    assert.equal((await postJson(url, '/log_reward', { key: 'more-0', reward: 1 })).status, 200)
  })
})

describe('in-flight limits with slow senders (slow senders must not starve fast ones)', () => {
  let svc: InProcessService
  let url: string
  before(async () => {
    // The default limits: 1024 requests, 4 × MAX_BODY_BYTES (16 MiB) of bodies.
    svc = await startInProcess()
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    url = svc.service.address()
  })
  after(() => svc.close())

  it('slow senders declaring the largest body do not stop other clients: probes keep getting 200', async () => {
    // They were charged what they declared: four of them held the whole budget until the
    // request timeout, and every other client got 503.
    const slow = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const connection = await RawConnection.open(url)
        connection.write(postHead('/log_decision', 16 * 1024 * 1024))
        connection.write('{')
        return connection
      }),
    )
    try {
      for (let i = 0; i < 20; i++) {
        const probe = await postJson(url, '/log_decision', JSON.parse(decisionBody(`probe-${i}`, 1000)))
        assert.equal(probe.status, 200, `probe ${i}: ${probe.text}`)
        // One more byte a probe: the slow bodies keep arriving, slowly.
        for (const connection of slow) connection.write(' ')
      }
      for (const connection of slow)
        assert.equal(connection.received(), '', 'the slow senders are still being read')
    } finally {
      for (const connection of slow) connection.destroy()
    }
  })
})
