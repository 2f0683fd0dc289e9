import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CELL_CHARS, KeyCells } from '../../src/engine/key-cells.js'

const SAMPLES = [
  'k',
  'a'.repeat(CELL_CHARS),
  // One longer than a cell, one beyond Latin-1, one with Latin-1's top character, one emoji pair.
  'b'.repeat(CELL_CHARS + 1),
  'ключ',
  'ÿ\u0080é',
  'user-\u{1f600}',
  '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
]

test('keeps each key, in a cell or as a string, and tells it from every other', () => {
  const cells = new KeyCells()
  // Slots far apart so that several pages are added.
  const slotOf = (i: number) => i * 5_000
  for (const [i, key] of SAMPLES.entries()) cells.set(slotOf(i), key)
  for (const [i, key] of SAMPLES.entries()) {
    assert.equal(cells.get(slotOf(i)), key)
    assert.ok(cells.has(slotOf(i)))
    for (const other of SAMPLES)
      assert.equal(cells.holds(slotOf(i), other), other === key, `${key} ~ ${other}`)
    // A prefix, an extension and the same text with one character changed are other keys.
    assert.equal(cells.holds(slotOf(i), key.slice(0, -1)), false)
    assert.equal(cells.holds(slotOf(i), `${key}x`), false)
    assert.equal(cells.holds(slotOf(i), `${key.slice(0, -1)}\u0101`), false)
  }
  assert.equal(cells.has(1), false)
  assert.equal(cells.has(10 ** 9), false)
})

test('a slot reused for a shorter or a long key holds only the new one', () => {
  const cells = new KeyCells()
  cells.set(3, 'abcdef')
  cells.delete(3)
  assert.equal(cells.has(3), false)
  assert.equal(cells.holds(3, 'abcdef'), false)
  cells.set(3, 'abc')
  assert.equal(cells.get(3), 'abc')
  assert.equal(cells.holds(3, 'abcdef'), false)
  cells.delete(3)
  cells.set(3, 'c'.repeat(100))
  assert.equal(cells.get(3), 'c'.repeat(100))
  assert.equal(cells.holds(3, 'abc'), false)
  cells.delete(3)
  cells.set(3, 'xyz')
  assert.equal(cells.get(3), 'xyz')
  assert.equal(cells.holds(3, 'c'.repeat(100)), false)
})

test('exportState and restore give back every key', () => {
  const cells = new KeyCells()
  for (const [i, key] of SAMPLES.entries()) cells.set(i * 3_000, key)
  cells.delete(3_000)
  const slots = (SAMPLES.length - 1) * 3_000 + 1
  const state = cells.exportState(slots)
  const total = (chunks: Uint8Array[]) => chunks.reduce((sum, chunk) => sum + chunk.length, 0)
  assert.equal(total(state.lengths), slots)
  assert.equal(total(state.cells), slots * CELL_CHARS)
  const restored = KeyCells.restore(state)
  for (const [i, key] of SAMPLES.entries()) {
    if (i === 1) assert.equal(restored.has(i * 3_000), false)
    else assert.equal(restored.get(i * 3_000), key)
  }
})
