/**
 * Workarounds for what @platformatic/kafka 2.12 gets wrong or lacks (docs/kafka.md lists each with
 * the test that shows it against real brokers). Built only on the library's public API.
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
 * 4. A stream dies when a partition leader does: its fetch is pinned to the old leader's node id,
 *    retried there until the node leaves the metadata ('Cannot find broker with node id N', not
 *    retriable), and any fetch error destroys the stream.
 *    FixedConsumer fixes 1 and 2 in `fetch()`, 3 in `listCommittedOffsets()` (the public methods its
 *    MessagesStream calls) and 4 in `fetch()`: a fetch that fails for a transient reason (network,
 *    unknown node, retriable Kafka error) answers an empty response after a pause and drops the
 *    cached metadata, so the stream's next fetch goes to the new leader at the same offsets.
 * 5. (Fixed in 2.x: a send's retries now take fresh metadata and reach the new leader; the
 *    cluster test's leader kill, which used a failover wrapper before, now sends plainly.)
 * 6. (Fixed in 2.x: clients forget a coordinator after NOT_COORDINATOR or a dead connection.)
 * 7. A transactional offset commit has no metadata string: use txnOffsetCommit() below.
 * 8. InitProducerId is sent with producerId 0 / epoch 0 instead of -1 / -1, so a second instance
 *    with the same transactionalId is refused (PRODUCER_FENCED) instead of fencing the first:
 *    give every transactional producer TRANSACTIONAL_PRODUCER_DEFAULTS.
 * 9. A group operation (heartbeat, leave) whose cached coordinator has left the cluster metadata
 *    asks the connection pool for an undefined broker, and the pool throws a TypeError inside a
 *    socket callback: an uncaught exception that kills the process. installClientFixes() below
 *    patches the pool to turn that into a NetworkError the library retries and reports (and then
 *    looks the coordinator up again). Importing this module patches nothing: the Kafka mode calls
 *    installClientFixes() once at start, and a FixedConsumer's constructor does (so a learner
 *    gets it too).
 * 10. A group's MessagesStream has no seek: raiseFetchOffset() below moves its next fetch of a
 *    partition on, through its public `offsetsToFetch` map.
 * 11. A produce request is built from a `Buffer` per field and concatenated twice: the Kafka
 *    mode's producers are `OneBufferProducer`s (produce-request.ts), which write it in one.
 *    That also writes right what @platformatic/dynamic-buffer 0.3.1 encodes wrongly: varlongs of
 *    2^31 or more (zigzag `>> 31n`, 32-bit size mask), so records of one produce batch whose
 *    timestamps lie 2^31 ms (24.8 days) or more apart. Decoding is right.
 * 12. `murmur2` computes with BigInts never cut back to 32 bits, allocating more as keys grow:
 *    ingest hashes keys with murmur2.ts instead (the same hash).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Broker,
  type CallbackWithPromise,
  type Connection,
  ConnectionPool,
  Consumer,
  type FetchOptions,
  FindCoordinatorKeyTypes,
  type fetchV17,
  findCoordinatorV6,
  type ListCommitsOptions,
  type MessagesStream,
  NetworkError,
  type Offsets,
  offsetFetchV9,
  type Producer,
  txnOffsetCommitV4,
} from '@platformatic/kafka'

type FetchResponse = fetchV17.FetchResponse
/** The library does not export its Transaction class. */
type Transaction<K, V, HK, HV> = Awaited<ReturnType<Producer<K, V, HK, HV>['beginTransaction']>>

/** Fix 9: a connection to a broker the metadata no longer has is a NetworkError, not a crash. */
function patchConnectionPool(): void {
  const get = ConnectionPool.prototype.get as (
    this: ConnectionPool,
    broker: Broker,
    callback?: unknown,
  ) => unknown
  ConnectionPool.prototype.get = function (
    this: ConnectionPool,
    broker: Broker | undefined,
    callback?: CallbackWithPromise<Connection>,
  ) {
    if (broker === undefined) {
      const error = new NetworkError('the broker is no longer in the cluster metadata (a dead coordinator?)')
      if (callback === undefined) return Promise.reject(error)
      callback(error)
      return
    }
    return get.call(this, broker, callback)
  } as typeof ConnectionPool.prototype.get
}

let clientFixesInstalled = false

/**
 * Installs the fixes that patch the library in this process (fix 9, `ConnectionPool.prototype`);
 * once: later calls do nothing. Call it before the first Kafka client works.
 */
export function installClientFixes(): void {
  if (clientFixesInstalled) return
  clientFixesInstalled = true
  patchConnectionPool()
}

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
      if (!partition.records || !partition.abortedTransactions?.length) continue
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

/**
 * Fix 10: the stream's next fetch of the partition starts at `offset` or later (it is never moved
 * back). A fetch already under way sets the position back to after its records when it returns
 * (messages-stream.js, at the fetch's end), so the caller must skip what that one brings.
 */
export function raiseFetchOffset(
  stream: MessagesStream<string, string, string, string>,
  topic: string,
  partition: number,
  offset: number,
): void {
  const key = `${topic}:${partition}`
  const next = BigInt(offset)
  const current = stream.offsetsToFetch.get(key)
  if (current !== undefined && current < next) stream.offsetsToFetch.set(key, next)
}

/** Whether an error of the library carries a Kafka error code named `apiId`. */
export function hasKafkaError(error: unknown, apiId: string): boolean {
  const e = error as { findBy?: (property: string, value: unknown) => unknown }
  return typeof e?.findBy === 'function' && e.findBy('apiId', apiId) != null
}

/** Whether the error (or one it aggregates) is a Kafka error code the library deems final. */
function finalKafkaError(error: unknown): boolean {
  const e = error as { code?: string; canRetry?: boolean; errors?: unknown[] }
  if (e?.code === 'PLT_KFK_PROTOCOL' && e.canRetry === false) return true
  return Array.isArray(e?.errors) && e.errors.some(finalKafkaError)
}

/** Consecutive transient fetch failures a stream rides out (× FETCH_PAUSE_MS) before it fails. */
const FETCH_FAILURES_TOLERATED = 120
const FETCH_PAUSE_MS = 250

/**
 * A Consumer whose fetches and committed-offset reads (and so its streams) get fixes 1 to 4 above;
 * making one installs the process-wide fix 9 (installClientFixes) if not yet done.
 */
export class FixedConsumer<
  Key = Buffer,
  Value = Buffer,
  HeaderKey = Buffer,
  HeaderValue = Buffer,
> extends Consumer<Key, Value, HeaderKey, HeaderValue> {
  #fetchFailures = 0

  constructor(...args: ConstructorParameters<typeof Consumer<Key, Value, HeaderKey, HeaderValue>>) {
    installClientFixes()
    super(...args)
  }

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
      if (
        error &&
        !finalKafkaError(error) &&
        !this.closed &&
        this.#fetchFailures < FETCH_FAILURES_TOLERATED
      ) {
        this.#fetchFailures++
        this.clearMetadata()
        const empty: FetchResponse = { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [] }
        setTimeout(() => callback(null, empty), FETCH_PAUSE_MS)
        return
      }
      if (response !== undefined) {
        this.#fetchFailures = 0
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
  const memberId = consumer.memberId
  const commit = async (fresh: boolean) => {
    const connection = await groupCoordinator(producer, consumer.groupId, fresh)
    await txnOffsetCommitV4.api.async(
      connection,
      transaction.id,
      consumer.groupId,
      producerId,
      producerEpoch,
      consumer.generationId,
      memberId,
      consumer.groupInstanceId,
      [...topics.values()],
    )
  }
  try {
    await commit(false)
  } catch (error) {
    // The coordinator moved or died: look it up again.
    if (finalKafkaError(error) && !hasKafkaError(error, 'NOT_COORDINATOR')) throw error
    await commit(true)
  }
}

const coordinators = new WeakMap<object, Map<string, number>>()

/** A connection to the group's coordinator, found with FindCoordinator through any live broker. */
async function groupCoordinator<K, V, HK, HV>(
  producer: Producer<K, V, HK, HV>,
  groupId: string,
  fresh: boolean,
): Promise<Connection> {
  const known = coordinators.get(producer) ?? new Map<string, number>()
  coordinators.set(producer, known)
  const cached = fresh ? undefined : known.get(groupId)
  if (cached !== undefined) {
    const connection = (await producer.connectToBrokers([cached]).catch(() => undefined))?.get(cached)
    if (connection !== undefined) return connection
  }
  const metadata = await producer.metadata({ topics: [], forceUpdate: true })
  for (const nodeId of metadata.brokers.keys()) {
    try {
      const via = (await producer.connectToBrokers([nodeId])).get(nodeId)
      if (via === undefined) continue
      const [found] = (await findCoordinatorV6.api.async(via, FindCoordinatorKeyTypes.GROUP, [groupId]))
        .coordinators
      if (found === undefined || found.errorCode !== 0) continue
      const connection = (await producer.connectToBrokers([found.nodeId])).get(found.nodeId)
      if (connection === undefined) continue
      known.set(groupId, found.nodeId)
      return connection
    } catch {}
  }
  throw new Error(`no reachable coordinator for group ${groupId}`)
}
