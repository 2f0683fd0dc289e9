import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import pino from 'pino'
import { RepeatedFault } from '../../src/observability/repeated-fault.js'

type Line = Record<string, unknown> & { msg: string; level: number }

/** A RepeatedFault on a clock the test moves, and the lines it logged. */
function fault() {
  const lines: Line[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Line)
      done()
    },
  })
  const clock = { ms: 0 }
  const repeated = new RepeatedFault(pino(sink), {
    message: 'disk write failed',
    recovered: 'disk writes succeed again',
    fields: { output: 'file:/x' },
    intervalMs: 5000,
    now: () => clock.ms,
  })
  return { repeated, lines, clock }
}

test('logs the first failure with its error, then a count at most every interval, then the recovery', () => {
  const { repeated, lines, clock } = fault()
  repeated.succeeded()
  assert.equal(lines.length, 0, 'nothing while all is well')
  for (let i = 0; i < 1200; i++) {
    repeated.failed(new Error(`ENOSPC ${i}`))
    clock.ms += 10
  }
  // 12 s of failures every 10 ms: the first line, then one at 5 s and one at 10 s.
  assert.deepEqual(
    lines.map((l) => [l.msg, l.failures]),
    [
      ['disk write failed', undefined],
      ['disk write failed (500 more times in 5000 ms)', 500],
      ['disk write failed (500 more times in 5000 ms)', 500],
    ],
  )
  assert.equal(((lines[0] as Line).err as { message: string }).message, 'ENOSPC 0')
  assert.equal(lines[1]?.error, 'ENOSPC 500', 'later lines: the error message, no stack')
  assert.ok(lines.every((l) => l.output === 'file:/x'))
  repeated.succeeded()
  repeated.succeeded()
  assert.equal(lines.length, 4, 'one recovery line')
  assert.equal(lines[3]?.msg, 'disk writes succeed again (after 1200 failures in 12000 ms)')
  assert.equal(lines[3]?.failures, 1200)
  repeated.failed(new Error('again'))
  assert.equal(lines.length, 5, 'a new fault is logged at once, with its error')
  assert.equal(((lines[4] as Line).err as { message: string }).message, 'again')
})
