import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { bodyText, type EventBody, type LoggedEvent } from '../../src/engine/types.js'
import { kindOf, packBatch, unpackBatch } from '../../src/log/sqlite/packed-batch.js'
import type { CommitBatch } from '../../src/log/types.js'

/** Text of any code points (no lone surrogate: validation refuses those, and JSON.stringify escapes them). */
const textArb = fc.string({ unit: 'binary', maxLength: 40 })

/** A body as text, or as its UTF-8 bytes in a view of a larger buffer (as a batch checked on a worker gives it). */
const bodyArb: fc.Arbitrary<EventBody> = fc
  .tuple(textArb, fc.boolean())
  .map(([text, asBytes]) =>
    asBytes ? Buffer.from(`xx${text}yy`).subarray(2, 2 + Buffer.byteLength(text)) : text,
  )

const utf8Bytes = (text: EventBody) => (typeof text === 'string' ? Buffer.byteLength(text) : text.length)

const eventArb: fc.Arbitrary<Omit<LoggedEvent, 'pos' | 'insertMs'>> = fc.oneof(
  fc.record({
    type: fc.constant('decision' as const),
    key: textArb,
    body: bodyArb,
    deferred: fc.boolean(),
    fingerprint: textArb,
  }),
  fc.record({ type: fc.constant('reward' as const), key: textArb, body: bodyArb, reward: fc.double() }),
  fc.record({ type: fc.constantFrom('override' as const, 'activate' as const), key: textArb, body: bodyArb }),
)

const batchArb: fc.Arbitrary<CommitBatch> = fc
  .record({
    events: fc.array(eventArb, { maxLength: 30 }),
    records: fc.array(textArb, { maxLength: 10 }),
    deadLetters: fc.array(textArb, { maxLength: 5 }),
    timeMs: fc.nat(),
  })
  .map(({ events, records, deadLetters, timeMs }) => ({
    events: events.map((e, i) => ({ ...e, pos: i + 1, insertMs: timeMs + i }) as LoggedEvent),
    records: records.map((line, i) => ({ seq: i + 1, emittedMs: timeMs + i, line })),
    deadLetters: deadLetters.map((line, i) => ({ seq: i + 1, line })),
    checkpoint: { timeMs, recordSeq: records.length, deadLetterSeq: deadLetters.length },
    sinkPositions: [{ name: 'file', seq: 1, offset: 2, fileId: null }],
  }))

describe('a commit batch packed for the writer thread', () => {
  it('comes back as the same rows, records and dead letters, whatever the characters', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const packed = packBatch(batch)
        // Exactly the bytes written: no room left over crosses.
        const written = [
          ...batch.events.flatMap((e) => [e.key, e.body, e.type === 'decision' ? e.fingerprint : '']),
          ...batch.records.map((r) => r.line),
          ...batch.deadLetters.map((d) => d.line),
        ].reduce((sum, text) => sum + utf8Bytes(text), 0)
        assert.equal(packed.bytes.byteLength, written)
        // As postMessage moves it to the writer thread.
        const moved = structuredClone(packed, { transfer: [packed.bytes.buffer, packed.numbers.buffer] })
        assert.equal(packed.bytes.byteLength, 0)
        const unpacked = unpackBatch(moved)
        assert.deepEqual(
          unpacked.events,
          batch.events.map((e) => ({
            pos: e.pos,
            insertMs: e.insertMs,
            kind: kindOf(e),
            key: e.key,
            body: bodyText(e.body),
            fingerprint: e.type === 'decision' ? e.fingerprint : null,
          })),
        )
        assert.deepEqual(unpacked.records, batch.records)
        assert.deepEqual(unpacked.deadLetters, batch.deadLetters)
        assert.deepEqual(unpacked.checkpoint, batch.checkpoint)
        assert.deepEqual(unpacked.sinkPositions, batch.sinkPositions)
      }),
      { numRuns: 300 },
    )
  })

  it('carries characters of one to four UTF-8 bytes, and empty strings, at their places', () => {
    const texts = ['', 'a', 'é', '€', '😀', 'mixed é€😀 text']
    const events = texts.map(
      (text, i): LoggedEvent => ({
        type: 'decision',
        key: text,
        body: `{"k":"${text}"}`,
        deferred: false,
        fingerprint: text,
        pos: i + 1,
        insertMs: 5,
      }),
    )
    const batch: CommitBatch = {
      events,
      records: [{ seq: 1, emittedMs: 6, line: '😀' }],
      deadLetters: [{ seq: 1, line: '' }],
      checkpoint: { timeMs: 6, recordSeq: 1, deadLetterSeq: 1 },
      sinkPositions: [],
    }
    const unpacked = unpackBatch(packBatch(batch))
    assert.deepEqual(
      unpacked.events.map((e) => [e.key, e.body, e.fingerprint]),
      texts.map((text) => [text, `{"k":"${text}"}`, text]),
    )
    assert.deepEqual(unpacked.records, batch.records)
    assert.deepEqual(unpacked.deadLetters, batch.deadLetters)
  })
})
