import { Column, chunkedLength } from './column.js'
import { KeyCells, type KeyCellsState } from './key-cells.js'

export interface KeyIndexState {
  keys: KeyCellsState
  /** Each slot's key hash, in chunks read one after another. */
  hashes: Int32Array[]
}

const EMPTY = 0
/** The index is 64 tables chosen by a key hash's top 6 bits, each growing on its own. */
const SHARD_BITS = 6
const SHARD_INITIAL_BUCKETS = 64

/**
 * One shard's buckets: pairs (slot + 1, hash), slot + 1 = 0 marking an empty bucket, probed
 * linearly from the hash's low bits. Deletion shifts the following entries of the run back
 * instead of leaving a tombstone, so lookups stay short however many keys came and went. At
 * most half the buckets are in use.
 */
class Buckets {
  private table = new Int32Array(2 * SHARD_INITIAL_BUCKETS)
  private mask = SHARD_INITIAL_BUCKETS - 1
  private size = 0

  /** The slot whose key is `key` (with this hash), or -1. */
  find(key: string, hash: number, keys: KeyCells): number {
    const table = this.table
    for (let at = hash & this.mask; ; at = (at + 1) & this.mask) {
      const entry = table[2 * at] as number
      if (entry === EMPTY) return -1
      if (table[2 * at + 1] === hash && keys.holds(entry - 1, key)) return entry - 1
    }
  }

  insert(slot: number, hash: number): void {
    if (2 * (this.size + 1) > this.mask + 1) this.grow()
    this.place(slot, hash)
    this.size++
  }

  remove(slot: number, hash: number): void {
    const table = this.table
    const mask = this.mask
    let hole = hash & mask
    while (table[2 * hole] !== slot + 1) hole = (hole + 1) & mask
    // Move each following entry of the run into the hole when the hole lies on its probe path
    // (between its home bucket and where it sits), so every key stays reachable from its home.
    for (let at = (hole + 1) & mask; table[2 * at] !== EMPTY; at = (at + 1) & mask) {
      const home = (table[2 * at + 1] as number) & mask
      if (((at - home) & mask) >= ((at - hole) & mask)) {
        table[2 * hole] = table[2 * at] as number
        table[2 * hole + 1] = table[2 * at + 1] as number
        hole = at
      }
    }
    table[2 * hole] = EMPTY
    this.size--
  }

  private place(slot: number, hash: number): void {
    const table = this.table
    let at = hash & this.mask
    while (table[2 * at] !== EMPTY) at = (at + 1) & this.mask
    table[2 * at] = slot + 1
    table[2 * at + 1] = hash
  }

  private grow(): void {
    const old = this.table
    this.table = new Int32Array(2 * old.length)
    this.mask = old.length - 1
    for (let at = 0; at < old.length; at += 2) {
      const entry = old[at] as number
      if (entry !== EMPTY) this.place(entry - 1, old[at + 1] as number)
    }
  }
}

/**
 * A hash index from a string key to a slot number the caller chooses (a non-negative int32),
 * for millions of keys. A `Map<string, number>` spends most of the engine's time at that size
 * (bench/RESULTS.md, "Where the engine's time goes"): each entry is a heap object reached by a
 * pointer, and every get or delete is a cache miss into it. Here the buckets are Int32Arrays
 * probed linearly (slot + 1 and the key's 32-bit hash side by side, so most probes compare two
 * integers in one cache line), and the keys sit in cells by slot, off the heap (`KeyCells`). The buckets are
 * split into 64 shards that grow one at a time: one table doubling at a million keys stalled
 * the join for 56 ms, a shard's doubling takes 1/64 of that.
 */
export class KeyIndex {
  private readonly shards = Array.from({ length: 1 << SHARD_BITS }, () => new Buckets())
  private size = 0
  private keys = new KeyCells()
  /** Each slot's key hash, so deleting and growing never hash a string again. */
  private readonly hashes = new Column((n) => new Int32Array(n))

  get length(): number {
    return this.size
  }

  /** The slot of `key`, or -1 if it is not indexed. */
  get(key: string): number {
    const hash = hashOf(key)
    return this.shardOf(hash).find(key, hash, this.keys)
  }

  /** Indexes `key` (not indexed now) at `slot` (not in use now). */
  set(key: string, slot: number): void {
    while (slot >= this.hashes.capacity) this.hashes.grow()
    const hash = hashOf(key)
    this.keys.set(slot, key)
    this.hashes.set(slot, hash)
    this.shardOf(hash).insert(slot, hash)
    this.size++
  }

  /** The key indexed at `slot`. */
  keyOf(slot: number): string {
    return this.keys.get(slot)
  }

  /** Removes the key indexed at `slot`. */
  delete(slot: number): void {
    const hash = this.hashes.get(slot)
    this.shardOf(hash).remove(slot, hash)
    this.keys.delete(slot)
    this.size--
  }

  /** The keys of slots 0 to slots - 1 and their hashes, for a snapshot. */
  exportState(slots: number): KeyIndexState {
    return { keys: this.keys.exportState(slots), hashes: this.hashes.views(slots) }
  }

  /** The index `exportState` described, without hashing a string again. */
  static restore({ keys, hashes }: KeyIndexState): KeyIndex {
    const index = new KeyIndex()
    index.keys = KeyCells.restore(keys)
    const slots = chunkedLength(hashes)
    while (index.hashes.capacity < slots) index.hashes.grow()
    index.hashes.load(hashes)
    for (let slot = 0; slot < slots; slot++) {
      if (!index.keys.has(slot)) continue
      const hash = index.hashes.get(slot)
      index.shardOf(hash).insert(slot, hash)
      index.size++
    }
    return index
  }

  private shardOf(hash: number): Buckets {
    return this.shards[hash >>> (32 - SHARD_BITS)] as Buckets
  }
}

/** FNV-1a over the UTF-16 code units, then murmur3's finaliser so that nearby keys spread. */
export function hashOf(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return h ^ (h >>> 16)
}
