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
