import type { Admin } from '@platformatic/kafka'
import type { PartitionRecord } from '../join/partition-join.js'
import type { PartitionReader } from '../join/partition-recovery.js'
import type { FixedConsumer } from './client-fixes.js'

const FETCH_BYTES = 4 << 20
const CONTROL_BATCH = 1 << 5

/**
 * Reads one partition of the events topic by offset, outside the consumer group (fetch requests
 * to the partition's leader), for recovery and to fill a gap before the group's stream.
 */
export class KafkaPartitionReader implements PartitionReader {
  constructor(
    private readonly admin: Admin,
    private readonly consumer: FixedConsumer,
    private readonly topic: string,
    private readonly partition: number,
  ) {}

  async offsetForTime(timeMs: number): Promise<number> {
    // The end first: a record appended between the two requests is then either found by the
    // second or at or after this end. (The other way round, a partition empty at the first
    // request and not at the second answered an end past records never read.)
    const end = await this.endOffset()
    const at = await this.listOffset(BigInt(Math.max(0, Math.floor(timeMs))))
    // -1: no record stamped at or after timeMs; the end of the partition then.
    return at >= 0 ? at : end
  }

  /** The offset the next record will get. */
  endOffset(): Promise<number> {
    return this.listOffset(-1n)
  }

  async *read(from: number, to: number): AsyncIterable<readonly PartitionRecord[]> {
    let offset = from
    while (offset < to) {
      const batch: PartitionRecord[] = []
      let next = offset
      for (const recordBatch of await this.fetch(offset)) {
        next = Math.max(next, Number(recordBatch.firstOffset) + recordBatch.lastOffsetDelta + 1)
        // Transaction markers: only in a user's source topic written transactionally.
        if (recordBatch.attributes & CONTROL_BATCH) continue
        for (const record of recordBatch.records) {
          const recordOffset = Number(recordBatch.firstOffset + BigInt(record.offsetDelta))
          // A fetch answers whole batches: what lies before `offset` or from `to` on is not asked for.
          if (recordOffset < offset || recordOffset >= to) continue
          batch.push({
            offset: recordOffset,
            timestampMs: Number(recordBatch.firstTimestamp + record.timestampDelta),
            key: record.key?.length ? record.key.toString() : null,
            value: record.value?.length ? record.value.toString() : null,
          })
        }
      }
      if (next === offset)
        throw new Error(`no records at offset ${offset} of ${this.topic}/${this.partition}, below ${to}`)
      offset = next
      if (batch.length > 0) yield batch
    }
  }

  private async listOffset(timestamp: bigint): Promise<number> {
    const [listed] = await this.admin.listOffsets({
      topics: [{ name: this.topic, partitions: [{ partitionIndex: this.partition, timestamp }] }],
    })
    return Number(listed?.partitions[0]?.offset ?? -1n)
  }

  private async fetch(offset: number) {
    const metadata = await this.consumer.metadata({ topics: [this.topic] })
    const info = metadata.topics.get(this.topic)
    const response = await this.consumer.fetch({
      node: info?.partitions[this.partition]?.leader as number,
      maxBytes: FETCH_BYTES,
      topics: [
        {
          topicId: info?.id as string,
          partitions: [
            {
              partition: this.partition,
              fetchOffset: BigInt(offset),
              partitionMaxBytes: FETCH_BYTES,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            },
          ],
        },
      ],
    })
    return response.responses[0]?.partitions[0]?.records ?? []
  }
}
