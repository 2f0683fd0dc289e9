import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Fifo } from '../../src/engine/fifo.js'

test('an empty queue has length 0 and peeks and shifts undefined', () => {
  const q = new Fifo<number>()
  assert.equal(q.length, 0)
  assert.equal(q.peek(), undefined)
  assert.equal(q.shift(), undefined)
  assert.equal(q.length, 0)
})

test('items come out in the order they went in', () => {
  const q = new Fifo<string>()
  q.push('a')
  q.push('b')
  assert.equal(q.peek(), 'a')
  assert.equal(q.shift(), 'a')
  q.push('c')
  assert.deepEqual([q.shift(), q.shift(), q.shift()], ['b', 'c', undefined])
})

test('order and length survive the compaction of a long consumed prefix', () => {
  const q = new Fifo<number>()
  for (let i = 0; i < 5000; i++) q.push(i)
  for (let i = 0; i < 3000; i++) assert.equal(q.shift(), i)
  assert.equal(q.length, 2000)
  for (let i = 5000; i < 6000; i++) q.push(i)
  for (let i = 3000; i < 6000; i++) assert.equal(q.shift(), i)
  assert.equal(q.length, 0)
  assert.equal(q.peek(), undefined)
})

test('behaves like an array used as a queue under any interleaving of push and shift', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.nat(), fc.constant(-1)), { maxLength: 3000, size: 'max' }), (ops) => {
      const q = new Fifo<number>()
      const model: number[] = []
      for (const op of ops) {
        if (op < 0) assert.equal(q.shift(), model.shift())
        else {
          q.push(op)
          model.push(op)
        }
        assert.equal(q.length, model.length)
        assert.equal(q.peek(), model[0])
      }
    }),
    { numRuns: 300, seed: 42 },
  )
})
