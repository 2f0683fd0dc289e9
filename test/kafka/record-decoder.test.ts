/**
 * A catch-up's records decoded on the line-checking worker give, record by record, what the
 * owner's own decoder gives on the main thread: the same events, the same refusals, ticks left
 * as ticks; values that cannot be lines of one text, and a worker that stops, fall back to the
 * main thread. No Kafka needed: the records are made here.
 */

import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import { type IngestSettings, ingestLimits } from '../../src/config.js'
import { bodyText } from '../../src/engine/types.js'
import { invalidEvent } from '../../src/errors.js'
import type { CheckedBatch } from '../../src/ingest/batch.js'
import { type LineParserPool, startLineParser } from '../../src/ingest/line-parser-pool.js'
import { eventFromLine } from '../../src/ingest/validate.js'
import type { PartitionRecord } from '../../src/join/partition-join.js'
import { type Decoded, RecordDecoder } from '../../src/kafka/record-decoder.js'

const SETTINGS: IngestSettings = {
  maxContextBytes: Number.POSITIVE_INFINITY,
  maxFieldBytes: Number.POSITIVE_INFINITY,
  outputFormat: 'json',
  maxBatchEvents: Number.POSITIVE_INFINITY,
}
const limits = ingestLimits(SETTINGS)
const decode = (value: string) => eventFromLine(value, limits)

const VALUES: (string | null)[] = [
  '{"type":"decision","key":"d1","action":"a","probability":0.5,"context":{"b":1,"a":[2,3]}}',
  '{"type":"decision","key":"d2","action":2,"probability":1,"context":"x","deferred":true}',
  '{"type":"reward","key":"d1","reward":1.5,"id":"r1"}',
  '{"type":"override","key":"d2"}',
  '{"type":"activate","key":"d2"}',
  '{"type":"decision","key":"bad","probability":2}',
  'not json',
  '{"type":"reward","key":"d1"}',
  null,
]
/** Values a text of lines cannot carry as they are: the whole batch is decoded on the main thread. */
const NOT_LINES = ['{"type":"reward",\n"key":"d1","reward":1}', '   ', '\t']

const records = (values: readonly (string | null)[]): PartitionRecord[] =>
  values.map((value, offset) => ({ offset, timestampMs: 1000 + offset, key: null, value }))

/** What each record gives through `decode` on this thread: the rule the decoder must keep. */
function expected(batch: readonly PartitionRecord[]) {
  return batch.map(({ value }) => {
    if (value === null) return undefined
    try {
      return decode(value)
    } catch (error) {
      return { refused: (error as Error).message }
    }
  })
}

/** Errors by message, events with their bodies as text (the worker gives them as UTF-8 bytes). */
const comparable = (decoded: readonly Decoded[]) =>
  decoded.map((d) =>
    d instanceof Error ? { refused: d.message } : d === undefined ? d : { ...d, body: bodyText(d.body) },
  )

/** The pool, counting the texts sent to it. */
function counting(pool: LineParserPool) {
  const counter = { texts: 0 }
  const check: LineParserPool['check'] = (text, notUtf8) => {
    counter.texts++
    return pool.check(text, notUtf8)
  }
  return { counter, pool: Object.assign(Object.create(pool) as LineParserPool, { check }) }
}

const pools: LineParserPool[] = []
after(() => Promise.all(pools.map((pool) => pool.close())))

function startPool(): LineParserPool {
  const pool = startLineParser(SETTINGS, { minWorkerLength: 0 })
  pools.push(pool)
  return pool
}

describe('a batch of records decoded on the worker', () => {
  it('gives each record what the main thread gives it, ticks included', async () => {
    const { counter, pool } = counting(startPool())
    const decoder = new RecordDecoder(pool, decode)
    const batch = records(VALUES)
    assert.deepEqual(comparable(await decoder.decodeAll(batch)), expected(batch))
    assert.equal(counter.texts, 1, 'checked as one text')
  })

  it('for generated batches (a value with a newline or only blanks sends the batch to the main thread)', async () => {
    const { counter, pool } = counting(startPool())
    const decoder = new RecordDecoder(pool, decode)
    let sent = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...VALUES) }, fc.constantFrom(...NOT_LINES)),
          {
            maxLength: 30,
          },
        ),
        async (values) => {
          const before = counter.texts
          const batch = records(values)
          assert.deepEqual(comparable(await decoder.decodeAll(batch)), expected(batch))
          const asLines = values.every((v) => v === null || !NOT_LINES.includes(v))
          sent += counter.texts - before
          assert.equal(counter.texts - before, asLines ? 1 : 0)
        },
      ),
      { numRuns: 200 },
    )
    assert.ok(sent > 20, `${sent} batches went to the worker`)
  })

  /** Answers from a worker gone wrong: each must send the batch to the main thread. */
  const WRONG_ANSWERS: Record<string, (checked: CheckedBatch, lines: number) => CheckedBatch> = {
    "the last line's outcome lost": (checked, last) => ({
      events: checked.events.filter((_, i) => checked.lineOf[i] !== last),
      lineOf: checked.lineOf.filter((line) => line !== last),
      errors: checked.errors.filter((e) => e.line !== last),
    }),
    'every outcome one line late': (checked) => ({
      events: checked.events,
      lineOf: checked.lineOf.map((line) => line + 1),
      errors: checked.errors.map((e) => ({ ...e, line: e.line + 1 })),
    }),
    'an outcome past the last line': (checked, last) => ({
      ...checked,
      errors: [...checked.errors, { line: last + 1, error: invalidEvent('stray') }],
    }),
  }

  for (const [wrong, answer] of Object.entries(WRONG_ANSWERS)) {
    it(`falls back to the main thread when the worker's answer has ${wrong}`, async () => {
      const worker = startPool()
      const check: LineParserPool['check'] = async (text, notUtf8) =>
        answer(await worker.check(text, notUtf8), text.toString().split('\n').length)
      let decodedHere = 0
      const decoder = new RecordDecoder(
        Object.assign(Object.create(worker) as LineParserPool, { check }),
        (value) => {
          decodedHere++
          return decode(value)
        },
      )
      for (const values of [VALUES.slice(0, 3), VALUES.slice(5, 8)]) {
        const batch = records(values)
        decodedHere = 0
        assert.deepEqual(comparable(await decoder.decodeAll(batch)), expected(batch))
        assert.equal(decodedHere, values.length, 'every value decoded again on the main thread')
      }
    })
  }

  it('falls back to the main thread when the worker stops with the batch', async () => {
    const pool = startPool()
    const decoder = new RecordDecoder(pool, decode)
    const batch = records(Array.from({ length: 2000 }, (_, i) => VALUES[i % VALUES.length] as string | null))
    const decoding = decoder.decodeAll(batch)
    for (const worker of pool.workers()) await worker.terminate()
    assert.deepEqual(comparable(await decoding), expected(batch))
  })
})
