import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashOf, KeyIndex } from '../../src/engine/key-index.js'

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function assertSame(index: KeyIndex, model: Map<string, number>, probes: string[]): void {
  assert.equal(index.length, model.size)
  for (const [key, slot] of model) {
    assert.equal(index.get(key), slot, `get(${key})`)
    assert.equal(index.keyOf(slot), key)
  }
  for (const key of probes) assert.equal(index.get(key), model.get(key) ?? -1, `get(${key})`)
}

test('agrees with a Map through random inserts and deletes, across growth and wrap-around', () => {
  for (const seed of [1, 2, 3, 4]) {
    const next = random(seed)
    const index = new KeyIndex()
    const model = new Map<string, number>()
    const freeSlots: number[] = []
    let fresh = 0
    // Few distinct keys in the first rounds (runs wrap around the small table), many later.
    for (let round = 0; round < 60; round++) {
      const keySpace = round < 20 ? 600 : 6000
      for (let op = 0; op < 500; op++) {
        const key = `user-${Math.floor(next() * keySpace)}`
        const slot = model.get(key)
        if (slot === undefined) {
          const taken = freeSlots.pop() ?? fresh++
          index.set(key, taken)
          model.set(key, taken)
        } else if (next() < 0.6) {
          index.delete(slot)
          model.delete(key)
          freeSlots.push(slot)
        }
      }
      assertSame(index, model, ['', 'user-', `user-${keySpace}`, 'absent'])
    }
  }
})

test('deleting every key leaves an empty index that takes the same keys again', () => {
  const index = new KeyIndex()
  const keys = Array.from({ length: 3000 }, (_, i) => `k${i}`)
  for (const [slot, key] of keys.entries()) index.set(key, slot)
  for (let slot = 0; slot < keys.length; slot += 2) index.delete(slot)
  for (let slot = 1; slot < keys.length; slot += 2) index.delete(slot)
  assert.equal(index.length, 0)
  for (const key of keys) assert.equal(index.get(key), -1)
  for (const [slot, key] of keys.entries()) index.set(key, keys.length - 1 - slot)
  for (const [slot, key] of keys.entries()) assert.equal(index.get(key), keys.length - 1 - slot)
})

test('keys are told apart by their full text, not their hash', () => {
  const index = new KeyIndex()
  index.set('a', 0)
  assert.equal(index.get('a'), 0)
  assert.equal(index.get('b'), -1)
  assert.equal(index.get('a '), -1)
  // Non-ASCII keys hash and compare by UTF-16 code units.
  index.set('é', 1)
  index.set('e\u0301', 2)
  assert.equal(index.get('é'), 1)
  assert.equal(index.get('e\u0301'), 2)
})

test('the hash spreads sequential keys over the low bits the buckets use', () => {
  const buckets = new Set<number>()
  for (let i = 0; i < 1024; i++) buckets.add(hashOf(`k-${i}`) & 1023)
  // 1,024 keys into 1,024 buckets at random fill about 63 % of them; a poor hash far fewer.
  assert.ok(buckets.size > 550, `${buckets.size} of 1024 buckets used`)
})
