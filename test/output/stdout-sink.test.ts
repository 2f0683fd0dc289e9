import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { StdoutSink } from '../../src/output/stdout-sink.js'

/** A stream standing in for process.stdout, keeping what is written. */
function fakeStdout(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = ''
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString()
      done()
    },
  })
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text }
}

test('standard output gets each line newline-terminated and its position follows the last line', () => {
  const out = fakeStdout()
  const sink = new StdoutSink(4, out.stream)
  assert.deepEqual(sink.position(), { name: 'stdout', seq: 4, offset: 0, fileId: null })
  sink.write([
    { seq: 5, line: '{"a":5}' },
    { seq: 6, line: '{"a":6}' },
  ])
  sink.write([])
  assert.equal(out.text(), '{"a":5}\n{"a":6}\n')
  assert.equal(sink.position().seq, 6)
})

test('a closed standard output is reported once and lines after it still advance the position', () => {
  const out = fakeStdout()
  const errors: Error[] = []
  const sink = new StdoutSink(0, out.stream, (error) => errors.push(error))
  sink.write([{ seq: 1, line: '{"a":1}' }])
  out.stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))
  sink.write([{ seq: 2, line: '{"a":2}' }])
  assert.equal(errors.length, 1)
  assert.equal(out.text(), '{"a":1}\n')
  assert.equal(sink.position().seq, 2)
})

/** A stream that takes chunks only when told to (a reader that has stopped reading). */
function stalledStdout(): { stream: NodeJS.WriteStream; text: () => string; release: () => void } {
  let text = ''
  let pending: (() => void) | undefined
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending = () => {
        text += chunk.toString()
        done()
      }
    },
  })
  const release = () => {
    while (pending !== undefined) {
      const next = pending
      pending = undefined
      next()
    }
  }
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text, release }
}

const numbered = (from: number, to: number, size: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, line: `"${'x'.repeat(size - 2)}"` }))

test('a stalled standard output holds at most its limit plus one line; the rest is left for later', () => {
  const out = stalledStdout()
  const sink = new StdoutSink(0, out.stream, () => {}, 1000)
  assert.equal(sink.canWrite(), true)
  sink.write(numbered(1, 50, 100))
  assert.equal(sink.position().seq, 10, 'ten 101-byte lines fill the 1000 bytes')
  assert.equal(out.stream.writableLength, 1010)
  assert.equal(sink.canWrite(), false)
  assert.equal(sink.sync().seq, 0, 'nothing has left the process yet')
  sink.write(numbered(11, 50, 100))
  assert.equal(sink.position().seq, 10, 'a full stream takes nothing')
})

test('once the stream drains, the sink says so, and only what left the process may be persisted', async () => {
  const out = stalledStdout()
  const sink = new StdoutSink(0, out.stream, () => {}, 1000)
  let woken = 0
  sink.onWritable(() => woken++)
  sink.write(numbered(1, 20, 100))
  out.release()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(woken, 1)
  assert.equal(sink.canWrite(), true)
  assert.equal(sink.sync().seq, 10)
  sink.write(numbered(11, 20, 100))
  assert.equal(sink.position().seq, 20)
  out.release()
  assert.equal(out.text().length, 20 * 101)
})

test('flush waits for what was written to leave the process, or gives up after its timeout', async () => {
  const out = stalledStdout()
  const sink = new StdoutSink(0, out.stream, () => {}, 1000)
  await sink.flush(10)
  sink.write(numbered(1, 3, 100))
  const started = Date.now()
  await sink.flush(50)
  assert.ok(Date.now() - started >= 40, 'a stalled stream holds flush up to its timeout')
  const flushed = sink.flush(10_000)
  out.release()
  await flushed
  assert.equal(sink.sync().seq, 3)
})
