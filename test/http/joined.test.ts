import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { assertRefused, decision, postJson, send } from '../helpers/http-client.js'
import { openTail, seqs, type TailStream } from '../helpers/http-stream.js'
import { RawConnection } from '../helpers/raw-http.js'
import { type InProcessService, startInProcess, tempDir } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { sleep, waitFor } from '../kit/wait.js'

// Real sockets (the streams are read over HTTP): the sleeps below give a record that should not
// come, and would still be on its way over the loopback connection, the time to arrive.

const E = 1000
/** Long enough for a record still on its way over a loopback connection to arrive. */
const IN_TRANSIT_MS = 500

interface Started {
  svc: InProcessService
  clock: ManualClock
  url: string
  /** Logs decisions now and moves the clock past their due time; resolves once all are emitted. */
  emit(keys: string[]): Promise<void>
  tail(query: string): Promise<TailStream>
  /** Closes the streams and the service (once). */
  close(): Promise<void>
}

async function start(
  t: TestContext,
  env: Record<string, string> = {},
  options: { clock?: ManualClock; dataDir?: string } = {},
): Promise<Started> {
  const clock = options.clock ?? new ManualClock()
  const svc = await startInProcess(
    { EXP_UNIT_MS: String(E), ...env },
    { clock, ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }) },
  )
  const streams: TailStream[] = []
  const open = new Set<TailStream>()
  let closed: Promise<void> | undefined
  const close = () => {
    for (const stream of streams) stream.close()
    closed ??= svc.close()
    return closed
  }
  t.after(close)
  await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
  const url = svc.service.address()
  return {
    svc,
    clock,
    url,
    close,
    emit: async (keys) => {
      const before = svc.service.log.checkpoint.recordSeq
      for (const key of keys)
        assert.equal((await postJson(svc, '/log_decision', decision(key))).statusCode, 200)
      clock.advance(E)
      await waitFor('records emitted', () => svc.service.log.checkpoint.recordSeq >= before + keys.length)
    },
    tail: async (query) => {
      // Streams closed before are gone from the tail first, so the count below is this one's.
      const tail = svc.service.tail
      await waitFor('closed streams unsubscribed', () => tail.subscribers === open.size)
      const opened = openTail(`${url}/joined${query}`)
      const stream: TailStream = {
        ...opened,
        close: () => {
          open.delete(stream)
          opened.close()
        },
      }
      streams.push(stream)
      open.add(stream)
      // The request reached the tail (its headers may only come with the first line).
      await waitFor(`GET /joined${query} subscribed`, () => tail.subscribers === open.size)
      return stream
    },
  }
}

describe('GET /joined streams joined records with seq (SPEC §4)', () => {
  it('streams the retained records from `from` on as NDJSON, each with seq 1, 2, 3', async (t) => {
    const { svc, emit, tail } = await start(t)
    await emit(['a', 'b', 'c'])
    const stream = await tail('?from=1')
    const records = await stream.waitForRecords(3)
    const response = await stream.response
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/)
    assert.deepEqual(seqs(records), [1, 2, 3])
    assert.deepEqual(
      records.map(({ seq: _seq, ...rest }) => rest),
      svc.stdout.lines(),
      'the same records as the other outputs, plus seq',
    )
  })

  it('gives a consumer resuming from its last seq + 1 every record exactly once', async (t) => {
    const { emit, tail } = await start(t)
    await emit(['a', 'b'])
    const first = await tail('?from=1')
    const seen = seqs(await first.waitForRecords(2))
    first.close()
    await emit(['c', 'd'])
    const resumed = await tail(`?from=${(seen.at(-1) as number) + 1}`)
    seen.push(...seqs(await resumed.waitForRecords(2)))
    await emit(['e'])
    await resumed.waitForRecords(3)
    // Real sockets: a record sent twice would still be on its way over the connection.
    await sleep(IN_TRANSIT_MS)
    seen.push(...seqs(resumed.records()).slice(2))
    assert.deepEqual(seen, [1, 2, 3, 4, 5])
    assert.deepEqual(
      resumed.records().map((r) => r.key),
      ['c', 'd', 'e'],
    )
  })

  it('sends only new records when `from` is not given', async (t) => {
    const { emit, tail } = await start(t)
    await emit(['old-1', 'old-2'])
    const stream = await tail('')
    // Real socket: an old record sent by mistake would still be on its way.
    await sleep(50)
    assert.deepEqual(stream.records(), [])
    await emit(['new'])
    const records = await stream.waitForRecords(1)
    assert.deepEqual(
      records.map((r) => [r.seq, r.key]),
      [[3, 'new']],
    )
  })

  it('answers a subscriber at once with 200 and its headers, before any record is there to send', async (t) => {
    const { tail } = await start(t)
    for (const query of ['', '?from=1']) {
      const stream = await tail(query)
      // Real socket: a bound on the headers' arrival, not a wait for the service.
      const response = await Promise.race([stream.response, sleep(2000).then(() => undefined)])
      assert.ok(response, `GET /joined${query}: response headers arrive within 2 s, not with the first line`)
      assert.equal(response.status, 200)
      assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/)
    }
  })

  it('answers HEAD with the headers of the stream and ends, so a request pipelined after it is answered', async (t) => {
    // HEAD ran the streaming handler and never ended, even with Connection: close.
    const { emit, url } = await start(t)
    await emit(['a', 'b'])
    const pipelined = await RawConnection.open(url)
    t.after(() => pipelined.destroy())
    pipelined.write(
      'HEAD /joined?from=2 HTTP/1.1\r\nhost: banditjoin\r\n\r\nGET / HTTP/1.1\r\nhost: banditjoin\r\n\r\n',
    )
    const both = await pipelined.waitForText(
      /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nHTTP\/1\.1 200 [\s\S]*\{"ok":true\}$/,
    )
    const head = both.slice(0, both.indexOf('\r\n\r\n'))
    assert.match(head, /^banditjoin-from: 2$/im)
    assert.match(head, /^content-type: application\/x-ndjson$/im)
    const closing = await RawConnection.open(url)
    t.after(() => closing.destroy())
    closing.write('HEAD /joined HTTP/1.1\r\nhost: banditjoin\r\nconnection: close\r\n\r\n')
    await closing.waitForClose()
    assert.match(closing.received(), /^HTTP\/1\.1 200 [\s\S]*banditjoin-from: 3\r\n[\s\S]*\r\n\r\n$/i)
  })

  it('accepts from equal to the next position and streams from there', async (t) => {
    const { emit, tail } = await start(t)
    await emit(['a'])
    const stream = await tail('?from=2')
    await emit(['b'])
    assert.deepEqual(seqs(await stream.waitForRecords(1)), [2])
    assert.equal((await stream.response).status, 200)
  })

  it('feeds several live subscribers the same records in order', async (t) => {
    const { emit, tail } = await start(t)
    const one = await tail('?from=1')
    const two = await tail('')
    await emit(['a', 'b'])
    await emit(['c'])
    assert.deepEqual(seqs(await one.waitForRecords(3)), [1, 2, 3])
    assert.deepEqual(seqs(await two.waitForRecords(3)), [1, 2, 3])
  })

  it('refuses a `from` beyond the next position with 400', async (t) => {
    const { svc, emit } = await start(t)
    await assertRefused(
      svc,
      () => send(svc, 'GET', '/joined?from=2'),
      400,
      /from=2 is beyond the next position 1/,
    )
    await emit(['a', 'b'])
    await assertRefused(
      svc,
      () => send(svc, 'GET', '/joined?from=4'),
      400,
      /from=4 is beyond the next position 3/,
    )
  })

  it('refuses a `from` that is not a positive integer with a 4xx error', async (t) => {
    const { svc } = await start(t)
    for (const from of ['0', '-1', 'abc', '1.5']) {
      const res = await send(svc, 'GET', `/joined?from=${from}`)
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `from=${from}: ${res.statusCode}`)
      const body = res.json() as { ok: boolean; error: string }
      assert.equal(body.ok, false)
      assert.match(body.error, /from/)
    }
  })

  it('takes `from` as decimal digits only: hexadecimal, exponents, signs, spaces and fractions get 422', async (t) => {
    const { svc, emit, url } = await start(t)
    await emit(['a', 'b', 'c'])
    for (const from of ['0x2', '1e0', '+2', '%201', '1%20', '2.0', '', '0b1', '1_0']) {
      // Over a socket: a `from` taken as valid would start a stream that never ends.
      const res = await fetch(`${url}/joined?from=${from}`)
      if (res.status === 200) await res.body?.cancel()
      assert.equal(res.status, 422, `from=${from}`)
      const body = (await res.json()) as { code: string; error: string }
      assert.equal(body.code, 'BJ_ERR_INVALID_QUERY')
      assert.match(body.error, /^query parameter from must be decimal digits/)
    }
    // Leading zeros are still decimal digits: the position is checked, past the syntax.
    await assertRefused(svc, () => send(svc, 'GET', '/joined?from=0009'), 400, /from=9 is beyond/)
  })

  it('answers 410 for a `from` older than the retention (OUTPUT_RETENTION_MS)', async (t) => {
    const { svc, clock, emit, url, tail } = await start(t, { OUTPUT_RETENTION_MS: '1' })
    await emit(['a'])
    // Compaction runs every 10 s of service time, once the outputs have persisted their position.
    clock.advance(10_001)
    await waitFor('record 1 compacted away', () => svc.service.log.firstRetainedRecordSeq() === 2, 5000)
    await assertRefused(
      svc,
      () => send(svc, 'GET', '/joined?from=1'),
      410,
      /from=1 is older than the oldest retained record 2/,
    )
    const gone = await fetch(`${url}/joined?from=1`)
    assert.equal(gone.status, 410)
    await gone.body?.cancel()
    const stream = await tail('?from=2')
    await emit(['b'])
    assert.deepEqual(
      (await stream.waitForRecords(1)).map((r) => [r.seq, r.key]),
      [[2, 'b']],
    )
  })

  it('keeps seq and resumption exactly once across a restart of the service', async (t) => {
    const dir = tempDir()
    t.after(() => dir.remove())
    const clock = new ManualClock()
    const first = await start(t, {}, { clock, dataDir: dir.path })
    await first.emit(['a', 'b'])
    const stream = await first.tail('?from=1')
    const seen = seqs(await stream.waitForRecords(2))
    await first.close()

    clock.advance(1)
    const second = await start(t, {}, { clock, dataDir: dir.path })
    const resumed = await second.tail(`?from=${(seen.at(-1) as number) + 1}`)
    await second.emit(['c'])
    const records = await resumed.waitForRecords(1)
    assert.deepEqual(
      records.map((r) => [r.seq, r.key]),
      [[3, 'c']],
    )
    const replay = await second.tail('?from=1')
    assert.deepEqual(
      (await replay.waitForRecords(3)).map((r) => r.key),
      ['a', 'b', 'c'],
    )
  })
})
