import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { secretMatcher } from '../../src/http/auth.js'
import {
  type Answer,
  assertAccepted,
  assertOk,
  assertRefused,
  decision,
  ndjson,
  postJson,
  send,
} from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'
import { waitFor } from '../kit/wait.js'

const KEY = 's3cret-Key'
const GOOD = { authorization: `Bearer ${KEY}` }

describe('API_KEY: requests need Authorization: Bearer <key>', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess({ API_KEY: KEY })
  })
  after(() => svc.close())

  const ingest: { name: string; request: (headers: Record<string, string>) => Promise<Answer> }[] = [
    {
      name: 'POST /log_decision',
      request: (headers) =>
        send(svc, 'POST', '/log_decision', {
          body: JSON.stringify(decision(`auth-${Math.random()}`)),
          contentType: 'application/json',
          headers,
        }),
    },
    {
      name: 'POST /log_reward',
      request: (headers) =>
        send(svc, 'POST', '/log_reward', {
          body: JSON.stringify({ key: 'auth', reward: 1 }),
          contentType: 'application/json',
          headers,
        }),
    },
    {
      name: 'POST /override_decision',
      request: (headers) =>
        send(svc, 'POST', '/override_decision', {
          body: '{"key": "auth"}',
          contentType: 'application/json',
          headers,
        }),
    },
    {
      name: 'POST /log_override?key=K',
      request: (headers) =>
        send(svc, 'POST', '/log_override?key=auth', { headers: { 'content-length': '0', ...headers } }),
    },
    {
      name: 'POST /activate_decision',
      request: (headers) =>
        send(svc, 'POST', '/activate_decision', {
          body: '{"key": "auth"}',
          contentType: 'application/json',
          headers,
        }),
    },
  ]

  const wrongHeaders: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['a wrong key', { authorization: 'Bearer nope' }],
    ['the key with one character changed', { authorization: `Bearer ${KEY.slice(0, -1)}z` }],
    ['the key without the Bearer scheme', { authorization: KEY }],
    ['Basic credentials', { authorization: `Basic ${Buffer.from(`user:${KEY}`).toString('base64')}` }],
  ]

  for (const { name, request } of ingest) {
    it(`refuses ${name} with 401 for every wrong credential, logging nothing`, async () => {
      for (const [, headers] of wrongHeaders) {
        await assertRefused(svc, () => request(headers), 401, /Authorization: Bearer/)
      }
    })

    it(`accepts ${name} with the right key`, async () => {
      await assertAccepted(svc, () => request(GOOD))
    })
  }

  it('answers 401 with WWW-Authenticate: Bearer (RFC 9110 §11.6.1)', async () => {
    for (const [, headers] of wrongHeaders) {
      const res = await assertRefused(
        svc,
        () => ingest[0]?.request(headers) as Promise<Answer>,
        401,
        /Bearer/,
      )
      assert.equal(res.headers['www-authenticate'], 'Bearer')
    }
    assert.equal((await send(svc, 'GET', '/metrics')).headers['www-authenticate'], 'Bearer')
  })

  it('takes the scheme in any case, and more than one space before the key (RFC 9110 §11.1)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      await assertAccepted(
        svc,
        () => ingest[1]?.request({ authorization: `${scheme} ${KEY}` }) as Promise<Answer>,
      )
    }
    await assertAccepted(
      svc,
      () => ingest[1]?.request({ authorization: `Bearer   ${KEY}` }) as Promise<Answer>,
    )
    for (const wrong of [`Bearer${KEY}`, `Bearer ${KEY.toUpperCase()}`, `Bearerx ${KEY}`]) {
      await assertRefused(
        svc,
        () => ingest[1]?.request({ authorization: wrong }) as Promise<Answer>,
        401,
        /Bearer/,
      )
    }
  })

  it('refuses POST /events with 401 without the key and accepts it with the key', async () => {
    const body = ndjson([{ type: 'reward', key: 'auth-batch', reward: 1 }])
    const batch = (headers: Record<string, string>) =>
      send(svc, 'POST', '/events', { body, contentType: 'application/x-ndjson', headers })
    for (const [, headers] of wrongHeaders) await assertRefused(svc, () => batch(headers), 401, /Bearer/)
    const before = svc.loggedEvents()
    assertOk(await batch(GOOD), { accepted: 1, duplicates: 0 })
    assert.equal(svc.loggedEvents(), before + 1)
  })

  it('checks the key before the body: malformed JSON without the key gets 401', async () => {
    await assertRefused(
      svc,
      () => send(svc, 'POST', '/log_reward', { body: '{oops', contentType: 'application/json' }),
      401,
      /Bearer/,
    )
  })

  it('protects GET /metrics', async () => {
    for (const [, headers] of wrongHeaders) {
      await assertRefused(svc, () => send(svc, 'GET', '/metrics', { headers }), 401, /Bearer/)
    }
    const res = await send(svc, 'GET', '/metrics', { headers: GOOD })
    assert.equal(res.statusCode, 200)
    assert.match(res.text, /banditjoin_/)
  })

  it('protects GET /joined', async () => {
    for (const [, headers] of wrongHeaders) {
      await assertRefused(svc, () => send(svc, 'GET', '/joined?from=1000', { headers }), 401, /Bearer/)
    }
    const authorized = await send(svc, 'GET', '/joined?from=1000', { headers: GOOD })
    assert.equal(authorized.statusCode, 400, 'past authorization, the position is checked')
  })

  it('keeps GET /, /healthz and /readyz public', async () => {
    for (const url of ['/', '/healthz', '/readyz']) assertOk(await send(svc, 'GET', url))
  })

  it('keeps the docs and the OpenAPI document public', async () => {
    for (const url of ['/openapi.json', '/docs', '/docs/json', '/docs/static/swagger-ui-bundle.js']) {
      const res = await send(svc, 'GET', url)
      assert.equal(res.statusCode, 200, `${url}: ${res.text.slice(0, 200)}`)
    }
  })

  it('declares the bearer security scheme in the OpenAPI document', async () => {
    const doc = (await send(svc, 'GET', '/openapi.json')).json() as {
      components?: { securitySchemes?: Record<string, { type: string; scheme?: string }> }
    }
    const schemes = Object.values(doc.components?.securitySchemes ?? {})
    assert.ok(schemes.some((s) => s.type === 'http' && s.scheme === 'bearer'))
  })
})

describe('API_KEY and what public pages show', () => {
  it('keeps the /readyz status public, and its reasons (paths, OS errors) behind the key', async (t) => {
    const svc = await startInProcess({ API_KEY: KEY, OUTPUT: 'file:/dev/full', EXP_UNIT_MS: '50' })
    t.after(() => svc.close())
    await assertAccepted(svc, () => postJson(svc, '/log_decision', decision('readyz-detail'), GOOD))
    await waitFor('the output write to fail', () => svc.service.metrics.health.notReady().length > 0, 5000)
    const anonymous = await send(svc, 'GET', '/readyz')
    assert.equal(anonymous.statusCode, 503)
    assert.deepEqual(anonymous.json(), {
      ok: false,
      code: 'BJ_ERR_NOT_READY',
      error: 'not ready (send the API key for the reasons)',
    })
    assert.doesNotMatch(anonymous.text, /dev\/full|ENOSPC/)
    const wrong = await send(svc, 'GET', '/readyz', { headers: { authorization: 'Bearer nope' } })
    assert.equal(wrong.statusCode, 503)
    assert.doesNotMatch(wrong.text, /dev\/full|ENOSPC/)
    const detailed = await send(svc, 'GET', '/readyz', { headers: GOOD })
    assert.equal(detailed.statusCode, 503)
    const body = detailed.json() as { not_ready: string[] }
    assert.match(body.not_ready[0] as string, /^output file:\/dev\/full: the last write failed: .*ENOSPC/)
  })

  it('sends /status with a Content-Security-Policy that allows only its own inline code, and X-Frame-Options', async (t) => {
    const svc = await startInProcess({ API_KEY: KEY })
    t.after(() => svc.close())
    const res = await send(svc, 'GET', '/status')
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-frame-options'], 'DENY')
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    const policy = String(res.headers['content-security-policy'])
    const directives = new Map(
      policy.split(';').map((d) => {
        const [name = '', ...values] = d.trim().split(/\s+/)
        return [name, values] as const
      }),
    )
    assert.deepEqual(directives.get('default-src'), ["'none'"])
    assert.deepEqual(directives.get('connect-src'), ["'self'"])
    assert.deepEqual(directives.get('frame-ancestors'), ["'none'"])
    // The page's one script and one style, each allowed by its hash, nothing else.
    for (const [directive, tag] of [
      ['script-src', 'script'],
      ['style-src', 'style'],
    ] as const) {
      const inline = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(res.text)?.[1] ?? ''
      const digest = createHash('sha256').update(inline).digest('base64')
      assert.deepEqual(directives.get(directive), [`'sha256-${digest}'`], directive)
    }
  })
})

describe('the API key check', () => {
  it('compares digests of equal length with crypto.timingSafeEqual, so no length or prefix shortens it', () => {
    const matches = secretMatcher(`Bearer ${KEY}`)
    assert.equal(matches(`Bearer ${KEY}`), true)
    for (const given of [
      '',
      'Bearer ',
      `Bearer ${KEY.slice(0, -1)}`,
      `Bearer ${KEY}x`,
      `bearer ${KEY}`,
      `Bearer ${KEY.toUpperCase()}`,
      `Bearer ${KEY}`.repeat(1000),
      `Bearer ${KEY}\u0000`,
      'Bearer 😀',
    ]) {
      assert.equal(matches(given), false, JSON.stringify(given.slice(0, 40)))
    }
    const source = secretMatcher.toString()
    assert.match(source, /timingSafeEqual/)
    assert.doesNotMatch(source, /length|===|!==/, 'no comparison that could stop early')
  })
})

describe('without API_KEY', () => {
  it('accepts requests without an Authorization header', async (t) => {
    const svc = await startInProcess()
    t.after(() => svc.close())
    await assertAccepted(svc, () =>
      send(svc, 'POST', '/log_decision', {
        body: JSON.stringify(decision('open')),
        contentType: 'application/json',
      }),
    )
    assert.equal((await send(svc, 'GET', '/metrics')).statusCode, 200)
  })
})
