/**
 * Where an owner starts reading a partition it has no checkpoint for: its first record. Decided
 * with two requests to the broker (the first record stamped at or after a time, and the end as a
 * fallback when there is none) while producers keep appending, it must never start past a
 * record: records written between the two requests were once skipped for good (acknowledged
 * decisions never emitted, their rewards dead-lettered as orphans).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Admin } from '@platformatic/kafka'
import type { FixedConsumer } from '../../src/kafka/client-fixes.js'
import { KafkaPartitionReader } from '../../src/kafka/partition-reader.js'

/** A partition's offsets as ListOffsets answers them; `afterEachRequest` runs once each request is answered. */
function listingAdmin(partition: { timestamps: number[] }, afterEachRequest: () => void): Admin {
  const listOffsets = async ({ topics }: { topics: { partitions: { timestamp: bigint }[] }[] }) => {
    const timestamp = Number(topics[0]?.partitions[0]?.timestamp)
    const { timestamps } = partition
    const offset = timestamp === -1 ? timestamps.length : timestamps.findIndex((t) => t >= timestamp)
    afterEachRequest()
    return [{ name: 'events', partitions: [{ partitionIndex: 0, offset: BigInt(offset) }] }]
  }
  return { listOffsets } as unknown as Admin
}

test('a partition empty at the first request and not at the second: start at its first record', async () => {
  const partition = { timestamps: [] as number[] }
  let requests = 0
  // Six records are appended right after the first request is answered, whichever it is.
  const admin = listingAdmin(partition, () => {
    if (++requests === 1) partition.timestamps.push(1000, 1001, 1001, 1001, 1001, 1001)
  })
  const reader = new KafkaPartitionReader(admin, {} as FixedConsumer, 'events', 0)
  assert.equal(await reader.offsetForTime(0), 0)
})

test('no record at or after the time: the end, as it was before the lookup', async () => {
  const partition = { timestamps: [1000, 1001] }
  let requests = 0
  const admin = listingAdmin(partition, () => {
    if (++requests === 1) partition.timestamps.push(5000)
  })
  const reader = new KafkaPartitionReader(admin, {} as FixedConsumer, 'events', 0)
  // The record appended meanwhile (at 5000) is found by the lookup itself.
  assert.equal(await reader.offsetForTime(2000), 2)
  const quiet = new KafkaPartitionReader(
    listingAdmin({ timestamps: [1000, 1001] }, () => {}),
    {} as FixedConsumer,
    'events',
    0,
  )
  assert.equal(await quiet.offsetForTime(2000), 2)
  assert.equal(await quiet.offsetForTime(1001), 1)
})
