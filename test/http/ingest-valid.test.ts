import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  assertAccepted,
  assertOk,
  decision,
  ndjson,
  postBatch,
  postJson,
  send,
} from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'

describe('valid events are answered 200 {"ok": true} once logged', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess()
  })
  after(() => svc.close())

  it('logs a decision with a string action and a string context, as the original sends it', async () => {
    await assertAccepted(svc, () =>
      postJson(svc, '/log_decision', decision('d-string', { context: '{"user": "u1"}' })),
    )
  })

  it('logs a decision with an integer action and an object context', async () => {
    await assertAccepted(svc, () =>
      postJson(svc, '/log_decision', decision('d-int', { action: 3, context: { a: [1, 2], b: null } })),
    )
  })

  it('logs a decision with every optional field', async () => {
    const body = decision('d-full', {
      action: 2,
      probability: 0.25,
      actions: [1, 2, 3],
      probabilities: [0.5, 0.25, 0.25],
      model: 'policy-v7',
      timestamp: '2026-01-01T00:00:00Z',
      deferred: true,
    })
    await assertAccepted(svc, () => postJson(svc, '/log_decision', body))
  })

  it('accepts a probability of exactly 1 and a numeric timestamp', async () => {
    await assertAccepted(svc, () =>
      postJson(svc, '/log_decision', decision('d-p1', { probability: 1, timestamp: 1764150000 })),
    )
  })

  it('accepts any JSON value as context: null, an array, a number', async () => {
    for (const [i, context] of [null, [1, 'two', { three: 3 }], 42.5].entries()) {
      await assertAccepted(svc, () => postJson(svc, '/log_decision', decision(`d-ctx-${i}`, { context })))
    }
  })

  it('logs a reward with and without an id, and a negative reward', async () => {
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'd-int', reward: 1 }))
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'd-int', reward: 0.5, id: 'r-1' }))
    await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'd-int', reward: -2.5 }))
  })

  it('logs an override through /override_decision', async () => {
    await assertAccepted(svc, () => postJson(svc, '/override_decision', { key: 'd-string' }))
  })

  it('logs /log_override?key=K with no body and no Content-Type, as Python requests.post sends it', async () => {
    await assertAccepted(svc, () =>
      send(svc, 'POST', '/log_override?key=d-full', { headers: { 'content-length': '0' } }),
    )
  })

  it('logs /log_override?key=K with no body and no Content-Length at all', async () => {
    await assertAccepted(svc, () => send(svc, 'POST', '/log_override?key=d-p1'))
  })

  it('logs /log_override with the key in a JSON body', async () => {
    await assertAccepted(svc, () => postJson(svc, '/log_override', { key: 'd-ctx-0' }))
  })

  it('logs an activation through /activate_decision', async () => {
    await assertAccepted(svc, () => postJson(svc, '/activate_decision', { key: 'd-full' }))
  })

  it('reads a body with no Content-Type as JSON', async () => {
    await assertAccepted(svc, () =>
      send(svc, 'POST', '/log_decision', { body: JSON.stringify(decision('d-no-ctype')) }),
    )
    await assertAccepted(svc, () =>
      send(svc, 'POST', '/log_reward', { body: JSON.stringify({ key: 'd-no-ctype', reward: 1 }) }),
    )
  })

  it('reads a /log_override body with no Content-Type as JSON', async () => {
    await assertAccepted(svc, () => send(svc, 'POST', '/log_override', { body: '{"key": "d-charset"}' }))
  })

  it('accepts application/json with a charset parameter', async () => {
    await assertAccepted(svc, () =>
      send(svc, 'POST', '/log_decision', {
        body: JSON.stringify(decision('d-charset')),
        contentType: 'application/json; charset=utf-8',
      }),
    )
  })

  it('logs an NDJSON batch of every event type, skipping blank lines', async () => {
    const before = svc.loggedEvents()
    const res = await postBatch(svc, [
      { type: 'decision', ...decision('b-1') },
      '',
      { type: 'reward', key: 'b-1', reward: 1 },
      '   ',
      { type: 'decision', ...decision('b-2', { deferred: true }) },
      { type: 'activate', key: 'b-2' },
      { type: 'override', key: 'b-1' },
      '',
    ])
    assertOk(res, { accepted: 5, duplicates: 0 })
    assert.equal(svc.loggedEvents(), before + 5)
  })

  it('reads a batch with no Content-Type as NDJSON', async () => {
    const before = svc.loggedEvents()
    const body = ndjson([
      { type: 'decision', ...decision('b-3') },
      { type: 'reward', key: 'b-3', reward: 2 },
    ])
    assertOk(await send(svc, 'POST', '/events', { body }), { accepted: 2, duplicates: 0 })
    assert.equal(svc.loggedEvents(), before + 2)
  })

  it('accepts a batch with Windows line endings and a trailing newline', async () => {
    const before = svc.loggedEvents()
    const body = `${JSON.stringify({ type: 'decision', ...decision('b-crlf') })}\r\n${JSON.stringify({ type: 'reward', key: 'b-crlf', reward: 1 })}\r\n`
    assertOk(await send(svc, 'POST', '/events', { body, contentType: 'application/x-ndjson' }), {
      accepted: 2,
      duplicates: 0,
    })
    assert.equal(svc.loggedEvents(), before + 2)
  })
})

describe('operational routes', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess()
  })
  after(() => svc.close())

  it('answers GET / with {"ok": true}, as the original health check', async () => {
    assertOk(await send(svc, 'GET', '/'))
  })

  it('answers GET /healthz and GET /readyz with 200', async () => {
    assertOk(await send(svc, 'GET', '/healthz'))
    assertOk(await send(svc, 'GET', '/readyz'))
  })

  it('serves an OpenAPI document describing every ingest path', async () => {
    const res = await send(svc, 'GET', '/openapi.json')
    assert.equal(res.statusCode, 200)
    const doc = res.json() as { openapi: string; info: { title: string }; paths: Record<string, unknown> }
    assert.equal(doc.openapi, '3.1.0', 'JSON Schema 2020-12, as the route schemas (exclusiveMinimum: 0)')
    assert.equal(typeof doc.info.title, 'string')
    for (const path of [
      '/log_decision',
      '/log_reward',
      '/override_decision',
      '/log_override',
      '/activate_decision',
      '/events',
    ]) {
      const item = doc.paths[path] as Record<string, unknown> | undefined
      assert.ok(item?.post, `${path} is documented as a POST`)
    }
    assert.ok(doc.paths['/joined'], '/joined is documented')
    const override = (
      doc.paths['/log_override'] as { post: { parameters: { name: string; required: boolean }[] } }
    ).post
    assert.deepEqual(
      override.parameters.map((p) => [p.name, p.required]),
      [['key', true]],
      'the documented form is the original one, with ?key=',
    )
  })

  it('answers 405 with Allow for a known path asked with another method, 404 for an unknown path', async () => {
    for (const [method, url, allow] of [
      ['GET', '/log_decision', 'POST'],
      ['PUT', '/events', 'POST'],
      ['DELETE', '/log_override?key=k', 'POST'],
      ['TRACE', '/log_reward', 'POST'],
      ['QUERY', '/', 'GET, HEAD'],
      ['POST', '/metrics', 'GET, HEAD'],
    ] as const) {
      const before = svc.loggedEvents()
      const res = await svc.service.app.inject({ method: method as 'GET', url })
      assert.equal(res.statusCode, 405, `${method} ${url}: ${res.body}`)
      assert.equal(res.headers.allow, allow)
      assert.deepEqual(res.json(), {
        ok: false,
        code: 'BJ_ERR_METHOD_NOT_ALLOWED',
        error: `${method} is not allowed on ${url.split('?')[0]}: use ${allow.replace(', ', ' or ')}`,
      })
      assert.equal(svc.loggedEvents(), before)
    }
    const unknown = await send(svc, 'POST', '/log_decisions', { body: '{}', contentType: 'application/json' })
    assert.equal(unknown.statusCode, 404)
    // Paths that look like route patterns are only text (found by the fuzz test: /*a gave a 500).
    for (const url of ['/*a', '/:key', '/docs/*', '/*'])
      assert.equal((await send(svc, 'GET', url)).statusCode, 404, url)
  })

  it('serves the interactive docs as HTML with every asset from the service itself', async () => {
    const res = await send(svc, 'GET', '/docs')
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/html/)
    assert.doesNotMatch(res.text, /(src|href)="(https?:)?\/\//, 'no asset is loaded from another host')
    const assets = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string)
    assert.ok(assets.length > 0)
    for (const asset of assets) {
      const loaded = await send(svc, 'GET', asset)
      assert.equal(loaded.statusCode, 200, `${asset} is served`)
    }
  })

  it('serves Prometheus metrics in text format with banditjoin_ metrics', async () => {
    await postJson(svc, '/log_decision', decision('m-1'))
    const res = await send(svc, 'GET', '/metrics')
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain/)
    assert.match(res.text, /^# HELP banditjoin_/m)
    assert.match(res.text, /^# TYPE banditjoin_\w+ (counter|gauge|histogram)/m)
    assert.match(res.text, /^banditjoin_events_accepted_total\{type="decision"\} 1$/m)
  })

  it('counts refused requests by event type and reason in /metrics', async () => {
    await postJson(svc, '/log_reward', { key: 'm-1', reward: 'high' })
    await send(svc, 'POST', '/log_reward', { body: '{', contentType: 'application/json' })
    const res = await send(svc, 'GET', '/metrics')
    assert.match(
      res.text,
      /^banditjoin_events_refused_total\{type="reward",reason="BJ_ERR_INVALID_EVENT"\} 1$/m,
    )
    assert.match(
      res.text,
      /^banditjoin_events_refused_total\{type="reward",reason="BJ_ERR_MALFORMED_JSON"\} 1$/m,
    )
  })

  it('answers an unknown route with 404 and an error body', async () => {
    const res = await send(svc, 'GET', '/nope')
    assert.equal(res.statusCode, 404)
    assert.equal((res.json() as { ok: boolean }).ok, false)
  })
})
