import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LoggedEvent } from '../../src/engine/types.js'
import type { SqliteLog } from '../../src/log/sqlite/sqlite-log.js'
import type { CompactOptions } from '../../src/log/types.js'
import { batch, deadLetterLines, Events, openLog, recordLines, scratchDir } from './fixtures.js'

/** Options that remove nothing; each test moves one boundary. */
const KEEP_ALL: CompactOptions = {
  eventsBeforeMs: Number.MIN_SAFE_INTEGER,
  recordsBeforeMs: Number.MIN_SAFE_INTEGER,
  recordBytesToKeep: Number.MAX_SAFE_INTEGER,
  keepRecordsFromSeq: 1,
  keepDeadLettersFromSeq: 1,
}

/** Ten events at 10, 20, ..., 100 ms (positions 1..10). */
function tenEvents(): LoggedEvent[] {
  const events = new Events()
  return Array.from({ length: 10 }, (_, i) => events.reward(`k${i}`, (i + 1) * 10, i))
}

const RECORD_BYTES = 20

/** A log with records 1..10 emitted at 100, 200, ..., 1000 ms, each 20 bytes (21 with newline). */
async function logWithRecords(log: SqliteLog): Promise<void> {
  await log.commit(
    batch(
      { timeMs: 1000, recordSeq: 10, deadLetterSeq: 0 },
      { records: recordLines(1, 10, (seq) => seq * 100, RECORD_BYTES) },
    ),
  )
}

const retainedSeqs = (log: SqliteLog) => log.readOutput('records', 0, 1000).map((r) => r.seq)
const eventPositions = (log: SqliteLog) => [...log.replayFrom(Number.MIN_SAFE_INTEGER)].map((e) => e.pos)

test('compaction with nothing to remove removes nothing', async (t) => {
  const log = openLog(t, scratchDir(t))
  await log.commit(batch({ timeMs: 100, recordSeq: 0, deadLetterSeq: 0 }, { events: tenEvents() }))
  await logWithRecords(log)
  assert.deepEqual(await log.compact(KEEP_ALL), { events: 0, records: 0, deadLetters: 0 })
  assert.equal(eventPositions(log).length, 10)
  assert.equal(retainedSeqs(log).length, 10)
})

test('compaction of an empty log removes nothing', async (t) => {
  const log = openLog(t, scratchDir(t))
  assert.deepEqual(
    await log.compact({ ...KEEP_ALL, eventsBeforeMs: 1e15, recordsBeforeMs: 1e15, recordBytesToKeep: 1 }),
    { events: 0, records: 0, deadLetters: 0 },
  )
})

test('compaction removes the events stamped before the boundary and keeps the rest', async (t) => {
  const dataDir = scratchDir(t)
  const log = openLog(t, dataDir)
  await log.commit(batch({ timeMs: 100, recordSeq: 0, deadLetterSeq: 0 }, { events: tenEvents() }))
  assert.equal((await log.compact({ ...KEEP_ALL, eventsBeforeMs: 50 })).events, 4)
  assert.deepEqual(eventPositions(log), [5, 6, 7, 8, 9, 10])
  assert.equal((await log.compact({ ...KEEP_ALL, eventsBeforeMs: 51 })).events, 1)
  assert.deepEqual(eventPositions(log), [6, 7, 8, 9, 10])
  await log.close()
  assert.deepEqual(eventPositions(openLog(t, dataDir)), [6, 7, 8, 9, 10])
})

test('compaction never removes the newest event, so positions keep increasing after a reopen', async (t) => {
  const dataDir = scratchDir(t)
  const log = openLog(t, dataDir)
  await log.commit(batch({ timeMs: 100, recordSeq: 0, deadLetterSeq: 0 }, { events: tenEvents() }))
  assert.equal((await log.compact({ ...KEEP_ALL, eventsBeforeMs: 1e15 })).events, 9)
  assert.deepEqual(eventPositions(log), [10])
  assert.equal((await log.compact({ ...KEEP_ALL, eventsBeforeMs: 1e15 })).events, 0)
  await log.close()
  const again = openLog(t, dataDir)
  assert.equal(again.nextPos, 11)
  assert.deepEqual(eventPositions(again), [10])
})

test('records emitted before the time boundary are removed, the others kept', async (t) => {
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  assert.equal((await log.compact({ ...KEEP_ALL, recordsBeforeMs: 550, keepRecordsFromSeq: 11 })).records, 5)
  assert.deepEqual(retainedSeqs(log), [6, 7, 8, 9, 10])
  assert.equal(log.firstRetainedRecordSeq(), 6)
  assert.equal((await log.compact({ ...KEEP_ALL, recordsBeforeMs: 700, keepRecordsFromSeq: 11 })).records, 1)
  assert.deepEqual(retainedSeqs(log), [7, 8, 9, 10])
})

test('records not yet written by every sink are kept even when old', async (t) => {
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  assert.equal((await log.compact({ ...KEEP_ALL, recordsBeforeMs: 1e15, keepRecordsFromSeq: 3 })).records, 2)
  assert.deepEqual(retainedSeqs(log), [3, 4, 5, 6, 7, 8, 9, 10])
  assert.equal((await log.compact({ ...KEEP_ALL, recordBytesToKeep: 1, keepRecordsFromSeq: 4 })).records, 1)
  assert.deepEqual(retainedSeqs(log), [4, 5, 6, 7, 8, 9, 10])
})

test('all records may go once every sink has written them, and the tail then starts at the next position', async (t) => {
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  assert.equal(
    (await log.compact({ ...KEEP_ALL, recordsBeforeMs: 1e15, keepRecordsFromSeq: 11 })).records,
    10,
  )
  assert.deepEqual(retainedSeqs(log), [])
  assert.equal(log.firstRetainedRecordSeq(), 11)
})

test('records whose bytes lie beyond the byte budget are removed, the newest kept', async (t) => {
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  const lineBytes = RECORD_BYTES + 1
  assert.equal(log.checkpoint.recordBytes, 10 * lineBytes)
  await log.compact({ ...KEEP_ALL, recordBytesToKeep: 3 * lineBytes, keepRecordsFromSeq: 11 })
  const kept = retainedSeqs(log)
  for (const seq of [8, 9, 10]) assert.ok(kept.includes(seq), `record ${seq} is within the budget`)
  for (const seq of [1, 2, 3, 4, 5, 6]) assert.ok(!kept.includes(seq), `record ${seq} is beyond the budget`)
})

test('the records retained never exceed OUTPUT_RETENTION_BYTES (budget of exactly three records)', async (t) => {
  // SPEC §4/§7: OUTPUT_RETENTION_BYTES is "how many bytes of emitted records stay available".
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  const lineBytes = RECORD_BYTES + 1
  await log.compact({ ...KEEP_ALL, recordBytesToKeep: 3 * lineBytes, keepRecordsFromSeq: 11 })
  assert.deepEqual(retainedSeqs(log), [8, 9, 10])
})

test('the stricter of the time and byte boundaries applies', async (t) => {
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  await log.compact({ ...KEEP_ALL, recordsBeforeMs: 950, recordBytesToKeep: 1e9, keepRecordsFromSeq: 11 })
  assert.deepEqual(retainedSeqs(log), [10], 'the time boundary is the stricter')

  const other = openLog(t, scratchDir(t))
  await logWithRecords(other)
  await other.compact({
    ...KEEP_ALL,
    recordsBeforeMs: 150,
    recordBytesToKeep: 2 * 21,
    keepRecordsFromSeq: 11,
  })
  const kept = retainedSeqs(other)
  assert.ok(kept.includes(9) && kept.includes(10), `${kept}`)
  assert.ok(
    kept.every((seq) => seq >= 8),
    `the byte boundary is the stricter: ${kept}`,
  )
})

test('dead letters before the oldest one a sink still needs are removed', async (t) => {
  const log = openLog(t, scratchDir(t))
  await log.commit(
    batch({ timeMs: 1, recordSeq: 0, deadLetterSeq: 5 }, { deadLetters: deadLetterLines(1, 5) }),
  )
  assert.equal((await log.compact({ ...KEEP_ALL, keepDeadLettersFromSeq: 4 })).deadLetters, 3)
  assert.deepEqual(
    log.readOutput('deadLetters', 0, 10).map((d) => d.line),
    ['{"dead":4}', '{"dead":5}'],
  )
})

test('readOutput pages through the retained records in order', async (t) => {
  const log = openLog(t, scratchDir(t))
  await log.commit(
    batch({ timeMs: 9, recordSeq: 25, deadLetterSeq: 0 }, { records: recordLines(1, 25, (s) => s) }),
  )
  const pages: number[][] = []
  for (let from = 1; ; ) {
    const page = log.readOutput('records', from, 10)
    if (page.length === 0) break
    pages.push(page.map((r) => r.seq))
    from = (page.at(-1)?.seq ?? 0) + 1
  }
  assert.deepEqual(
    pages.map((p) => [p[0], p.at(-1), p.length]),
    [
      [1, 10, 10],
      [11, 20, 10],
      [21, 25, 5],
    ],
  )
  const [record] = log.readOutput('records', 17, 1)
  assert.deepEqual(record, recordLines(17, 1, (s) => s)[0])
  assert.deepEqual(log.readOutput('records', 26, 10), [])
})

test('readOutput from before the oldest retained record starts at the oldest', async (t) => {
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  await log.compact({ ...KEEP_ALL, recordsBeforeMs: 450, keepRecordsFromSeq: 11 })
  assert.deepEqual(
    log.readOutput('records', 1, 3).map((r) => r.seq),
    [5, 6, 7],
  )
})

test('firstRetainedRecordSeq is the oldest retained record, or the next position when none is', async (t) => {
  const log = openLog(t, scratchDir(t))
  assert.equal(log.firstRetainedRecordSeq(), 1)
  await logWithRecords(log)
  assert.equal(log.firstRetainedRecordSeq(), 1)
  await log.compact({ ...KEEP_ALL, recordsBeforeMs: 250, keepRecordsFromSeq: 11 })
  assert.equal(log.firstRetainedRecordSeq(), 3)
})

test('sink positions round-trip through a reopen and a later commit replaces them', async (t) => {
  const dataDir = scratchDir(t)
  const log = openLog(t, dataDir)
  const file = { name: 'file:/tmp/out.jsonl', seq: 3, offset: 63, fileId: '2049:1234' }
  const stdout = { name: 'stdout', seq: 3, offset: 0, fileId: null }
  await log.commit(batch({ timeMs: 1, recordSeq: 3, deadLetterSeq: 0 }, { sinkPositions: [file, stdout] }))
  assert.deepEqual(log.sinkPosition(file.name), file)
  assert.equal(log.sinkPosition('file:/elsewhere'), undefined)
  await log.close()
  const again = openLog(t, dataDir)
  assert.deepEqual(again.sinkPosition(file.name), file)
  assert.deepEqual(again.sinkPosition('stdout'), stdout)
  const moved = { ...file, seq: 5, offset: 105 }
  await again.commit(batch({ timeMs: 2, recordSeq: 5, deadLetterSeq: 0 }, { sinkPositions: [moved] }))
  assert.deepEqual(again.sinkPosition(file.name), moved)
  assert.deepEqual(again.sinkPosition('stdout'), stdout)
})

test('a byte budget larger than every record keeps every record (regression: the oldest was dropped)', async (t) => {
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  await log.compact({ ...KEEP_ALL, recordBytesToKeep: 10 * (RECORD_BYTES + 1), keepRecordsFromSeq: 11 })
  assert.deepEqual(retainedSeqs(log), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})

test('one compaction removes at most maxRowsPerTable rows of a table; the next call goes on', async (t) => {
  const log = openLog(t, scratchDir(t))
  await logWithRecords(log)
  const everything = { ...KEEP_ALL, recordsBeforeMs: 1e15, keepRecordsFromSeq: 11, maxRowsPerTable: 4 }
  assert.equal((await log.compact(everything)).records, 4)
  assert.deepEqual(retainedSeqs(log), [5, 6, 7, 8, 9, 10])
  assert.equal((await log.compact(everything)).records, 4)
  assert.equal((await log.compact(everything)).records, 2)
  assert.deepEqual(retainedSeqs(log), [])
})
