import {
  type API,
  type Callback,
  type CreateRecordsBatchOptions,
  crc32c,
  createAPI,
  kGetApi,
  type MessageRecord,
  ProduceAcks,
  Producer,
  produceV11,
  Writer,
} from '@platformatic/kafka'

/**
 * The body of a Produce v11 request, written into one buffer (client problem 13 in docs/kafka.md).
 *
 * @platformatic/kafka 2.12 builds every record from a small `Buffer` per field (one per varint),
 * then concatenates them twice, for the batch's CRC and for the request: for 1,000 events a
 * request that was a tenth of the Kafka mode's main thread, and much of its garbage. This writer
 * sizes the request first, writes it once, and gives the same bytes as the library's
 * `produceV11.createRequest` (test/kafka/produce-request.test.ts compares them), with one
 * difference: a record whose timestamp lies 2^31 ms or more after its batch's first gets the right
 * delta (the library's varlong encoder is wrong there). Compressed batches are left to the library.
 */
type Options = Partial<CreateRecordsBatchOptions>
/** Keys and values already serialized; a tick has neither, whatever the library's type says. */
type Message = MessageRecord
type ProduceResponse = ReturnType<typeof produceV11.parseResponse>

const RECORD_BATCH_MAGIC = 2
const TRANSACTIONAL = 1 << 4
/** From the start of the batch to its attributes, where the CRC's range starts. */
const BATCH_HEADER_BEFORE_CRC_RANGE = 8 + 4 + 4 + 1 + 4
/** attributes, lastOffsetDelta, first and max timestamp, producer id and epoch, base sequence, record count. */
const BATCH_HEADER_IN_CRC_RANGE = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4
/** A record batch's header (61 bytes), its first 12 (offset and length) included: what a batch adds to its records. */
export const RECORD_BATCH_HEADER_BYTES = BATCH_HEADER_BEFORE_CRC_RANGE + BATCH_HEADER_IN_CRC_RANGE

export function createProduceRequest(
  acks: number,
  timeout: number,
  messages: Message[],
  options: Options = {},
): Writer {
  if ((options.compression ?? 'none') !== 'none')
    return produceV11.createRequest(acks, timeout, messages, options)
  const now = BigInt(Date.now())
  for (const message of messages) {
    message.partition ??= 0
    // A retry sends the same timestamps, as the library does.
    message.timestamp = message.timestamp == null ? now : BigInt(message.timestamp)
  }
  const topics = [...Map.groupBy(messages, (m) => m.topic)].map(([topic, inTopic]) => ({
    name: Buffer.from(topic, 'utf8'),
    // The library's grouping puts partitions in ascending order; the broker does not mind.
    partitions: [...Map.groupBy(inTopic, (m) => m.partition as number)]
      .sort(([a], [b]) => a - b)
      .map(([partition, batchMessages]) => ({
        partition,
        messages: batchMessages,
        plan: planRecordBatch(batchMessages),
      })),
  }))
  const transactionalId =
    options.transactionalId == null ? undefined : Buffer.from(options.transactionalId, 'utf8')

  let size = (transactionalId === undefined ? 1 : compactSize(transactionalId.length)) + 2 + 4
  size += unsignedVarIntSize(topics.length + 1) + 1
  for (const topic of topics) {
    size += compactSize(topic.name.length) + unsignedVarIntSize(topic.partitions.length + 1) + 1
    for (const { plan } of topic.partitions) size += 4 + compactSize(plan.size) + 1
  }

  const out = new BufferWriter(Buffer.allocUnsafe(size))
  if (transactionalId === undefined) out.unsignedVarInt(0)
  else out.compactBytes(transactionalId)
  out
    .int16(acks)
    .int32(timeout)
    .unsignedVarInt(topics.length + 1)
  for (const topic of topics) {
    out.compactBytes(topic.name).unsignedVarInt(topic.partitions.length + 1)
    for (const { partition, messages: batchMessages, plan } of topic.partitions) {
      out.int32(partition).unsignedVarInt(plan.size + 1)
      writeRecordBatch(out, batchMessages, plan, options)
      out.unsignedInt8(0) // the partition's tagged fields
    }
    out.unsignedInt8(0) // the topic's tagged fields
  }
  out.unsignedInt8(0) // the request's tagged fields
  if (out.position !== size) throw new Error(`produce request: wrote ${out.position} bytes, sized ${size}`)

  const writer = Writer.create().append(out.buffer)
  if (acks === ProduceAcks.NO_RESPONSE) writer.context.noResponse = true
  return writer
}

/** Produce v11 with the writer above; the library's response parser. */
export const produceV11OneBuffer: API<
  Parameters<typeof produceV11.createRequest>,
  ProduceResponse
> = createAPI(
  produceV11.api.key,
  produceV11.api.version,
  createProduceRequest as unknown as Parameters<typeof createAPI>[2],
  produceV11.parseResponse,
)

/**
 * A Producer whose produce requests come from `createProduceRequest` when the brokers speak
 * Produce v11 (as the Kafka 4.x brokers of the tests do); with brokers that do not, the library's own.
 */
export class OneBufferProducer<
  Key = Buffer,
  Value = Buffer,
  HeaderKey = Buffer,
  HeaderValue = Buffer,
> extends Producer<Key, Value, HeaderKey, HeaderValue> {
  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(
    name: string,
    callback: Callback<API<RequestArguments, ResponseType>>,
  ): void {
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
      if (!error && name === 'Produce' && api?.version === produceV11OneBuffer.version) {
        callback(null, produceV11OneBuffer as unknown as API<RequestArguments, ResponseType>)
      } else {
        callback(error, api)
      }
    })
  }
}

interface BatchPlan {
  /** The batch's bytes from its base offset on (what its length prefix in the request counts). */
  size: number
  /** Each record's length, from its attributes to its end. */
  recordLengths: number[]
}

function planRecordBatch(messages: Message[]): BatchPlan {
  let size = RECORD_BATCH_HEADER_BYTES
  const first = Number((messages[0] as Message).timestamp)
  const recordLengths = messages.map((message, i) => {
    const length = recordLength(message, i, first)
    size += varIntSize(length) + length
    return length
  })
  return { size, recordLengths }
}

function recordLength(message: Message, offsetDelta: number, firstTimestamp: number): number {
  let length =
    1 +
    unsignedVarIntSize(zigZag(Number(message.timestamp) - firstTimestamp)) +
    varIntSize(offsetDelta) +
    bytesSize(message.key) +
    bytesSize(message.value) +
    varIntSize(message.headers?.size ?? 0)
  for (const [key, value] of message.headers ?? []) length += bytesSize(key) + bytesSize(value)
  return length
}

function writeRecordBatch(out: BufferWriter, messages: Message[], batch: BatchPlan, options: Options): void {
  const firstMessage = messages[0] as Message
  const first = firstMessage.timestamp as bigint
  let max = first
  for (const message of messages) if ((message.timestamp as bigint) > max) max = message.timestamp as bigint
  const start = out.position
  out
    .int64(0n)
    .int32(batch.size - 12)
    .int32(options.partitionLeaderEpoch ?? 0)
    .unsignedInt8(RECORD_BATCH_MAGIC)
  const crcAt = out.position
  out.int32(0)
  out
    .int16(options.transactionalId ? TRANSACTIONAL : 0)
    .int32(messages.length - 1)
    .int64(first)
    .int64(max)
    .int64(options.producerId ?? -1n)
    .int16(options.producerEpoch ?? 0)
    .int32(options.sequences?.getWithDefault(`${firstMessage.topic}:${firstMessage.partition}`, 0) ?? 0)
    .int32(messages.length)
  const firstMs = Number(first)
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i] as Message
    out
      .varInt(batch.recordLengths[i] as number)
      .unsignedInt8(0)
      .unsignedVarInt(zigZag(Number(message.timestamp) - firstMs))
      .varInt(i)
      .varIntBytes(message.key)
      .varIntBytes(message.value)
      .varInt(message.headers?.size ?? 0)
    for (const [key, value] of message.headers ?? []) out.varIntBytes(key).varIntBytes(value)
  }
  if (out.position - start !== batch.size)
    throw new Error('produce request: a record batch is not the size it was given')
  // The CRC-32C covers the batch from its attributes to its end. The library's crc32c copies a
  // plain Buffer first; a one-buffer Writer hands it the bytes in place.
  const covered = out.buffer.subarray(crcAt + 4, out.position)
  out.buffer.writeUInt32BE(crc32c(Writer.create().append(covered).dynamicBuffer), crcAt)
}

/** A record's key or value: its length as a varint (-1 when null), then its bytes. */
function bytesSize(bytes: Buffer | undefined | null): number {
  return bytes == null ? 1 : varIntSize(bytes.length) + bytes.length
}

/** Zigzag encoding of a signed integer up to 2^52 in magnitude (a record's timestamp delta). */
function zigZag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1
}

/** A compact (KIP-482) string, bytes or records field: its length + 1 as an unsigned varint, then the bytes. */
function compactSize(length: number): number {
  return unsignedVarIntSize(length + 1) + length
}

function varIntSize(value: number): number {
  return unsignedVarIntSize(zigZag(value))
}

function unsignedVarIntSize(value: number): number {
  let size = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    size++
  }
  return size
}

/** Writes big-endian integers, varints and bytes at a moving position in one buffer. */
class BufferWriter {
  position = 0

  constructor(readonly buffer: Buffer) {}

  unsignedInt8(value: number): this {
    this.position = this.buffer.writeUInt8(value, this.position)
    return this
  }

  int16(value: number): this {
    this.position = this.buffer.writeInt16BE(value, this.position)
    return this
  }

  int32(value: number): this {
    this.position = this.buffer.writeInt32BE(value, this.position)
    return this
  }

  int64(value: bigint): this {
    this.position = this.buffer.writeBigInt64BE(value, this.position)
    return this
  }

  unsignedVarInt(value: number): this {
    while (value >= 0x80) {
      this.buffer[this.position++] = (value % 0x80) | 0x80
      value = Math.floor(value / 0x80)
    }
    this.buffer[this.position++] = value
    return this
  }

  varInt(value: number): this {
    return this.unsignedVarInt(zigZag(value))
  }

  bytes(bytes: Buffer): this {
    this.position += bytes.copy(this.buffer, this.position)
    return this
  }

  /** A compact string or bytes field (see compactSize). */
  compactBytes(bytes: Buffer): this {
    return this.unsignedVarInt(bytes.length + 1).bytes(bytes)
  }

  varIntBytes(bytes: Buffer | undefined | null): this {
    if (bytes == null) return this.varInt(-1)
    return this.varInt(bytes.length).bytes(bytes)
  }
}
