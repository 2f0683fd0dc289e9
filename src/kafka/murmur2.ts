/**
 * Kafka's murmur2 (Java's `Utils.murmur2`, what its default partitioner hashes a key with) in
 * 32-bit integer arithmetic. @platformatic/kafka 2.12's `murmur2` computes it with BigInts whose
 * hash value is never cut back to 32 bits, so it grows with the key: in the Kafka mode's ingest it
 * allocated more than anything else on the main thread (test/kafka/murmur2.test.ts compares the two).
 */
const SEED = 0x9747b28c
const M = 0x5bd1e995

export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k =
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  // The bytes after the last whole word (Java's switch falls through them).
  const rest = length & 3
  if (rest > 0) {
    if (rest === 3) h ^= (data[whole + 2] as number) << 16
    if (rest >= 2) h ^= (data[whole + 1] as number) << 8
    h ^= data[whole] as number
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** Room for most keys' UTF-8 bytes, so that hashing one allocates nothing. */
const scratch = Buffer.allocUnsafe(1024)

/** murmur2 of a string's UTF-8 bytes. */
export function murmur2OfString(text: string): number {
  // A UTF-16 code unit is at most 3 bytes of UTF-8.
  if (text.length * 3 > scratch.length) return murmur2(Buffer.from(text, 'utf8'))
  return murmur2(scratch, scratch.write(text, 0, 'utf8'))
}
