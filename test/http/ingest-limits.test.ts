import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  assertAccepted,
  assertRefused,
  decision,
  ndjson,
  postBatch,
  postJson,
  send,
} from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'

describe('MAX_CONTEXT_BYTES counts the UTF-8 bytes of the context as JSON text', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess({ MAX_CONTEXT_BYTES: '100' })
  })
  after(() => svc.close())

  const logContext = (key: string, context: unknown) => () =>
    postJson(svc, '/log_decision', decision(key, { context }))

  it('accepts a string context whose JSON text is exactly 100 bytes', async () => {
    await assertAccepted(svc, logContext('c-100', 'x'.repeat(98)))
  })

  it('refuses a string context whose JSON text is 101 bytes with 413', async () => {
    await assertRefused(
      svc,
      logContext('c-101', 'x'.repeat(99)),
      413,
      /context is 101 bytes.*MAX_CONTEXT_BYTES=100/,
    )
  })

  it('counts a two-byte character twice: 49 "é" fit, 50 do not', async () => {
    await assertAccepted(svc, logContext('c-e49', 'é'.repeat(49)))
    await assertRefused(svc, logContext('c-e50', 'é'.repeat(50)), 413, /context is 102 bytes/)
  })

  it('counts an emoji as four bytes: 30 emoji (122 bytes) are too large although 60 UTF-16 units', async () => {
    await assertRefused(svc, logContext('c-emoji', '😀'.repeat(30)), 413, /context is 122 bytes/)
  })

  it('measures an object context by its JSON text', async () => {
    const context = { features: 'y'.repeat(100) }
    await assertRefused(svc, logContext('c-obj', context), 413, /context.*MAX_CONTEXT_BYTES/)
  })

  it('answers 413 when a too large context comes before malformed JSON in a batch', async () => {
    await assertRefused(
      svc,
      () =>
        postBatch(svc, [
          { type: 'decision', ...decision('c-first', { context: 'z'.repeat(200) }) },
          '{"type"',
        ]),
      413,
      /line 1: context is \d+ bytes.*line 2: malformed JSON/,
    )
  })

  it('refuses a large context in a batch line with 413 naming the line', async () => {
    await assertRefused(
      svc,
      () =>
        postBatch(svc, [
          { type: 'reward', key: 'c-100', reward: 1 },
          { type: 'decision', ...decision('c-batch', { context: 'z'.repeat(200) }) },
        ]),
      413,
      /line 2: context is \d+ bytes/,
    )
  })
})

describe('MAX_BODY_BYTES bounds every request body', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess({ MAX_BODY_BYTES: '1000' })
  })
  after(() => svc.close())

  /** A decision body of exactly `bytes` bytes of JSON text. */
  const bodyOf = (key: string, bytes: number) => {
    const empty = JSON.stringify(decision(key, { context: '' }))
    return JSON.stringify(decision(key, { context: 'x'.repeat(bytes - empty.length) }))
  }

  it('accepts a body of exactly MAX_BODY_BYTES', async () => {
    const body = bodyOf('b-1000', 1000)
    assert.equal(Buffer.byteLength(body), 1000)
    await assertAccepted(svc, () =>
      send(svc, 'POST', '/log_decision', { body, contentType: 'application/json' }),
    )
  })

  it('refuses a body one byte larger with 413', async () => {
    const body = bodyOf('b-1001', 1001)
    await assertRefused(
      svc,
      () => send(svc, 'POST', '/log_decision', { body, contentType: 'application/json' }),
      413,
      /MAX_BODY_BYTES=1000/,
    )
  })

  it('refuses a batch larger than MAX_BODY_BYTES with 413', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => ({ type: 'reward', key: `k${i}`, reward: i }))
    assert.ok(ndjson(lines).length > 1000)
    await assertRefused(svc, () => postBatch(svc, lines), 413, /MAX_BODY_BYTES=1000/)
  })
})

describe('content types: JSON for single events, NDJSON for batches, 415 otherwise', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess()
  })
  after(() => svc.close())

  const reward = JSON.stringify({ key: 'ct', reward: 1 })

  for (const contentType of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
    it(`refuses a JSON body sent as ${contentType} with 415`, async () => {
      await assertRefused(
        svc,
        () => send(svc, 'POST', '/log_reward', { body: reward, contentType }),
        415,
        /Content-Type .* is not accepted here: send application\/json/,
      )
    })
  }

  it('refuses an HTML form (application/x-www-form-urlencoded) with 415', async () => {
    await assertRefused(
      svc,
      () =>
        send(svc, 'POST', '/log_reward', {
          body: 'key=ct&reward=1',
          contentType: 'application/x-www-form-urlencoded',
        }),
      415,
      /application\/x-www-form-urlencoded is not accepted/,
    )
  })

  it('refuses NDJSON sent to a single-event route with 415', async () => {
    await assertRefused(
      svc,
      () => send(svc, 'POST', '/log_reward', { body: reward, contentType: 'application/x-ndjson' }),
      415,
      /send application\/json/,
    )
  })

  it('refuses a JSON Content-Type sent to /events with 415', async () => {
    const body = JSON.stringify({ type: 'reward', key: 'ct', reward: 1 })
    await assertRefused(
      svc,
      () => send(svc, 'POST', '/events', { body, contentType: 'application/json' }),
      415,
      /send application\/x-ndjson/,
    )
  })

  it('refuses text/plain sent to /events with 415', async () => {
    const body = JSON.stringify({ type: 'reward', key: 'ct', reward: 1 })
    await assertRefused(
      svc,
      () => send(svc, 'POST', '/events', { body, contentType: 'text/plain' }),
      415,
      /send application\/x-ndjson/,
    )
  })

  it('refuses a body of the wrong type on /log_override even with ?key=', async () => {
    await assertRefused(
      svc,
      () => send(svc, 'POST', '/log_override?key=ct', { body: 'key=ct', contentType: 'text/plain' }),
      415,
      /text\/plain is not accepted/,
    )
  })

  it('accepts /log_override?key=K with a JSON Content-Type and an empty body', async () => {
    await assertAccepted(svc, () =>
      send(svc, 'POST', '/log_override?key=ct', {
        contentType: 'application/json',
        headers: { 'content-length': '0' },
      }),
    )
  })

  it('accepts the other NDJSON media types on /events', async () => {
    for (const contentType of ['application/jsonl', 'application/ndjson']) {
      const before = svc.loggedEvents()
      const body = ndjson([{ type: 'reward', key: `ct-${contentType}`, reward: 1 }])
      const res = await send(svc, 'POST', '/events', { body, contentType })
      assert.equal(res.statusCode, 200, res.text)
      assert.equal(svc.loggedEvents(), before + 1)
    }
  })
})
