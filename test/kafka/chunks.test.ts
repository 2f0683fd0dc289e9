/**
 * A send is split into produce requests whose record batches a broker with the default
 * `message.max.bytes` takes: checked on the bytes banditjoin's own request writer produces, for
 * generated messages down to the worst case (many empty records, timestamps far apart).
 */

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ProduceAcks, Reader, readRecordsBatch } from '@platformatic/kafka'
import fc from 'fast-check'
import {
  BROKER_MAX_BATCH_BYTES,
  chunksByBytes,
  MAX_REQUEST_BYTES,
  RECORD_FRAMING_BYTES,
} from '../../src/kafka/chunks.js'
import { createProduceRequest, RECORD_BATCH_HEADER_BYTES } from '../../src/kafka/produce-request.js'

interface Message {
  key?: string
  value?: string
}

/** The size of the one record batch of a request for one topic and partition, as the broker counts it. */
function batchBytes(messages: readonly Message[], timestamps: readonly bigint[]): number {
  const request = createProduceRequest(
    ProduceAcks.ALL,
    1000,
    messages.map((m, i) => ({
      topic: 't',
      partition: 0,
      ...(m.key !== undefined && { key: Buffer.from(m.key) }),
      ...(m.value !== undefined && { value: Buffer.from(m.value) }),
      timestamp: timestamps[i] as bigint,
    })) as Parameters<typeof createProduceRequest>[2],
  ).buffer
  const reader = Reader.from(request)
  reader.readString() // transactional id
  reader.readInt16()
  reader.readInt32()
  reader.readUnsignedVarInt() // topics
  reader.readString()
  reader.readUnsignedVarInt() // partitions
  reader.readInt32()
  const bytes = reader.readUnsignedVarInt() - 1
  const start = reader.position
  readRecordsBatch(reader)
  assert.equal(reader.position - start, bytes)
  return bytes
}

/** What the written batch adds to its keys and values is at most its header and RECORD_FRAMING_BYTES a record. */
function assertFramingWithinBound(chunk: readonly Message[]): void {
  const payload = chunk.reduce(
    (sum, m) => sum + Buffer.byteLength(m.key ?? '') + Buffer.byteLength(m.value ?? ''),
    0,
  )
  const framing = batchBytes(chunk, farApart(chunk.length)) - RECORD_BATCH_HEADER_BYTES - payload
  assert.ok(
    framing <= RECORD_FRAMING_BYTES * chunk.length,
    `${framing} bytes of framing for ${chunk.length} records`,
  )
}

/** Timestamps 2^40 ms apart: long timestamp deltas (6 bytes each). */
const farApart = (count: number) => Array.from({ length: count }, (_, i) => BigInt(i % 2) * 2n ** 40n)

test('a chunk of empty records, the most framing per byte, fits a broker batch', () => {
  const ticks: Message[] = Array.from({ length: 100_000 }, () => ({}))
  const chunks = chunksByBytes(ticks)
  assert.ok(chunks.length > 1, 'split even though the records carry no bytes')
  for (const chunk of chunks) {
    assert.ok(batchBytes(chunk, farApart(chunk.length)) <= BROKER_MAX_BATCH_BYTES)
    assertFramingWithinBound(chunk)
  }
})

test('chunks keep every message once, in order, each chunk within the limit and its batch within the broker’s', () => {
  const message = fc.record(
    {
      key: fc.string({ maxLength: 40, unit: 'binary' }),
      value: fc.oneof(
        fc.string({ maxLength: 400, unit: 'binary' }),
        fc.string({ minLength: 2000, maxLength: 4000 }),
      ),
    },
    { requiredKeys: [] },
  )
  let splits = 0
  fc.assert(
    fc.property(fc.array(message, { maxLength: 6000, size: 'max' }), (messages) => {
      const chunks = chunksByBytes(messages)
      assert.deepEqual(chunks.flat(), messages)
      for (const chunk of chunks) {
        assert.ok(chunk.length > 0)
        assert.ok(batchBytes(chunk, farApart(chunk.length)) <= BROKER_MAX_BATCH_BYTES)
        assertFramingWithinBound(chunk)
      }
      if (chunks.length > 1) splits++
    }),
    { numRuns: 12 },
  )
  assert.ok(splits > 3, `${splits} runs split`)
})

test('a message larger than the limit goes alone', () => {
  const big = { key: 'k', value: 'x'.repeat(MAX_REQUEST_BYTES) }
  assert.deepEqual(chunksByBytes([{ value: 'a' }, big, { value: 'b' }]), [
    [{ value: 'a' }],
    [big],
    [{ value: 'b' }],
  ])
})
