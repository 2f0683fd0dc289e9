/** The broker's default `message.max.bytes`: the largest record batch it takes (1 MiB and the 12 bytes of a log entry's offset and length). */
export const BROKER_MAX_BATCH_BYTES = 1024 * 1024 + 12

/**
 * The most a record without headers adds to its key and value, its varints at their longest:
 * length 5, attributes 1, timestamp delta 10, offset delta 5, key and value lengths 5 each, header count 1.
 */
export const RECORD_FRAMING_BYTES = 32

/**
 * What one produce request carries at most: keys, values and each record's framing. A broker
 * refuses a record batch over its `message.max.bytes`, so a larger send is split into requests
 * of at most this; 128 KiB of the default limit are left spare (a batch's header is 61 bytes).
 * Requests are sent one after another, each waiting for its acknowledgement, so fewer and larger
 * ones are faster: against 256 KiB, `POST /events` batches 1.07–1.25 × (bench/RESULTS.md).
 */
export const MAX_REQUEST_BYTES = 896 * 1024

/** Splits messages, in order, into runs of at most `maxBytes` of keys, values and framing (at least one message each). */
export function chunksByBytes<T extends { key?: string; value?: string }>(
  messages: readonly T[],
  maxBytes = MAX_REQUEST_BYTES,
): T[][] {
  const chunks: T[][] = []
  let chunk: T[] = []
  let bytes = 0
  for (const message of messages) {
    const size =
      Buffer.byteLength(message.key ?? '') + Buffer.byteLength(message.value ?? '') + RECORD_FRAMING_BYTES
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(message)
    bytes += size
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}
