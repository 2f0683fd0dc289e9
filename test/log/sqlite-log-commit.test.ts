import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { test } from 'node:test'
import type { LoggedEvent } from '../../src/engine/types.js'
import type { SqliteLog } from '../../src/log/sqlite/sqlite-log.js'
import { isUncommittedAfterFailure } from '../../src/log/types.js'
import { waitFor } from '../kit/wait.js'
import {
  batch,
  deadLetterLines,
  Events,
  logged,
  mixedEvents,
  openLog,
  plain,
  recordLines,
  SETTINGS,
  scratchDir,
} from './fixtures.js'

/** The first event replayFrom(T) gives, without reading the rest. */
function firstFrom(log: SqliteLog, fromMs: number): LoggedEvent | undefined {
  for (const event of log.replayFrom(fromMs)) return event
  return undefined
}

test('a commit survives a reopen: checkpoint, next position and every event in order', async (t) => {
  const dataDir = scratchDir(t)
  const log = openLog(t, dataDir)
  const events = mixedEvents()
  const records = recordLines(1, 2, () => 150)
  const checkpoint = { timeMs: 150, recordSeq: 2, deadLetterSeq: 1 }
  await log.commit(batch(checkpoint, { events, records, deadLetters: deadLetterLines(1, 1) }))
  const recordBytes = records.reduce((sum, r) => sum + Buffer.byteLength(r.line) + 1, 0)
  assert.deepEqual(log.checkpoint, { ...checkpoint, recordBytes })
  assert.equal(log.nextPos, events.length + 1)
  await log.close()

  const again = openLog(t, dataDir)
  assert.deepEqual(again.checkpoint, { ...checkpoint, recordBytes })
  assert.equal(again.nextPos, events.length + 1)
  const replayed = logged(again)
  assert.deepEqual(plain(replayed), plain(events))
  assert.deepEqual(
    replayed.map((e) => e.type),
    ['decision', 'decision', 'reward', 'reward', 'override', 'activate', 'reward'],
  )
})

test('replay gives back the deferred flag, the fingerprint and the reward value and id', async (t) => {
  const dataDir = scratchDir(t)
  const first = openLog(t, dataDir)
  await first.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events: mixedEvents() }))
  await first.close()
  const replayed = [...openLog(t, dataDir).replayFrom(0)]
  const [plainDecision, deferredDecision, reward, rewardWithId] = replayed
  assert.ok(plainDecision?.type === 'decision' && deferredDecision?.type === 'decision')
  assert.equal(plainDecision.deferred, false)
  assert.equal(deferredDecision.deferred, true)
  assert.equal(plainDecision.fingerprint, 'fp-a')
  assert.equal(deferredDecision.fingerprint, 'fp-b')
  assert.ok(reward?.type === 'reward' && rewardWithId?.type === 'reward')
  assert.equal(reward.reward, 1.5)
  assert.equal(reward.id, undefined)
  assert.equal(rewardWithId.reward, -2)
  assert.equal(rewardWithId.id, 'retry-1')
  assert.equal(rewardWithId.body, '{"key":"a","reward":-2,"id":"retry-1"}')
})

test('commits append: positions continue where the last commit ended', async (t) => {
  const dataDir = scratchDir(t)
  const log = openLog(t, dataDir)
  const events = new Events()
  const first = [events.decision('a', 1), events.reward('a', 2, 1)]
  const second = [events.override('a', 3)]
  await log.commit(batch({ timeMs: 2, recordSeq: 0, deadLetterSeq: 0 }, { events: first }))
  assert.equal(log.nextPos, 3)
  await log.commit(batch({ timeMs: 3, recordSeq: 0, deadLetterSeq: 0 }, { events: second }))
  assert.equal(log.nextPos, 4)
  await log.commit(batch({ timeMs: 9, recordSeq: 0, deadLetterSeq: 0 }))
  assert.equal(log.nextPos, 4, 'a commit without events does not move the position')
  assert.equal(log.checkpoint.timeMs, 9)
  assert.deepEqual(plain(logged(log)), plain([...first, ...second]))
})

/** 1000 events in runs of three equal times, with gaps of 7 ms between runs. */
function stampedEvents(count: number, startPos = 1): LoggedEvent[] {
  const events = new Events(startPos)
  return Array.from({ length: count }, (_, i) => events.override(`k${i}`, 1000 + Math.floor(i / 3) * 7))
}

test('replayFrom(T) starts at the first event stamped at or after T, at every boundary', async (t) => {
  const log = openLog(t, scratchDir(t))
  const events = stampedEvents(1000)
  await log.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events }))
  const newest = (events.at(-1) as LoggedEvent).insertMs
  for (let fromMs = 990; fromMs <= newest + 3; fromMs++) {
    const expected = events.find((e) => e.insertMs >= fromMs)
    assert.equal(firstFrom(log, fromMs)?.pos, expected?.pos, `replayFrom(${fromMs})`)
  }
  assert.equal(firstFrom(log, Number.MIN_SAFE_INTEGER)?.pos, 1)
  assert.equal(firstFrom(log, Number.MAX_SAFE_INTEGER), undefined)
})

test('replayFrom(T) gives every event from the boundary to the newest, in order', async (t) => {
  const log = openLog(t, scratchDir(t))
  const events = stampedEvents(1000)
  await log.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events }))
  for (const fromMs of [0, 1000, 1001, 1007, 1500, 1504, 3331, 3332, 3333, 4000]) {
    const expected = events.filter((e) => e.insertMs >= fromMs).map((e) => e.pos)
    assert.deepEqual(
      [...log.replayFrom(fromMs)].map((e) => e.pos),
      expected,
      `replayFrom(${fromMs})`,
    )
  }
})

test('replay reads a long log in chunks and gives every event once, in order, across the chunk ends', async (t) => {
  // Replay reads 10,000 rows at a time: a log of 2 full chunks and a part, and one of exactly 2.
  for (const count of [25_001, 20_000]) {
    const log = openLog(t, scratchDir(t))
    const events = stampedEvents(count)
    await log.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events }))
    const replayed = [...log.replayFrom(0)].map((e) => e.pos)
    assert.equal(replayed.length, count)
    assert.ok(replayed.every((pos, i) => pos === (events[i] as LoggedEvent).pos))
  }
})

test('replayFrom(T) finds the boundary in a log of one event and after older events were compacted', async (t) => {
  const one = openLog(t, scratchDir(t))
  await one.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events: stampedEvents(1) }))
  assert.equal(firstFrom(one, 1000)?.pos, 1)
  assert.equal(firstFrom(one, 1001), undefined)

  const log = openLog(t, scratchDir(t))
  const events = stampedEvents(300)
  await log.commit(batch({ timeMs: 0, recordSeq: 0, deadLetterSeq: 0 }, { events }))
  await log.compact({
    eventsBeforeMs: 1350,
    recordsBeforeMs: 0,
    recordBytesToKeep: 1e9,
    keepRecordsFromSeq: 1,
    keepDeadLettersFromSeq: 1,
  })
  const oldest = firstFrom(log, 0)
  assert.equal(oldest?.insertMs, 1350)
  for (let fromMs = 1340; fromMs <= 1700; fromMs++) {
    const expected = events.find((e) => e.insertMs >= Math.max(fromMs, 1350))
    assert.equal(firstFrom(log, fromMs)?.pos, expected?.pos, `replayFrom(${fromMs}) after compaction`)
  }
})

test('a failed commit throws and changes nothing, in memory or on disk', async (t) => {
  const dataDir = scratchDir(t)
  const log = openLog(t, dataDir)
  const events = new Events()
  const committed = [events.decision('a', 1), events.reward('a', 2, 1), events.override('b', 3)]
  const position = { name: 'file:/out', seq: 1, offset: 21, fileId: '1:2' }
  await log.commit(
    batch(
      { timeMs: 3, recordSeq: 1, deadLetterSeq: 0 },
      { events: committed, records: recordLines(1, 1, () => 3), sinkPositions: [position] },
    ),
  )
  const checkpoint = log.checkpoint
  const fresh = events.activate('c', 4)
  const duplicate = { ...(committed[1] as LoggedEvent) }
  await assert.rejects(() =>
    log.commit(
      batch(
        { timeMs: 99, recordSeq: 2, deadLetterSeq: 1 },
        {
          events: [fresh, duplicate],
          records: recordLines(2, 1, () => 99),
          deadLetters: deadLetterLines(1, 1),
          sinkPositions: [{ ...position, seq: 2, offset: 42 }],
        },
      ),
    ),
  )
  const unchanged = (l: SqliteLog) => {
    assert.deepEqual(l.checkpoint, checkpoint)
    assert.equal(l.nextPos, 4)
    assert.deepEqual(plain(logged(l)), plain(committed))
    assert.deepEqual(
      l.readOutput('records', 1, 10).map((r) => r.seq),
      [1],
    )
    assert.deepEqual(l.readOutput('deadLetters', 1, 10), [])
    assert.deepEqual(l.sinkPosition('file:/out'), position)
  }
  unchanged(log)
  await log.close()
  const again = openLog(t, dataDir)
  unchanged(again)
  await again.commit(batch({ timeMs: 4, recordSeq: 1, deadLetterSeq: 0 }, { events: [fresh] }))
  assert.equal(again.nextPos, 5)
})

test('a commit repeating a record position throws and keeps the record bytes', async (t) => {
  const log = openLog(t, scratchDir(t))
  await log.commit(
    batch({ timeMs: 1, recordSeq: 2, deadLetterSeq: 0 }, { records: recordLines(1, 2, () => 1) }),
  )
  const checkpoint = log.checkpoint
  assert.equal(checkpoint.recordBytes, 42)
  await assert.rejects(() =>
    log.commit(batch({ timeMs: 2, recordSeq: 3, deadLetterSeq: 0 }, { records: recordLines(2, 2, () => 2) })),
  )
  assert.deepEqual(log.checkpoint, checkpoint)
  assert.deepEqual(
    log.readOutput('records', 1, 10).map((r) => r.emittedMs),
    [1, 1],
  )
})

test('resetSettings drops the events but positions keep increasing, also after a reopen', async (t) => {
  const dataDir = scratchDir(t)
  const log = openLog(t, dataDir)
  await log.resetSettings(SETTINGS)
  const events = new Events()
  await log.commit(batch({ timeMs: 300, recordSeq: 0, deadLetterSeq: 0 }, { events: mixedEvents(events) }))
  const checkpoint = log.checkpoint
  const changed = { ...SETTINGS, expUnitMs: 20, rewardAgg: 'max' as const }
  await log.resetSettings(changed)
  assert.deepEqual([...log.replayFrom(0)], [])
  assert.equal(log.nextPos, 8)
  assert.deepEqual(log.checkpoint, checkpoint)
  await log.close()

  const again = openLog(t, dataDir)
  assert.deepEqual(again.recordedSettings, changed)
  assert.deepEqual([...again.replayFrom(0)], [])
  assert.equal(again.nextPos, 8)
  assert.deepEqual(again.checkpoint, checkpoint)
  await again.resetSettings(SETTINGS)
  await again.close()

  const third = openLog(t, dataDir)
  assert.equal(third.nextPos, 8, 'a reset of an empty log keeps the position')
  const next = events.decision('n', 400)
  await third.commit(batch({ timeMs: 400, recordSeq: 0, deadLetterSeq: 0 }, { events: [next] }))
  assert.deepEqual(plain(logged(third)), plain([next]))
  assert.equal(third.nextPos, 9)
})

test('the write-ahead log is copied into the database file beside the commits, not by them', async (t) => {
  const log = openLog(t, scratchDir(t))
  const sizeBefore = statSync(log.path).size
  // 4,000 decisions (about 400 KiB): far below the 16 MiB past which a commit checkpoints itself.
  const events = new Events()
  for (let i = 0; i < 20; i++) {
    const decisions = Array.from({ length: 200 }, (_, j) => events.decision(`k${i}-${j}`, i))
    await log.commit(batch({ timeMs: i, recordSeq: 0, deadLetterSeq: 0 }, { events: decisions }))
  }
  await waitFor(
    `the database file to grow 256 KiB past its ${sizeBefore} bytes`,
    () => statSync(log.path).size >= sizeBefore + 256 * 1024,
    5000,
  )
})

test('commits in flight behind a failed one are refused, those asked for after it was reported are not', async (t) => {
  const log = openLog(t, scratchDir(t))
  const events = new Events()
  const first = events.decision('a', 1)
  await log.commit(batch({ timeMs: 1, recordSeq: 0, deadLetterSeq: 0 }, { events: [first] }))
  const checkpoint = log.checkpoint
  // Both asked for at once: the first fails (a position already logged), the second is fine on its own.
  const failing = log.commit(
    batch({ timeMs: 2, recordSeq: 0, deadLetterSeq: 0 }, { events: [{ ...first, insertMs: 2 }] }),
  )
  const behind = events.decision('b', 3)
  const refused = log.commit(batch({ timeMs: 3, recordSeq: 0, deadLetterSeq: 0 }, { events: [behind] }))
  await assert.rejects(failing, (error: { code?: string }) => !isUncommittedAfterFailure(error))
  await assert.rejects(refused, (error: { code?: string }) => isUncommittedAfterFailure(error))
  assert.deepEqual(log.checkpoint, checkpoint)
  assert.deepEqual(plain(logged(log)), plain([first]))

  await log.commit(batch({ timeMs: 3, recordSeq: 0, deadLetterSeq: 0 }, { events: [behind] }))
  assert.deepEqual(plain(logged(log)), plain([first, behind]))
})
