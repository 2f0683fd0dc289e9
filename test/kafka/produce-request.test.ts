/**
 * The one-buffer Produce v11 writer gives byte for byte the request @platformatic/kafka's own
 * `produceV11.createRequest` builds, for generated messages (keys, values and headers present,
 * absent or empty; several topics and partitions; transactional or not; sequences), and the
 * library's reader reads back what was written, timestamps 2^31 ms apart or more included (where
 * the library's own writer is wrong). No Kafka needed; the cluster tests send through it.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type CreateRecordsBatchOptions,
  crc32c,
  type MessageRecord,
  NumericMap,
  ProduceAcks,
  produceV11,
  Reader,
  readRecordsBatch,
} from '@platformatic/kafka'
import fc from 'fast-check'
import { createProduceRequest } from '../../src/kafka/produce-request.js'

const bytes = fc.uint8Array({ maxLength: 300 }).map((array) => Buffer.from(array))
const maybeBytes = fc.option(bytes, { nil: undefined })
/** Topic names that are not integers: the library orders integer-like names first, and ours need not. */
const topic = fc.constantFrom('events', 'joined', 'dead-letters', 'ünïcode-topic')

const message = (baseMs: number, spreadMs: number) =>
  fc.record({
    topic,
    partition: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
    key: maybeBytes,
    value: maybeBytes,
    headers: fc.option(
      fc.array(fc.tuple(bytes, bytes), { maxLength: 3 }).map((pairs) => new Map(pairs)),
      {
        nil: undefined,
      },
    ),
    timestamp: fc.option(
      fc.integer({ min: 0, max: spreadMs }).map((ms) => BigInt(baseMs + ms)),
      { nil: undefined },
    ),
  })

const options = fc.record({
  transactionalId: fc.option(fc.constantFrom('banditjoin.events.3', ''), { nil: undefined }),
  producerId: fc.option(fc.bigInt({ min: 0n, max: 2n ** 40n }), { nil: undefined }),
  producerEpoch: fc.option(fc.integer({ min: 0, max: 32_000 }), { nil: undefined }),
  partitionLeaderEpoch: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
  sequences: fc.option(
    fc.dictionary(fc.constantFrom('events:0', 'events:1', 'joined:3'), fc.integer({ min: 0, max: 2 ** 30 })),
    { nil: undefined },
  ),
})

type GeneratedOptions = {
  transactionalId?: string | undefined
  producerId?: bigint | undefined
  producerEpoch?: number | undefined
  partitionLeaderEpoch?: number | undefined
  sequences?: Record<string, number> | undefined
}

function toOptions(generated: GeneratedOptions): Partial<CreateRecordsBatchOptions> {
  const { sequences, ...rest } = generated
  const result: Partial<CreateRecordsBatchOptions> = {}
  for (const [name, value] of Object.entries(rest))
    if (value !== undefined) Object.assign(result, { [name]: value })
  if (sequences !== undefined) result.sequences = new NumericMap(Object.entries(sequences))
  return result
}

/** Each side gets its own copies: both writers set missing partitions and timestamps on the messages. */
const copies = (messages: MessageRecord[]) => messages.map((m) => ({ ...m }))

describe('Produce v11 request written into one buffer', () => {
  it('is byte for byte the library request for generated messages', () => {
    const now = Date.now()
    fc.assert(
      fc.property(
        fc.array(message(now - 60_000, 120_000) as fc.Arbitrary<MessageRecord>, {
          minLength: 1,
          maxLength: 40,
        }),
        options,
        fc.constantFrom(ProduceAcks.ALL, ProduceAcks.LEADER, ProduceAcks.NO_RESPONSE),
        (messages, generated, acks) => {
          // Messages without a timestamp take the same "now" on both sides.
          const stamped = messages.map((m) => ({ ...m, timestamp: m.timestamp ?? BigInt(now) }))
          const ours = createProduceRequest(acks, 30_000, copies(stamped), toOptions(generated))
          const theirs = produceV11.createRequest(acks, 30_000, copies(stamped), toOptions(generated))
          assert.deepEqual(ours.buffer, theirs.buffer)
          assert.equal(ours.context.noResponse, theirs.context.noResponse)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('sets a missing partition and timestamp on the message, as the library does (a retry sends the same)', () => {
    const messages: MessageRecord[] = [{ topic: 'events', value: Buffer.from('v') }]
    const before = BigInt(Date.now())
    const first = createProduceRequest(ProduceAcks.ALL, 1000, messages, {}).buffer
    assert.equal(messages[0]?.partition, 0)
    assert.ok(typeof messages[0]?.timestamp === 'bigint' && messages[0].timestamp >= before)
    assert.deepEqual(createProduceRequest(ProduceAcks.ALL, 1000, messages, {}).buffer, first)
  })

  it('writes what the library reads back, timestamps 2^31 ms apart and more included, with a valid CRC', () => {
    const first = 1_000_000_000_000n
    const timestamps = [first, first + 2n ** 31n, first + 2n ** 40n + 7n, first + 1n]
    const messages: MessageRecord[] = timestamps.map((timestamp, i) => ({
      topic: 'joined',
      partition: 2,
      key: i === 1 ? undefined : Buffer.from(`key-${i}`),
      value: Buffer.from(`value-${i}`.repeat(i * 50)),
      headers: new Map([[Buffer.from('h'), Buffer.from(`${i}`)]]),
      timestamp,
    }))
    const request = createProduceRequest(ProduceAcks.ALL, 1000, messages, {
      transactionalId: 'tx',
      producerId: 42n,
      producerEpoch: 3,
      sequences: new NumericMap([['joined:2', 17]]),
    }).buffer
    const reader = Reader.from(request)
    assert.equal(reader.readString(), 'tx')
    assert.equal(reader.readInt16(), ProduceAcks.ALL)
    assert.equal(reader.readInt32(), 1000)
    assert.equal(reader.readUnsignedVarInt(), 2) // one topic
    assert.equal(reader.readString(), 'joined')
    assert.equal(reader.readUnsignedVarInt(), 2) // one partition
    assert.equal(reader.readInt32(), 2)
    const batchBytes = reader.readUnsignedVarInt() - 1
    const batchStart = reader.position
    const batch = readRecordsBatch(reader)
    assert.equal(reader.position - batchStart, batchBytes)
    assert.equal(batch.producerId, 42n)
    assert.equal(batch.producerEpoch, 3)
    assert.equal(batch.firstSequence, 17)
    assert.equal(batch.maxTimestamp, first + 2n ** 40n + 7n)
    assert.deepEqual(
      batch.records.map((r) => batch.firstTimestamp + r.timestampDelta),
      timestamps,
    )
    assert.deepEqual(
      batch.records.map((r) => String(r.value)),
      messages.map((m) => m.value.toString()),
    )
    assert.equal(batch.records[1]?.key, null)
    // The CRC covers the batch from its attributes (21 bytes in) to its end.
    const covered = request.subarray(batchStart + 21, batchStart + batchBytes)
    assert.equal(batch.crc, crc32c(covered))
    assert.equal(reader.readUnsignedInt8(), 0) // partition tagged fields
    assert.equal(reader.readUnsignedInt8(), 0) // topic tagged fields
    assert.equal(reader.readUnsignedInt8(), 0) // request tagged fields
    assert.equal(reader.remaining, 0)
  })

  it('leaves compressed batches to the library', () => {
    const messages: MessageRecord[] = [
      { topic: 'events', partition: 1, value: Buffer.from('x'.repeat(500)), timestamp: 5n },
    ]
    const ours = createProduceRequest(ProduceAcks.ALL, 1000, copies(messages), { compression: 'snappy' })
    const theirs = produceV11.createRequest(ProduceAcks.ALL, 1000, copies(messages), {
      compression: 'snappy',
    })
    assert.deepEqual(ours.buffer, theirs.buffer)
  })
})
