import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { HTTP_TIMEOUTS } from '../../src/http/timeouts.js'
import { postJson } from '../helpers/e2e-http.js'
import { postHead, RawConnection } from '../helpers/raw-http.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'

// Requests Node's HTTP parser refuses before any route sees them are answered
// in the API's own shape, with a code, like every other refusal (docs/errors.md).

describe("requests Node's HTTP parser refuses", () => {
  let svc: InProcessService
  let url: string
  before(async () => {
    const httpTimeouts = { ...HTTP_TIMEOUTS, headersMs: 500, requestMs: 1000, checkIntervalMs: 100 }
    svc = await startInProcess({}, { overrides: { httpTimeouts } })
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    url = svc.service.address()
  })
  after(() => svc.close())

  const cases: [string, string, RegExp][] = [
    [
      'Content-Length together with Transfer-Encoding',
      'POST /log_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      /Transfer-Encoding can't be present with Content-Length/,
    ],
    ['an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', /HTTP\/2/],
    ['an unknown method', 'FROB / HTTP/1.1\r\nHost: x\r\n\r\n', /method/],
    ['a request line that is not HTTP', 'hello there\r\n\r\n', /malformed HTTP request/],
  ]
  for (const [name, bytes, pattern] of cases) {
    it(`answers ${name} with 400 and {"ok": false, "code", "error"}, then closes`, async () => {
      const before = svc.loggedEvents()
      const connection = await RawConnection.open(url)
      connection.write(bytes)
      const res = await connection.response()
      assert.equal(res.status, 400, connection.received())
      assert.match(res.headers['content-type'] ?? '', /^application\/json/)
      const body = JSON.parse(res.body) as Record<string, unknown>
      assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'ok'])
      assert.equal(body.ok, false)
      assert.equal(body.code, 'BJ_ERR_BAD_REQUEST')
      assert.match(String(body.error), pattern)
      await connection.waitForClose()
      assert.equal(svc.loggedEvents(), before, 'nothing was logged')
    })
  }

  it('answers a head over 16 KiB with 431 in the same shape, and goes on serving', async () => {
    const connection = await RawConnection.open(url)
    connection.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    const res = await connection.response()
    assert.equal(res.status, 431)
    const body = JSON.parse(res.body) as Record<string, unknown>
    assert.equal(body.ok, false)
    assert.equal(body.code, 'BJ_ERR_HEADERS_TOO_LARGE')
    assert.match(String(body.error), /16384 bytes/)
    await connection.waitForClose()
    const after = await postJson(url, '/log_reward', { key: 'after-client-error', reward: 1 })
    assert.equal(after.status, 200, after.text)
  })

  it('answers a body that does not arrive in time with 408 in the same shape', async () => {
    const connection = await RawConnection.open(url)
    connection.write(`${postHead('/log_reward', 100)}{`)
    const res = await connection.response(5000)
    assert.equal(res.status, 408)
    const body = JSON.parse(res.body) as Record<string, unknown>
    assert.equal(body.ok, false)
    assert.equal(body.code, 'BJ_ERR_REQUEST_TIMEOUT')
    assert.match(String(body.error), /did not arrive within 1000 ms/)
  })
})
