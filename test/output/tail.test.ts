import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { type TestContext, test } from 'node:test'
import { BanditJoinError } from '../../src/errors.js'
import type { SqliteLog } from '../../src/log/sqlite/sqlite-log.js'
import { withSeq } from '../../src/output/format.js'
import { JoinedTail } from '../../src/output/tail.js'
import { sleep, waitFor } from '../kit/wait.js'
import { batch, openLog, recordLines, scratchDir } from '../log/fixtures.js'

function tailOn(t: TestContext, log: SqliteLog, pageSize = 10): JoinedTail {
  const tail = new JoinedTail(log, { maxBufferedBytes: 1 << 20, keepAliveMs: 15_000, pageSize })
  t.after(() => tail.close())
  return tail
}

/** A log with records 1..`count` emitted at 100, 200, ... ms. */
async function logWithRecords(t: TestContext, count: number): Promise<SqliteLog> {
  const log = openLog(t, scratchDir(t))
  await log.commit(
    batch(
      { timeMs: count * 100, recordSeq: count, deadLetterSeq: 0 },
      { records: recordLines(1, count, (s) => s * 100) },
    ),
  )
  return log
}

function refuses(fn: () => unknown, code: string, statusCode: number, ...fragments: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BanditJoinError)
    assert.equal(error.code, code)
    assert.equal(error.statusCode, statusCode)
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), error.message)
    return true
  })
}

test('without from, a subscription starts at the next position', async (t) => {
  assert.equal(tailOn(t, openLog(t, scratchDir(t))).startSeq(undefined), 1)
  assert.equal(tailOn(t, await logWithRecords(t, 5)).startSeq(undefined), 6)
})

test('from any retained position up to the next one is accepted as is', async (t) => {
  const tail = tailOn(t, await logWithRecords(t, 5))
  for (const from of [1, 2, 5, 6]) assert.equal(tail.startSeq(from), from)
})

test('from beyond the next position is refused with 400 naming both positions', async (t) => {
  const tail = tailOn(t, await logWithRecords(t, 5))
  refuses(() => tail.startSeq(7), 'BJ_ERR_BAD_POSITION', 400, 'from=7', 'next position 6')
  refuses(() => tail.startSeq(1_000_000), 'BJ_ERR_BAD_POSITION', 400)
  const empty = tailOn(t, openLog(t, scratchDir(t)))
  refuses(() => empty.startSeq(2), 'BJ_ERR_BAD_POSITION', 400, 'next position 1')
})

test('from older than the oldest retained record is refused with 410 naming the oldest', async (t) => {
  const log = await logWithRecords(t, 10)
  const tail = tailOn(t, log)
  await log.compact({
    eventsBeforeMs: 0,
    recordsBeforeMs: 450,
    recordBytesToKeep: 1e9,
    keepRecordsFromSeq: 11,
    keepDeadLettersFromSeq: 1,
  })
  assert.equal(log.firstRetainedRecordSeq(), 5)
  refuses(() => tail.startSeq(4), 'BJ_ERR_GONE', 410, 'from=4', 'oldest retained record 5')
  refuses(() => tail.startSeq(1), 'BJ_ERR_GONE', 410)
  assert.equal(tail.startSeq(5), 5)
  assert.equal(tail.startSeq(11), 11)
})

test('once every record has left the retention only the next position is accepted', async (t) => {
  const log = await logWithRecords(t, 3)
  const tail = tailOn(t, log)
  await log.compact({
    eventsBeforeMs: 0,
    recordsBeforeMs: 1e15,
    recordBytesToKeep: 1e9,
    keepRecordsFromSeq: 4,
    keepDeadLettersFromSeq: 1,
  })
  refuses(() => tail.startSeq(3), 'BJ_ERR_GONE', 410)
  assert.equal(tail.startSeq(4), 4)
  assert.equal(tail.startSeq(undefined), 4)
  refuses(() => tail.startSeq(5), 'BJ_ERR_BAD_POSITION', 400)
})

/** Reads the stream until it holds `count` newline-terminated lines. */
async function readLines(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  state: { text: string },
  count: number,
) {
  const decoder = new TextDecoder()
  while (state.text.split('\n').length - 1 < count) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`stream ended after ${JSON.stringify(state.text)}`)
    state.text += decoder.decode(value, { stream: true })
  }
  return state.text.split('\n').slice(0, count)
}

test('a subscriber gets the retained records from its position page by page, then new ones, each with its seq', async (t) => {
  const log = await logWithRecords(t, 5)
  const tail = tailOn(t, log, 2)
  const server = createServer((_request, response) => {
    void tail.subscribe(response, tail.startSeq(2))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as AddressInfo
  const response = await fetch(`http://127.0.0.1:${port}/joined`)
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('content-type'), 'application/x-ndjson')
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const state = { text: '' }
  const expected = (records: { seq: number; line: string }[]) => records.map((r) => withSeq(r.line, r.seq))

  const retained = log.readOutput('records', 2, 100)
  assert.deepEqual(await readLines(reader, state, 4), expected(retained))

  const fresh = recordLines(6, 2, (s) => s * 100)
  await log.commit(batch({ timeMs: 700, recordSeq: 7, deadLetterSeq: 0 }, { records: fresh }))
  tail.publish(fresh)
  assert.deepEqual(await readLines(reader, state, 6), expected([...retained, ...fresh]))
  assert.deepEqual(
    (await readLines(reader, state, 6)).map((line) => (JSON.parse(line) as { seq: number }).seq),
    [2, 3, 4, 5, 6, 7],
  )
  assert.equal(tail.subscribers, 1)
  await reader.cancel()
})

test('a subscriber that never reads is disconnected once more than maxBufferedBytes wait for it', async (t) => {
  const log = openLog(t, scratchDir(t))
  const tail = new JoinedTail(log, { maxBufferedBytes: 256 * 1024, keepAliveMs: 15_000, pageSize: 10 })
  t.after(() => tail.close())
  let closedOnServer = false
  const server = createServer((_request, response) => {
    response.on('close', () => {
      closedOnServer = true
    })
    void tail.subscribe(response, tail.startSeq(undefined))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  t.after(() => client.destroy())
  client.pause()
  client.write('GET /joined HTTP/1.1\r\nhost: x\r\n\r\n')
  await waitFor('the subscription', () => tail.subscribers > 0)
  // 1 MiB at a time; the kernel's socket buffers take a few MiB before the tail's own buffer grows.
  let seq = 0
  while (tail.subscribers > 0 && seq < 256) {
    const records = recordLines(seq + 1, 16, (s) => s).map((r) => ({
      ...r,
      line: `{"x":"${'y'.repeat(65_536)}"}`,
    }))
    seq += records.length
    tail.publish(records)
    // Real socket: the writes reach the kernel's buffers (and fill them) in real time.
    await sleep(5)
  }
  assert.equal(tail.subscribers, 0, `still subscribed after ${seq} records of 64 KiB`)
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(closedOnServer, 'the response was destroyed')
})
