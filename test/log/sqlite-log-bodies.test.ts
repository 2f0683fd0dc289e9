/**
 * The log is where a released decision's body comes from (the engine keeps none): read back by
 * position, and never compacted away while its decision can still be released.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { JoinEngine } from '../../src/engine/engine.js'
import { type DecisionRef, type LoggedEvent, replayHorizonMs } from '../../src/engine/types.js'
import { SqliteLog } from '../../src/log/sqlite/sqlite-log.js'
import { buildLog, endOf, settingsArb, stepsArb } from '../helpers/engine-arbitrary.js'
import { CollectingSink } from '../helpers/engine-events.js'
import { batch, Events, mixedEvents, openLog, scratchDir } from './fixtures.js'

test('bodiesAt gives the logged body of each committed position asked for, in one map', async (t) => {
  const log = openLog(t, scratchDir(t))
  const events = mixedEvents()
  await log.commit(batch({ timeMs: 200, recordSeq: 0, deadLetterSeq: 0 }, { events }))
  const bodies = log.bodiesAt([3, 1, 2, 99])
  assert.deepEqual(
    [...bodies].sort(([a], [b]) => a - b),
    [1, 2, 3].map((pos) => [pos, (events[pos - 1] as LoggedEvent).body]),
  )
  assert.equal(bodies.has(99), false, 'a position not in the log is left out')
  assert.equal(log.bodiesAt([]).size, 0)
})

test('bodiesAt reads a large cycle of releases in one statement', async (t) => {
  const log = openLog(t, scratchDir(t))
  const builder = new Events()
  const events = Array.from({ length: 40_000 }, (_, i) => builder.decision(`k${i}`, 100 + i))
  await log.commit(batch({ timeMs: 100, recordSeq: 0, deadLetterSeq: 0 }, { events }))
  const positions = events.map((e) => e.pos)
  const bodies = log.bodiesAt(positions)
  assert.equal(bodies.size, positions.length)
  assert.equal(bodies.get(40_000), (events.at(-1) as LoggedEvent).body)
})

test('compaction at checkpoint - replay horizon keeps the body of every decision released after the checkpoint', async () => {
  await fc.assert(
    fc.asyncProperty(settingsArb, stepsArb, fc.nat(1000), fc.nat(150), async (s, steps, cut, extra) => {
      const { events } = buildLog(steps)
      const endMs = endOf({ events, advanceBefore: [] }, extra)
      const dir = mkdtempSync(join(tmpdir(), 'banditjoin-bodies-'))
      const log = new SqliteLog({ dataDir: dir, durability: 'process' })
      try {
        // The engine has applied a prefix of the log and advanced to the checkpoint...
        const k = cut % (events.length + 1)
        const lo = k > 0 ? (events[k - 1] as LoggedEvent).insertMs : 0
        const hi = k < events.length ? (events[k] as LoggedEvent).insertMs : endMs
        const checkpointMs = lo + (cut % (hi - lo + 1))
        const sink = new CollectingSink()
        const engine = new JoinEngine(s, sink)
        for (const event of events.slice(0, k)) engine.apply(event)
        engine.advanceTo(checkpointMs)
        await log.commit(batch({ timeMs: checkpointMs, recordSeq: 0, deadLetterSeq: 0 }, { events }))
        // ...the log is compacted as the embedded maintenance does (all at once here)...
        await log.compact({
          eventsBeforeMs: checkpointMs - replayHorizonMs(s),
          recordsBeforeMs: Number.MIN_SAFE_INTEGER,
          recordBytesToKeep: Number.MAX_SAFE_INTEGER,
          keepRecordsFromSeq: 1,
          keepDeadLettersFromSeq: 1,
        })
        // ...and every decision released from then on is still there to be read back.
        const before = sink.outputs.length
        for (const event of events.slice(k)) engine.apply(event)
        engine.advanceTo(endMs)
        const released = sink.outputs.slice(before).flatMap((o): DecisionRef[] => {
          if (o.kind === 'record') return [o.record.decision]
          const { event } = o.deadLetter
          return 'body' in event ? [] : [event]
        })
        const bodies = log.bodiesAt(released.map((d) => d.pos))
        for (const d of released) {
          const logged = events.find((e) => e.pos === d.pos)
          assert.equal(bodies.get(d.pos), logged?.body, `the body of the decision at ${d.pos}`)
        }
      } finally {
        await log.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }),
    { numRuns: 60, seed: 20261206 },
  )
})
