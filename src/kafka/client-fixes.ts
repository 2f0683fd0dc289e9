/**
 * Workarounds for what @platformatic/kafka 1.35.0 gets wrong or lacks, found by
 * test/kafka/client.test.ts (which shows each problem and that these fix it). Built only on the
 * library's public API; the Kafka mode can take them over as they are.
 *
 * 1. Consumed records carry the producer's CreateTime even on a LogAppendTime topic: the stream
 *    computes `firstTimestamp + timestampDelta` and ignores the batch's timestamp-type bit, where
 *    the broker's append time is the batch's maxTimestamp (as the Java client reads it).
 * 2. read_committed leaks aborted records: its filter keeps one aborted range per producer id in
 *    a Map, so when one fetch holds several aborted transactions of the same producer (a fenced
 *    zombie, or aborts in a row) all but the last reach the application.
 * 3. Stream mode 'committed' reads the group's offsets with requireStable=false: right after the
 *    previous owner's transaction commits, its offsets are still pending (the markers are written
 *    after EndTxn answers), so a new owner gets the older offset and processes records again
 *    (what KIP-447's requireStable prevents; the Java consumer sets it for read_committed).
 *    FixedConsumer fixes 1 and 2 in `fetch()` and 3 in `listCommittedOffsets()`, the public methods
 *    its MessagesStream calls.
 * 4. A transactional offset commit has no metadata string: use txnOffsetCommit() below.
 * 5. InitProducerId is sent with producerId 0 / epoch 0 instead of -1 / -1, so a second instance
 *    with the same transactionalId is refused (PRODUCER_FENCED) instead of fencing the first:
 *    give every transactional producer TRANSACTIONAL_PRODUCER_DEFAULTS.
 * Not fixed here: @platformatic/dynamic-buffer 0.3.1 encodes varlongs of 2^31 or more wrongly
 * (zigzag `>> 31n`, 32-bit size mask), so records of one produce batch whose explicit timestamps
 * lie 2^31 ms (24.8 days) or more apart get wrong timestamps. Decoding is right.
 */
import {
  type CallbackWithPromise,
  Consumer,
  type FetchOptions,
  type fetchV17,
  type ListCommitsOptions,
  type Offsets,
  offsetFetchV9,
  type Producer,
  txnOffsetCommitV4,
} from '@platformatic/kafka'

type FetchResponse = fetchV17.FetchResponse
/** The library does not export its Transaction class. */
type Transaction<K, V, HK, HV> = Awaited<ReturnType<Producer<K, V, HK, HV>['beginTransaction']>>

/** RecordBatch attributes (Kafka's DefaultRecordBatch). */
const LOG_APPEND_TIME = 1 << 3
const TRANSACTIONAL = 1 << 4
const CONTROL = 1 << 5

/** For `new Producer({ ..., transactionalId, ...TRANSACTIONAL_PRODUCER_DEFAULTS })`. */
export const TRANSACTIONAL_PRODUCER_DEFAULTS = {
  idempotent: true,
  producerId: -1n,
  producerEpoch: -1,
} as const

/** Sets every record of a LogAppendTime batch to the broker's append time (the batch's maxTimestamp). */
export function applyLogAppendTime(response: FetchResponse): void {
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      for (const batch of partition.records ?? []) {
        if ((batch.attributes & LOG_APPEND_TIME) === 0) continue
        batch.firstTimestamp = batch.maxTimestamp
        for (const record of batch.records) record.timestampDelta = 0n
      }
    }
  }
}

/**
 * Empties the data batches of aborted transactions, as the Java consumer decides it: a
 * transactional batch of producer P is aborted from the first aborted transaction of P whose first
 * offset it reaches, until P's abort marker. The batches stay (without records) so the stream
 * still moves its fetch offset past them.
 */
export function dropAbortedRecords(response: FetchResponse): void {
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      if (partition.records === undefined || partition.abortedTransactions.length === 0) continue
      const pending = [...partition.abortedTransactions].sort((a, b) =>
        a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
      )
      const aborting = new Set<bigint>()
      for (const batch of partition.records) {
        const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta)
        while (pending.length > 0 && (pending[0]?.firstOffset ?? 0n) <= lastOffset) {
          aborting.add((pending.shift() as { producerId: bigint }).producerId)
        }
        if (batch.attributes & CONTROL) {
          // Control record key: version (int16), type (int16; 0 = abort, 1 = commit).
          if (batch.records[0]?.key?.readInt16BE(2) === 0) aborting.delete(batch.producerId)
          continue
        }
        if (batch.attributes & TRANSACTIONAL && aborting.has(batch.producerId)) batch.records = []
      }
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Whether an error of the library carries a Kafka error code named `apiId`. */
export function hasKafkaError(error: unknown, apiId: string): boolean {
  const e = error as { findBy?: (property: string, value: unknown) => unknown }
  return typeof e?.findBy === 'function' && e.findBy('apiId', apiId) != null
}

/** A Consumer whose fetches and committed-offset reads (and so its streams) get fixes 1 to 3 above. */
export class FixedConsumer<
  Key = Buffer,
  Value = Buffer,
  HeaderKey = Buffer,
  HeaderValue = Buffer,
> extends Consumer<Key, Value, HeaderKey, HeaderValue> {
  override fetch(
    options: FetchOptions<Key, Value, HeaderKey, HeaderValue>,
    callback: CallbackWithPromise<FetchResponse>,
  ): void
  override fetch(options: FetchOptions<Key, Value, HeaderKey, HeaderValue>): Promise<FetchResponse>
  override fetch(
    options: FetchOptions<Key, Value, HeaderKey, HeaderValue>,
    callback?: CallbackWithPromise<FetchResponse>,
    // biome-ignore lint/suspicious/noConfusingVoidType: the library's own overloaded signature
  ): void | Promise<FetchResponse> {
    if (callback === undefined) {
      return new Promise((resolve, reject) => {
        this.fetch(options, (error, response) => (error ? reject(error) : resolve(response as FetchResponse)))
      })
    }
    super.fetch(options, (error, response) => {
      if (response !== undefined) {
        applyLogAppendTime(response)
        dropAbortedRecords(response)
      }
      callback(error, response)
    })
  }

  override listCommittedOffsets(options: ListCommitsOptions, callback: CallbackWithPromise<Offsets>): void
  override listCommittedOffsets(options: ListCommitsOptions): Promise<Offsets>
  override listCommittedOffsets(
    options: ListCommitsOptions,
    callback?: CallbackWithPromise<Offsets>,
    // biome-ignore lint/suspicious/noConfusingVoidType: the library's own overloaded signature
  ): void | Promise<Offsets> {
    const result = this.#stableCommittedOffsets(options)
    if (callback === undefined) return result
    result.then(
      (offsets) => callback(null, offsets),
      (error: Error) => callback(error),
    )
  }

  /** OffsetFetch with requireStable: pending transactional offsets answer UNSTABLE_OFFSET_COMMIT, retried. */
  async #stableCommittedOffsets(options: ListCommitsOptions): Promise<Offsets> {
    const topics = options.topics.map(({ topic, partitions }) => ({
      name: topic,
      partitionIndexes: partitions,
    }))
    for (let attempt = 1; ; attempt++) {
      try {
        const coordinatorId = await this.findGroupCoordinator()
        const connection = (await this.connectToBrokers([coordinatorId])).get(coordinatorId)
        if (connection === undefined)
          throw new Error(`no connection to the group coordinator ${coordinatorId}`)
        const response = await offsetFetchV9.api.async(
          connection,
          [{ groupId: this.groupId, memberId: this.memberId, memberEpoch: -1, topics }],
          true,
        )
        // The same shape as the library's: per topic, the offset at each partition's index (-1: none).
        const committed: Offsets = new Map()
        for (const group of response.groups) {
          for (const topic of group.topics) {
            const offsets: bigint[] = []
            for (const { partitionIndex, committedOffset } of topic.partitions)
              offsets[partitionIndex] = committedOffset
            committed.set(topic.name, offsets)
          }
        }
        return committed
      } catch (error) {
        const retriable =
          hasKafkaError(error, 'UNSTABLE_OFFSET_COMMIT') ||
          hasKafkaError(error, 'COORDINATOR_LOAD_IN_PROGRESS')
        if (!retriable || attempt >= 250) throw error
        await sleep(20)
      }
    }
  }
}

export interface TxnOffset {
  topic: string
  partition: number
  /** The next offset to consume (last processed + 1), as Kafka commits it. */
  offset: bigint
  metadata?: string | null
}

/**
 * Commits consumer offsets, each with an optional metadata string, inside the producer's open
 * transaction (the Java client's sendOffsetsToTransaction with group metadata): AddOffsetsToTxn
 * through the library, then TxnOffsetCommit v4 to the group coordinator. The member's generation
 * fences a member that lost its partitions (ILLEGAL_GENERATION), the producer epoch a zombie.
 */
export async function txnOffsetCommit<K, V, HK, HV>(
  producer: Producer<K, V, HK, HV>,
  transaction: Transaction<K, V, HK, HV>,
  consumer: Consumer<K, V, HK, HV>,
  offsets: TxnOffset[],
): Promise<void> {
  const producerId = producer.producerId
  const producerEpoch = producer.producerEpoch
  if (producerId === undefined || producerEpoch === undefined)
    throw new Error('the producer has no producer id')
  if (consumer.memberId === null) throw new Error('the consumer is not a group member')
  await transaction.addConsumer(consumer)
  const coordinatorId = await consumer.findGroupCoordinator()
  const connection = (await producer.connectToBrokers([coordinatorId])).get(coordinatorId)
  if (connection === undefined) throw new Error(`no connection to the group coordinator ${coordinatorId}`)
  const topics = new Map<string, txnOffsetCommitV4.TxnOffsetCommitRequestTopic>()
  for (const { topic, partition, offset, metadata } of offsets) {
    let entry = topics.get(topic)
    if (entry === undefined) {
      entry = { name: topic, partitions: [] }
      topics.set(topic, entry)
    }
    entry.partitions.push({
      partitionIndex: partition,
      committedOffset: offset,
      committedLeaderEpoch: -1,
      committedMetadata: metadata ?? null,
    })
  }
  await txnOffsetCommitV4.api.async(
    connection,
    transaction.id,
    consumer.groupId,
    producerId,
    producerEpoch,
    consumer.generationId,
    consumer.memberId,
    consumer.groupInstanceId,
    [...topics.values()],
  )
}
