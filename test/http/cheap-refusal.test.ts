import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { postJson, send } from '../helpers/e2e-http.js'
import { heldRequest, parseResponse, postHead, RawConnection } from '../helpers/raw-http.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'
import { waitFor } from '../kit/wait.js'
import { parseExposition, valueOrZero } from '../observability/prom-text.js'

// While the in-flight limits are reached, an ingest request is refused 503 before
// Fastify routes it, runs its hooks, reads or parses its body, so that clients retrying 503s at
// once cost little CPU. A request whose headers or body would be refused otherwise (415, 400) gets
// the 503, and Fastify never sees it (no onRequest hook runs).

const LIMITS = { requests: 4, bodyBytes: 64 * 1024 }

const decisionBody = (key: string) => JSON.stringify({ key, action: 1, probability: 1, context: 'x' })

describe('cheap refusal under overload', () => {
  let svc: InProcessService
  let url: string
  /** Requests that reached Fastify (its first hook). */
  let routed = 0
  before(async () => {
    svc = await startInProcess({}, { overrides: { inflightLimits: LIMITS } })
    svc.service.app.addHook('onRequest', (_request, _reply, done) => {
      routed++
      done()
    })
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    url = svc.service.address()
  })
  after(() => svc.close())

  /** A request admitted (answered 100 Continue) whose body is not sent yet. */
  const held = (key: string) => heldRequest(url, '/log_decision', decisionBody(key))

  async function refusedTotal(): Promise<number> {
    const metrics = parseExposition((await send(`${url}/metrics`, 'GET', {})).text)
    return valueOrZero(metrics, 'banditjoin_events_refused_total', {
      type: 'decision',
      reason: 'BJ_ERR_OVERLOADED',
    })
  }

  it('answers 503 before routing, hooks and body parsing: invalid JSON and refused encodings get 503, not 400 or 415', async () => {
    const admitted = await Promise.all(Array.from({ length: LIMITS.requests }, (_, i) => held(`held-${i}`)))
    const refusedBefore = await refusedTotal()
    const routedBefore = routed
    const loggedBefore = svc.loggedEvents()
    const cases: Array<{ body: string; headers?: Record<string, string> }> = [
      { body: '{"key": "not json' },
      { body: '{"key": "gzip?"}', headers: { 'content-encoding': 'gzip' } },
      { body: '{"key": "latin1"}', headers: { 'content-type': 'application/json; charset=iso-8859-1' } },
      { body: 'not json at all', headers: { 'content-type': 'text/plain' } },
    ]
    // A connection each: a refused connection is not read again for a while (the next test).
    for (const { body, headers } of cases) {
      const connection = await RawConnection.open(url)
      try {
        connection.write(postHead('/log_decision', Buffer.byteLength(body), headers) + body)
        const answer = await connection.response()
        assert.equal(answer.status, 503, `${JSON.stringify(headers)}: ${answer.body}`)
        assert.equal(answer.headers['retry-after'], '1')
        const parsed = JSON.parse(answer.body) as { ok: boolean; code: string; error: string }
        assert.equal(parsed.ok, false)
        assert.equal(parsed.code, 'BJ_ERR_OVERLOADED')
        assert.match(parsed.error, /too much in flight/)
        assert.equal(connection.closed, false, 'the connection stays open')
      } finally {
        connection.destroy()
      }
    }
    // /metrics itself goes through Fastify (one onRequest each): count before reading them.
    assert.equal(routed - routedBefore, 0, 'no refused request reached Fastify')
    assert.equal(await refusedTotal(), refusedBefore + cases.length, 'each refusal counted')
    assert.equal(svc.loggedEvents(), loggedBefore, 'nothing was logged')
    assert.deepEqual(
      await Promise.all(admitted.map((r) => r.finish())),
      admitted.map(() => 200),
    )
    const again = await postJson(url, '/log_decision', {
      key: 'after',
      action: 1,
      probability: 1,
      context: 1,
    })
    assert.equal(again.status, 200, again.text)
  })
  it('does not read a refused connection again until a request ends: a retry sent at once waits, then is admitted', async () => {
    const admitted = await Promise.all(Array.from({ length: LIMITS.requests }, (_, i) => held(`wait-${i}`)))
    const refusedBefore = await refusedTotal()
    const connection = await RawConnection.open(url)
    try {
      const first = decisionBody('retried-at-once')
      connection.write(postHead('/log_decision', Buffer.byteLength(first)) + first)
      assert.equal((await connection.response()).status, 503)
      // The retry comes at once, as from a client that ignores Retry-After: it stays unread.
      const seen = connection.received().length
      connection.write(postHead('/log_decision', Buffer.byteLength(first)) + first)
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.equal(connection.received().length, seen, 'no answer to the retry while the limits are reached')
      assert.equal(await refusedTotal(), refusedBefore + 1, 'the retry was not refused again')
      // One admitted request ends: the retry is read, and admitted in its place.
      assert.equal(await (admitted[0] as { finish(): Promise<number> }).finish(), 200)
      const retry = await waitFor('the answer to the retry', () =>
        parseResponse(connection.received().slice(seen)),
      )
      assert.equal(retry.status, 200, retry.body)
      assert.equal(connection.closed, false)
    } finally {
      connection.destroy()
    }
    assert.deepEqual(
      await Promise.all(admitted.slice(1).map((r) => r.finish())),
      admitted.slice(1).map(() => 200),
    )
  })
})
