import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads'
import type { LoggedEvent } from '../../src/engine/types.js'
import {
  type ChunkSource,
  type EventRow,
  readOnWorker,
  serveReplayReads,
} from '../../src/log/sqlite/replay-reader.js'
import { SqliteLog } from '../../src/log/sqlite/sqlite-log.js'
import { batch, Events, mixedEvents, openLog, scratchDir } from './fixtures.js'

/** A log on `dataDir` that reads every replay on the reader thread. */
function openReadingOnWorker(t: Parameters<typeof openLog>[0], dataDir: string): SqliteLog {
  const log = new SqliteLog({ dataDir, durability: 'process', replayReaderMinRows: 0 })
  t.after(() => log.close())
  return log
}

/**
 * Every kind of event, then overrides up to `rows` in all: 70,001 rows are seven full chunks of
 * 10,000 and a part (more than the reader may be ahead, so it waits), 20,000 two full chunks and
 * an empty one.
 */
function longLog(rows = 70_001): LoggedEvent[] {
  const events = new Events()
  const mixed = mixedEvents(events)
  const overrides = Array.from({ length: rows - mixed.length }, (_, i) =>
    events.override(`k${i}`, 300 + Math.floor(i / 3)),
  )
  return [...mixed, ...overrides]
}

for (const rows of [70_001, 20_000]) {
  test(`a replay read on its own thread gives what one read on the main thread gives, from any boundary (${rows} rows)`, async (t) => {
    const dataDir = scratchDir(t)
    const here = openLog(t, dataDir)
    const events = longLog(rows)
    await here.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events }))
    const newest = (events.at(-1) as LoggedEvent).insertMs
    const boundaries = [0, 101, 200, 301, 3633, newest, newest + 1]
    const readHere = boundaries.map((fromMs) => [...here.replayFrom(fromMs)])
    await here.close()
    const onWorker = openReadingOnWorker(t, dataDir)
    boundaries.forEach((fromMs, i) => {
      assert.deepEqual([...onWorker.replayFrom(fromMs)], readHere[i], `replayFrom(${fromMs})`)
    })
    assert.equal(readHere[0]?.length, events.length)
    assert.deepEqual(readHere.at(-1), [])
  })
}

test('a replay on its own thread stopped after its first event leaves the next replay whole', async (t) => {
  const log = openReadingOnWorker(t, scratchDir(t))
  const events = longLog()
  await log.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events }))
  for (const event of log.replayFrom(0)) {
    assert.equal(event.pos, 1)
    break
  }
  assert.equal([...log.replayFrom(0)].length, events.length)
})

test('a reader thread that cannot open the log makes the replay throw with its reason', (t) => {
  const missing = join(scratchDir(t), 'no-such-dir', 'banditjoin.db')
  assert.throws(() => [...readOnWorker(missing, 1)], /reading the log for replay failed: .+/)
})

test('a reader whose read fails posts what it read, then the error with its code, and closes its source and port', () => {
  const { port1, port2 } = new MessageChannel()
  const counters = new Int32Array(new SharedArrayBuffer(8))
  const row = (pos: number): EventRow => ({
    pos,
    insert_ms: pos,
    kind: 3,
    key: `k${pos}`,
    body: '{}',
    fingerprint: null,
  })
  let reads = 0
  let closed = false
  const source: ChunkSource = {
    read(fromPos) {
      reads++
      if (reads === 3) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })
      return Array.from({ length: 10_000 }, (_, i) => row(fromPos + i))
    },
    close() {
      closed = true
    },
  }
  // Two chunks and the error: fewer than the reader may be ahead, so this thread never waits.
  serveReplayReads({ path: 'unused', fromPos: 1, port: port2, counters }, () => source)
  const messages = [1, 2, 3].map(() => receiveMessageOnPort(port1)?.message)
  assert.deepEqual(
    messages.map((m) => ('keys' in m ? [m.keys.length, m.numbers[0]] : m)),
    [[10_000, 1], [10_000, 10_001], { error: 'disk I/O error', code: 'SQLITE_IOERR' }],
  )
  assert.equal(Atomics.load(counters, 0), 3)
  assert.ok(closed)
  assert.equal(receiveMessageOnPort(port1), undefined)
  port1.close()
})
