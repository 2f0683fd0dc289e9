import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import type { LoggedEvent } from '../../src/engine/types.js'
import { readOnWorker } from '../../src/log/sqlite/replay-reader.js'
import { SqliteLog } from '../../src/log/sqlite/sqlite-log.js'
import { batch, Events, mixedEvents, openLog, scratchDir } from './fixtures.js'

/** A log on `dataDir` that reads every replay on the reader thread. */
function openReadingOnWorker(t: Parameters<typeof openLog>[0], dataDir: string): SqliteLog {
  const log = new SqliteLog({ dataDir, durability: 'process', replayReaderMinRows: 0 })
  t.after(() => log.close())
  return log
}

/** Every kind of event, then enough overrides for two full chunks of 10,000 rows and a part. */
function longLog(): LoggedEvent[] {
  const events = new Events()
  const mixed = mixedEvents(events)
  const overrides = Array.from({ length: 25_001 }, (_, i) =>
    events.override(`k${i}`, 300 + Math.floor(i / 3)),
  )
  return [...mixed, ...overrides]
}

test('a replay read on its own thread gives what one read on the main thread gives, from any boundary', async (t) => {
  const dataDir = scratchDir(t)
  const here = openLog(t, dataDir)
  const events = longLog()
  await here.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events }))
  const boundaries = [0, 101, 200, 301, 3633, 8634, 9000]
  const readHere = boundaries.map((fromMs) => [...here.replayFrom(fromMs)])
  await here.close()
  const onWorker = openReadingOnWorker(t, dataDir)
  boundaries.forEach((fromMs, i) => {
    const replayed = [...onWorker.replayFrom(fromMs)]
    assert.deepEqual(replayed, readHere[i], `replayFrom(${fromMs})`)
  })
  assert.equal(readHere[0]?.length, events.length)
  assert.deepEqual(readHere.at(-1), [])
})

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

test('a reader thread that cannot read the log makes the replay throw with its reason', (t) => {
  const missing = join(scratchDir(t), 'no-such-dir', 'banditjoin.db')
  assert.throws(() => [...readOnWorker(missing, 1)], /reading the log for replay failed: .*/)
})
