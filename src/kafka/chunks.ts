/**
 * A broker refuses a record batch over its `message.max.bytes` (1 MiB by default): what goes in
 * one produce request is split into requests of at most this many bytes of keys and values.
 */
export const MAX_REQUEST_BYTES = 256 * 1024

/** Splits messages, in order, into runs of at most `maxBytes` of keys and values (at least one message each). */
export function chunksByBytes<T extends { key?: string; value?: string }>(
  messages: readonly T[],
  maxBytes = MAX_REQUEST_BYTES,
): T[][] {
  const chunks: T[][] = []
  let chunk: T[] = []
  let bytes = 0
  for (const message of messages) {
    const size = Buffer.byteLength(message.key ?? '') + Buffer.byteLength(message.value ?? '')
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
