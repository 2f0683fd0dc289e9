import assert from 'node:assert/strict'
import { isUtf8 } from 'node:buffer'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { RawConnection } from '../helpers/raw-http.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'
import { sleep } from '../kit/wait.js'

// Property-based fuzzing of every route. Whatever arrives (random bytes, truncated or
// hostile JSON, odd methods, paths, query strings and content types), the answer is a documented
// status with the API's JSON body, nothing is logged unless it is a 200, and the service never
// crashes or hangs. Each property's inputs are counted and reported.

const SEED = Number(process.env.BANDITJOIN_FUZZ_SEED ?? 20_251_126)
const POST_ROUTES = [
  '/log_decision',
  '/log_reward',
  '/override_decision',
  '/activate_decision',
  '/log_override',
  '/events',
] as const
/** Every status the API documents for a request that reaches an ingest route. */
const INGEST_STATUSES = new Set([200, 400, 409, 413, 415, 422])
const CONTENT_TYPES = [
  'application/json',
  'application/x-ndjson',
  'application/ndjson',
  'application/json; charset=utf-8',
  'text/plain',
  'multipart/form-data; boundary=x',
  undefined,
]

interface Answer {
  status: number
  body: string
  headers: Record<string, unknown>
}

const validDecision = (key: string) => ({ key, action: 'a', probability: 0.5, context: { user: 1 } })

/** The valid body of each route, for mutations; /events gets NDJSON lines. */
function validBody(route: string, key: string): string {
  switch (route) {
    case '/log_decision':
      return JSON.stringify(validDecision(key))
    case '/log_reward':
      return JSON.stringify({ key, reward: 1, id: 'r1' })
    case '/events':
      return `${JSON.stringify({ type: 'decision', ...validDecision(key) })}\n${JSON.stringify({ type: 'reward', key, reward: 2 })}\n`
    default:
      return JSON.stringify({ key })
  }
}

/** Hostile fragments spliced into valid bodies. */
const HOSTILE_VALUES = [
  'NaN',
  'Infinity',
  '-Infinity',
  '+1',
  '01',
  '.5',
  '1.',
  '0x1F',
  '1e',
  '-',
  '1e400',
  '-1e400',
  '-0',
  '0.0',
  '5e-324',
  '1e-400',
  `1${'0'.repeat(400)}`,
  `0.${'0'.repeat(400)}1`,
  '9007199254740993',
  'null',
  'true',
  '[]',
  '{}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{}}}',
  '{"a":{"__proto__":1}}',
  '"\\ud800"',
  '"\\u0000"',
  '"\\\\"',
  `"${'x'.repeat(70_000)}"`,
  `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
  `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
]

const keyArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 8 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', ' ', '\u0000', '😀'.repeat(256)),
)

/** A body: random bytes, a random JSON value, or a valid body truncated, mutated or spliced with hostile text. */
function bodyArb(route: string): fc.Arbitrary<Buffer> {
  const valid = keyArb.map((key) => validBody(route, key))
  return fc.oneof(
    fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
    fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? '')),
    fc.tuple(valid, fc.nat()).map(([text, cut]) => Buffer.from(text.slice(0, cut % (text.length + 1)))),
    fc.tuple(valid, fc.nat(), fc.constantFrom(...HOSTILE_VALUES)).map(([text, at, hostile]) => {
      // Replace the value after one of the colons with the hostile text.
      const colons = [...text.matchAll(/:/g)].map((m) => m.index as number)
      const colon = colons[at % Math.max(1, colons.length)] ?? 0
      const end = text.slice(colon + 1).search(/[,}]/)
      return Buffer.from(`${text.slice(0, colon + 1)}${hostile}${end < 0 ? '' : text.slice(colon + 1 + end)}`)
    }),
    fc.tuple(valid, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([text, at, bytes]) => {
      // Bytes that are not UTF-8 (or are) in the middle of the text, e.g. inside a string.
      const position = at % (text.length + 1)
      return Buffer.concat([
        Buffer.from(text.slice(0, position)),
        Buffer.from(bytes),
        Buffer.from(text.slice(position)),
      ])
    }),
    valid.map((text) => Buffer.from(text.replace('{', '{"key":"first",'))),
  )
}

describe('fuzzing every route (fast-check)', () => {
  let svc: InProcessService
  const counts: Record<string, number> = {}
  before(async () => {
    svc = await startInProcess({ MAX_CONTEXT_BYTES: '65536' })
  })
  after(async () => {
    await svc.close()
  })

  async function inject(method: string, url: string, headers: Record<string, string>, body?: Buffer) {
    const res = await svc.service.app.inject({
      method: method as 'POST',
      url,
      headers,
      ...(body === undefined ? {} : { payload: body }),
    })
    return { status: res.statusCode, body: res.body, headers: res.headers } satisfies Answer
  }

  /** The API's own body: {"ok": true, ...} for a 200, exactly {"ok": false, "code": "BJ_ERR_...", "error": "..."} otherwise. */
  function assertApiBody(answer: Answer, context: string): void {
    const body = JSON.parse(answer.body) as Record<string, unknown>
    if (answer.status === 200) {
      assert.equal(body.ok, true, context)
      return
    }
    assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'ok'], context)
    assert.equal(body.ok, false, context)
    assert.match(String(body.code), /^BJ_ERR_[A-Z_]+$/, context)
    assert.ok(typeof body.error === 'string' && body.error.length > 0, context)
  }

  async function check(
    name: string,
    property: fc.IAsyncPropertyWithHooks<never> | fc.IAsyncProperty<never>,
    numRuns: number,
  ) {
    await fc.assert(property as fc.IAsyncProperty<unknown[]>, { numRuns, seed: SEED })
    counts[name] = numRuns
  }

  it('answers every ingest route a documented status, and logs only what it answers 200', async () => {
    const arb = fc.constantFrom(...POST_ROUTES).chain((route) =>
      fc.record({
        route: fc.constant(route),
        contentType: fc.constantFrom(...CONTENT_TYPES),
        body: bodyArb(route),
        query: fc.option(keyArb, { nil: undefined }),
      }),
    )
    await check(
      'ingest bodies',
      fc.asyncProperty(arb, async ({ route, contentType, body, query }) => {
        const url =
          route === '/log_override' && query !== undefined
            ? `${route}?key=${encodeURIComponent(query)}`
            : route
        const before = svc.loggedEvents()
        const answer = await inject(
          'POST',
          url,
          contentType === undefined ? {} : { 'content-type': contentType },
          body,
        )
        const context = `${url} ${contentType}: ${JSON.stringify(body.toString('latin1').slice(0, 300))} -> ${answer.status} ${answer.body.slice(0, 300)}`
        assert.ok(INGEST_STATUSES.has(answer.status), context)
        assertApiBody(answer, context)
        const logged = svc.loggedEvents() - before
        // Bytes that are not UTF-8 are refused, never read as U+FFFD.
        if (!isUtf8(body)) assert.notEqual(answer.status, 200, `not UTF-8, yet accepted: ${context}`)
        if (answer.status !== 200) assert.equal(logged, 0, `refused, yet logged: ${context}`)
        else {
          const ok = JSON.parse(answer.body) as { accepted?: number; duplicate?: boolean }
          const expected = route === '/events' ? ok.accepted : ok.duplicate ? 0 : 1
          assert.equal(logged, expected, context)
        }
      }) as never,
      4000,
    )
  })

  it('answers any method and path with the documented status, never a 5xx', async () => {
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'QUERY'] as const
    const paths = fc.oneof(
      fc.constantFrom(
        '/',
        '/healthz',
        '/readyz',
        '/metrics',
        '/stats',
        '/status',
        '/openapi.json',
        '/docs',
        '/docs/json',
        ...POST_ROUTES,
      ),
      fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)),
      fc.string({ maxLength: 50 }).map((s) => `/${encodeURIComponent(s)}`),
    )
    const arb = fc.record({
      method: fc.constantFrom(...methods),
      path: paths.filter((p) => !p.startsWith('/joined')),
      query: fc.webQueryParameters(),
      contentType: fc.constantFrom(...CONTENT_TYPES),
      body: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
    })
    await check(
      'methods and paths',
      fc.asyncProperty(arb, async ({ method, path, query, contentType, body }) => {
        const before = svc.loggedEvents()
        const url = query === '' ? path : `${path}?${query}`
        const headers: Record<string, string> =
          contentType === undefined ? {} : { 'content-type': contentType }
        const answer = await inject(method, url, headers, body && Buffer.from(body))
        const context = `${method} ${url} -> ${answer.status} ${answer.body.slice(0, 200)}`
        assert.ok(answer.status < 500, context)
        assert.ok([200, 400, 404, 405, 409, 413, 415, 422].includes(answer.status), context)
        if (answer.status !== 200) assert.equal(svc.loggedEvents(), before, context)
      }) as never,
      2000,
    )
  })

  it('answers GET /joined with any query a stream (200), 400, 410 or 422, never a 5xx', async () => {
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    const url = svc.service.address()
    const fromArb = fc.oneof(
      fc.integer({ min: -5, max: 1_000_000 }).map(String),
      fc.constantFrom('', '1e3', '1.5', '-0', 'NaN', '9'.repeat(400), '0x10', ' 1', '1 ', '%00', 'null'),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    )
    const arb = fc.record({
      from: fc.option(fromArb, { nil: undefined }),
      format: fc.option(
        fc.oneof(fc.constantFrom('json', 'dsjson', 'JSON', ''), fc.string({ maxLength: 10 })),
        {
          nil: undefined,
        },
      ),
    })
    await check(
      'GET /joined queries',
      fc.asyncProperty(arb, async ({ from, format }) => {
        const params = [
          from === undefined ? '' : `from=${from}`,
          format === undefined ? '' : `format=${encodeURIComponent(format)}`,
        ]
        const query = params.filter((p) => p !== '').join('&')
        const controller = new AbortController()
        const response = await fetch(`${url}/joined${query === '' ? '' : `?${query}`}`, {
          signal: controller.signal,
        })
        const context = `?${query} -> ${response.status}`
        if (response.status === 200) {
          assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/, context)
          controller.abort()
          return
        }
        assert.ok([400, 410, 422].includes(response.status), context)
        assertApiBody({ status: response.status, body: await response.text(), headers: {} }, context)
      }) as never,
      500,
    )
  })

  it('survives raw bytes and mangled request heads on a socket', async () => {
    const url = svc.service.address()
    const head =
      'POST /log_decision HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n'
    const arb = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, bytes]) => {
        const position = at % head.length
        return Buffer.concat([
          Buffer.from(head.slice(0, position)),
          Buffer.from(bytes),
          Buffer.from(head.slice(position)),
        ])
      }),
      fc
        .constantFrom(
          'GET / HTTP/9.9\r\n\r\n',
          'POST /events HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
          'POST /events HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello',
          'POST /events HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n',
          'POST /events HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n',
          `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
        )
        .map((text) => Buffer.from(text)),
    )
    await check(
      'raw request bytes',
      fc.asyncProperty(arb, async (bytes) => {
        const before = svc.loggedEvents()
        const connection = await RawConnection.open(url)
        try {
          connection.write(bytes)
          // Real socket: the server either answers or waits for more; an answer is never a 5xx.
          await sleep(20)
          const status = /^HTTP\/1\.1 (\d{3}) /.exec(connection.received())?.[1]
          if (status !== undefined)
            assert.ok(Number(status) < 500, `${JSON.stringify(bytes.toString('latin1'))} -> ${status}`)
        } finally {
          connection.destroy()
        }
        assert.equal(svc.loggedEvents(), before)
      }) as never,
      300,
    )
    const health = await fetch(`${url}/`)
    assert.equal(health.status, 200, 'the service still answers')
  })

  it('refuses the extremes (deep nesting, huge strings and numbers, tiny lines) with their documented status, quickly and logging nothing', async (t) => {
    const decision = (context: string) =>
      `{"key":"x-${Math.random()}","action":1,"probability":1,"context":${context}}`
    const cases: [string, string, string, number][] = [
      ['10,000 nested arrays', '/log_decision', decision(`${'['.repeat(10_000)}${']'.repeat(10_000)}`), 422],
      [
        '10,000 nested objects as the body',
        '/log_reward',
        `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
        422,
      ],
      ['a 1 MB key', '/log_reward', `{"key":"${'k'.repeat(1_000_000)}","reward":1}`, 422],
      ['a 10 MB context', '/log_decision', decision(`"${'x'.repeat(10_000_000)}"`), 413],
      ['a 17 MB body', '/events', 'x'.repeat(17_000_000), 413],
      ['a number of 5000 digits', '/log_reward', `{"key":"n","reward":${'9'.repeat(5000)}}`, 422],
      [
        'a 15 MB NDJSON line',
        '/events',
        `{"type":"decision",${decision(`"${'y'.repeat(15_000_000)}"`).slice(1)}`,
        413,
      ],
      ['16 million blank lines', '/events', '\n'.repeat(16_000_000), 200],
      ['5 million tiny lines', '/events', '{}\n'.repeat(5_000_000), 413],
      ['8 million one-byte lines', '/events', '1\n'.repeat(8_000_000), 413],
    ]
    for (const [what, route, body, status] of cases) {
      const before = svc.loggedEvents()
      const contentType = route === '/events' ? 'application/x-ndjson' : 'application/json'
      const started = performance.now()
      const answer = await inject('POST', route, { 'content-type': contentType }, Buffer.from(body))
      const ms = performance.now() - started
      assert.equal(answer.status, status, `${what}: ${answer.body.slice(0, 200)}`)
      assertApiBody(answer, what)
      assert.equal(svc.loggedEvents(), before, `${what}: nothing logged`)
      assert.ok(ms < 10_000, `${what} took ${ms.toFixed(0)} ms`)
    }
    counts.extremes = cases.length
    const total = Object.values(counts).reduce((a, b) => a + b, 0)
    t.diagnostic(`fuzzed inputs: ${total} (${JSON.stringify(counts)}), seed ${SEED} (BANDITJOIN_FUZZ_SEED)`)
  })
})
