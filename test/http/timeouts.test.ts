import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { HTTP_TIMEOUTS } from '../../src/http/timeouts.js'
import { postJson } from '../helpers/e2e-http.js'
import { postHead, RawConnection } from '../helpers/raw-http.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'
import { sleep } from '../kit/wait.js'

// The HTTP server's timeouts are set deliberately, so that slow-loris style clients
// (sending a head or a body byte by byte, or nothing at all) cannot hold connections; oversized
// heads are refused. Nothing a cut-off client sent is logged.
// Real time: the timeouts are Node's HTTP server's own, on real sockets.

const TEST_TIMEOUTS = { requestMs: 1500, headersMs: 800, idleMs: 2000, checkIntervalMs: 100 }

describe('HTTP timeouts and limits', () => {
  let svc: InProcessService
  let url: string
  before(async () => {
    svc = await startInProcess({}, { overrides: { httpTimeouts: TEST_TIMEOUTS } })
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    url = svc.service.address()
  })
  after(() => svc.close())

  /** Sends `text` one byte every `everyMs` until the server closes the connection; returns when it did. */
  async function dribble(connection: RawConnection, text: string, everyMs: number): Promise<number> {
    const started = Date.now()
    for (const byte of text) {
      if (connection.closed) break
      connection.write(byte)
      await sleep(everyMs)
    }
    await connection.waitForClose(5000)
    return Date.now() - started
  }

  it('are set on the server as documented, none left at a default of "never"', async () => {
    const plain = await startInProcess()
    try {
      const server = plain.service.app.server
      assert.equal(server.requestTimeout, HTTP_TIMEOUTS.requestMs)
      assert.equal(server.headersTimeout, HTTP_TIMEOUTS.headersMs)
      assert.equal(server.keepAliveTimeout, HTTP_TIMEOUTS.keepAliveMs)
      assert.equal(server.timeout, HTTP_TIMEOUTS.idleMs)
      assert.ok(HTTP_TIMEOUTS.headersMs <= HTTP_TIMEOUTS.requestMs)
      assert.ok(HTTP_TIMEOUTS.keepAliveMs > 60_000, 'longer than common load balancers keep idle connections')
      assert.ok(HTTP_TIMEOUTS.idleMs > 15_000, "longer than the tail's keep-alive interval")
    } finally {
      await plain.close()
    }
  })

  it('closes a connection whose head comes a byte at a time, with 408, after the head timeout', async () => {
    const before = svc.loggedEvents()
    const connection = await RawConnection.open(url)
    const body = JSON.stringify({ key: 'slow-head', action: 1, probability: 1, context: 1 })
    const tookMs = await dribble(connection, postHead('/log_decision', body.length) + body, 50)
    assert.ok(tookMs < TEST_TIMEOUTS.headersMs + 2000, `closed after ${tookMs} ms`)
    assert.match(connection.received(), /^(HTTP\/1\.1 408 |$)/)
    assert.equal(svc.loggedEvents(), before, 'nothing was logged')
  })

  it('closes a connection whose body comes a byte at a time, with 408, after the request timeout', async () => {
    const before = svc.loggedEvents()
    const connection = await RawConnection.open(url)
    const body = JSON.stringify({ key: 'slow-body', action: 1, probability: 1, context: 'x'.repeat(200) })
    connection.write(postHead('/log_decision', body.length))
    const tookMs = await dribble(connection, body, 50)
    assert.ok(tookMs >= TEST_TIMEOUTS.requestMs - 100, `closed after ${tookMs} ms`)
    assert.ok(tookMs < TEST_TIMEOUTS.requestMs + 2000, `closed after ${tookMs} ms`)
    assert.match(connection.received(), /^HTTP\/1\.1 408 /)
    assert.equal(svc.loggedEvents(), before, 'nothing was logged')
  })

  it('closes a connection that sends nothing', async () => {
    const connection = await RawConnection.open(url)
    const started = Date.now()
    await connection.waitForClose(TEST_TIMEOUTS.idleMs + 5000)
    const tookMs = Date.now() - started
    assert.ok(tookMs < TEST_TIMEOUTS.idleMs + 2000, `closed after ${tookMs} ms`)
  })

  it('refuses a head larger than 16 KiB with 431 and goes on serving', async () => {
    const connection = await RawConnection.open(url)
    connection.write(postHead('/log_decision', 2, { 'x-padding': 'p'.repeat(20_000) }))
    connection.write('{}')
    await connection.waitForClose()
    assert.match(connection.received(), /^HTTP\/1\.1 431 /)
    const ok = await postJson(url, '/log_decision', {
      key: 'after-431',
      action: 1,
      probability: 1,
      context: 1,
    })
    assert.equal(ok.status, 200, ok.text)
  })
})
