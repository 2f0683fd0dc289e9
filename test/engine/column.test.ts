import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Column } from '../../src/engine/column.js'

test('a column grows by pages without moving what it holds, and reads back as views of them', () => {
  const column = new Column((n) => new Float64Array(n))
  assert.equal(column.capacity, 0)
  const count = 10_000
  while (column.capacity < count) {
    const before: number = column.capacity
    column.grow()
    // What was written before a page was added reads back after it.
    if (before > 0) assert.equal(column.get(before - 1), (before - 1) * 1.5)
    for (let slot = before; slot < column.capacity; slot++) column.set(slot, slot * 1.5)
  }
  assert.ok(column.capacity >= count)
  const views = column.views(count)
  assert.deepEqual(
    views.map((view) => view.length),
    [4096, 4096, count - 8192],
  )
  const values = Float64Array.from(views.flatMap((view) => [...view]))
  assert.ok(values.every((value, slot) => value === slot * 1.5))
  // Views, not copies: a later write shows through.
  column.set(5, -1)
  assert.equal(views[0]?.[5], -1)
  column.set(5, 7.5)

  // Loaded from one array, or from chunks that do not line up with the pages.
  for (const chunks of [
    [values],
    [values.subarray(0, 100), values.subarray(100, 5000), values.subarray(5000)],
  ]) {
    const copy = new Column((n) => new Float64Array(n))
    while (copy.capacity < count) copy.grow()
    copy.load(chunks)
    for (const slot of [0, 99, 100, 4095, 4096, 4999, 5000, 8191, 8192, count - 1])
      assert.equal(copy.get(slot), slot * 1.5)
    assert.equal(copy.get(count), 0)
  }
})

test('each column keeps its own element type', () => {
  const flags = new Column((n) => new Uint8Array(n))
  const counts = new Column((n) => new Int32Array(n))
  flags.grow()
  counts.grow()
  flags.set(1, 256 + 7)
  counts.set(1, -5)
  assert.equal(flags.get(1), 7)
  assert.equal(counts.get(1), -5)
})
