import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { SlotQueue } from '../../src/engine/slot-queue.js'

test('an empty slot queue has length 0 and peeks, shifts and lasts -1', () => {
  const q = new SlotQueue()
  assert.equal(q.length, 0)
  assert.equal(q.peek(), -1)
  assert.equal(q.last(), -1)
  assert.equal(q.shift(), -1)
  assert.equal(q.length, 0)
})

test('slots come out in order across growth of a wrapped ring', () => {
  const q = new SlotQueue(16)
  for (let i = 0; i < 10; i++) q.push(i)
  for (let i = 0; i < 8; i++) assert.equal(q.shift(), i)
  // The ring has wrapped: growing now must keep the order.
  for (let i = 10; i < 100; i++) q.push(i)
  assert.equal(q.last(), 99)
  for (let i = 8; i < 100; i++) assert.equal(q.shift(), i)
  assert.equal(q.length, 0)
})

test('behaves like an array used as a queue under any interleaving of push and shift', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constant(-1)), {
        maxLength: 3000,
        size: 'max',
      }),
      (ops) => {
        const q = new SlotQueue(16)
        const model: number[] = []
        for (const op of ops) {
          if (op < 0) assert.equal(q.shift(), model.shift() ?? -1)
          else {
            q.push(op)
            model.push(op)
          }
          assert.equal(q.length, model.length)
          assert.equal(q.peek(), model[0] ?? -1)
          assert.equal(q.last(), model.at(-1) ?? -1)
        }
      },
    ),
    { numRuns: 300, seed: 42 },
  )
})
