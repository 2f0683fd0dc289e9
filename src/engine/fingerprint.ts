/**
 * A decision's fingerprint as the engine keeps it: 64 bits of hash in two 32-bit integers
 * (small integers inside an object, no string), instead of the logged text (a 44-character
 * base64 SHA-256). Two decisions with the same key are told apart by it: equal fingerprints mean
 * a duplicate, different ones a conflict. Texts that differ map to the same 64 bits with
 * probability 2^-64 per comparison, and only decisions with the same key are ever compared.
 */
export interface Fingerprint {
  readonly hi: number
  readonly lo: number
}

/** The 64-bit hash (cyrb53's mixing, both halves kept) of a logged fingerprint text. */
export function fingerprintOf(text: string): Fingerprint {
  let h1 = 0xdeadbeef ^ text.length
  let h2 = 0x41c6ce57 ^ text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return { hi: h2 | 0, lo: h1 | 0 }
}

export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.hi === b.hi && a.lo === b.lo
}
