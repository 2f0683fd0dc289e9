import assert from 'node:assert/strict'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type TestContext, test } from 'node:test'
import type { OutputLine } from '../../src/log/types.js'
import { FileSink } from '../../src/output/file-sink.js'
import { smallFilesystem } from '../helpers/small-fs.js'

/** A path in a fresh directory removed after the test, and a place to collect warnings. */
function setup(t: TestContext): { path: string; warnings: string[]; warn: (message: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'banditjoin-sink-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const warnings: string[] = []
  return { path: join(dir, 'joined.jsonl'), warnings, warn: (message) => warnings.push(message) }
}

/** A sink closed after the test (sinks closed by the test itself are not in this list). */
function sink(t: TestContext, ...args: ConstructorParameters<typeof FileSink>): FileSink {
  const s = new FileSink(...args)
  let closed = false
  const close = s.close.bind(s)
  s.close = () => {
    closed = true
    close()
  }
  t.after(() => {
    if (!closed) close()
  })
  return s
}

const lines = (from: number, to: number): OutputLine[] =>
  Array.from({ length: to - from + 1 }, (_, i) => {
    const seq = from + i
    return { seq, line: `{"seq":${seq},"x":"${'é'.repeat(seq % 3)}"}` }
  })

const text = (ls: OutputLine[]) => ls.map((l) => `${l.line}\n`).join('')

test('a new sink appends lines newline-terminated and its position follows them', (t) => {
  const { path, warnings, warn } = setup(t)
  const s = sink(t, path, 'records', undefined, 0, warn)
  const { ino, dev } = statSync(path)
  assert.deepEqual(s.position(), { name: `file:${path}`, seq: 0, offset: 0, fileId: `${dev}:${ino}` })
  s.write(lines(1, 3))
  s.write([])
  s.sync()
  assert.equal(readFileSync(path, 'utf8'), text(lines(1, 3)))
  assert.deepEqual(s.position(), {
    name: `file:${path}`,
    seq: 3,
    offset: Buffer.byteLength(text(lines(1, 3))),
    fileId: `${dev}:${ino}`,
  })
  assert.deepEqual(warnings, [])
})

test('a dead-letter sink is named after its stream', (t) => {
  const { path, warn } = setup(t)
  assert.equal(sink(t, path, 'deadLetters', undefined, 0, warn).name, `dead_letter:${path}`)
})

test('a new sink starts at startSeq, after what the file holds, and warns that the file is not empty', (t) => {
  const { path, warnings, warn } = setup(t)
  writeFileSync(path, 'old line\n')
  const s = sink(t, path, 'records', undefined, 7, warn)
  assert.equal(s.position().seq, 7)
  assert.equal(s.position().offset, 9)
  assert.equal(warnings.length, 1)
  assert.ok(warnings[0]?.includes(path) && warnings[0].includes('9 bytes'), warnings[0])
  s.write(lines(8, 8))
  assert.equal(readFileSync(path, 'utf8'), `old line\n${text(lines(8, 8))}`)
})

test('a restart with the saved position of the same file cuts off what was written after it and continues', (t) => {
  const { path, warnings, warn } = setup(t)
  const first = sink(t, path, 'records', undefined, 0, warn)
  first.write(lines(1, 2))
  first.sync()
  const saved = first.position()
  first.write(lines(3, 5))
  first.close()
  assert.equal(readFileSync(path, 'utf8'), text(lines(1, 5)))

  const second = sink(t, path, 'records', saved, 0, warn)
  assert.equal(statSync(path).size, saved.offset)
  assert.equal(readFileSync(path, 'utf8'), text(lines(1, 2)))
  assert.deepEqual(second.position(), saved)
  second.write(lines(3, 5))
  assert.equal(readFileSync(path, 'utf8'), text(lines(1, 5)), 'no gap, no duplicate')
  assert.equal(second.position().offset, statSync(path).size)
  assert.deepEqual(warnings, [])
})

test('a restart with the saved position at the end of the file keeps every byte', (t) => {
  const { path, warnings, warn } = setup(t)
  const first = sink(t, path, 'records', undefined, 0, warn)
  first.write(lines(1, 4))
  const saved = first.position()
  first.close()
  const second = sink(t, path, 'records', saved, 0, warn)
  assert.equal(readFileSync(path, 'utf8'), text(lines(1, 4)))
  assert.deepEqual(second.position(), saved)
  assert.deepEqual(warnings, [])
})

test('a saved position of another file (rotated while stopped) appends to the file at the path and warns', (t) => {
  const { path, warnings, warn } = setup(t)
  const first = sink(t, path, 'records', undefined, 0, warn)
  first.write(lines(1, 2))
  const saved = first.position()
  first.close()
  renameSync(path, `${path}.1`)
  writeFileSync(path, 'someone else\n')

  const second = sink(t, path, 'records', saved, 0, warn)
  assert.equal(readFileSync(path, 'utf8'), 'someone else\n', 'the new file is not cut')
  assert.equal(readFileSync(`${path}.1`, 'utf8'), text(lines(1, 2)))
  assert.equal(warnings.length, 1)
  assert.ok(warnings[0]?.includes('rotated') && warnings[0].includes('line 3'), warnings[0])
  const position = second.position()
  assert.equal(position.seq, 2)
  assert.equal(position.offset, 13)
  assert.notEqual(position.fileId, saved.fileId)
  second.write(lines(3, 3))
  assert.equal(readFileSync(path, 'utf8'), `someone else\n${text(lines(3, 3))}`)
})

test('a saved position of a file that was rotated away and not replaced starts a new file with a warning', (t) => {
  const { path, warnings, warn } = setup(t)
  const first = sink(t, path, 'records', undefined, 0, warn)
  first.write(lines(1, 2))
  const saved = first.position()
  first.close()
  renameSync(path, `${path}.1`)
  const second = sink(t, path, 'records', saved, 0, warn)
  assert.equal(warnings.length, 1)
  second.write(lines(3, 3))
  assert.equal(readFileSync(path, 'utf8'), text(lines(3, 3)))
  assert.equal(second.position().seq, 3)
})

test('a file shorter than its saved position is appended to, not cut, with a warning', (t) => {
  const { path, warnings, warn } = setup(t)
  const first = sink(t, path, 'records', undefined, 0, warn)
  first.write(lines(1, 3))
  const saved = first.position()
  first.close()
  truncateSync(path, 5)
  const second = sink(t, path, 'records', saved, 0, warn)
  assert.equal(statSync(path).size, 5)
  assert.equal(second.position().offset, 5)
  assert.equal(second.position().seq, 3)
  assert.equal(warnings.length, 1)
  assert.ok(warnings[0]?.includes('shorter'), warnings[0])
})

test('reopen() after a rename writes the following lines to a new file at the path', (t) => {
  const { path, warnings, warn } = setup(t)
  const s = sink(t, path, 'records', undefined, 0, warn)
  s.write(lines(1, 2))
  const before = s.position()
  renameSync(path, `${path}.1`)
  s.reopen()
  const after = s.position()
  assert.notEqual(after.fileId, before.fileId)
  assert.equal(after.offset, 0)
  assert.equal(after.seq, 2)
  s.write(lines(3, 4))
  assert.equal(readFileSync(`${path}.1`, 'utf8'), text(lines(1, 2)))
  assert.equal(readFileSync(path, 'utf8'), text(lines(3, 4)))
  assert.equal(s.position().offset, Buffer.byteLength(text(lines(3, 4))))
  assert.deepEqual(warnings, [])
})

test('syncInBackground resolves with the position it was called at, also when the file is reopened meanwhile', async (t) => {
  const { path, warn } = setup(t)
  const s = sink(t, path, 'records', undefined, 0, warn)
  s.write(lines(1, 2))
  const at = s.position()
  const synced = s.syncInBackground()
  // Written after the call: not covered by this sync, so not in its position.
  s.write(lines(3, 3))
  renameSync(path, `${path}.1`)
  // The old descriptor is closed only once the sync using it has ended (else it would fail with EBADF).
  s.reopen()
  assert.deepEqual(await synced, at)
  s.write(lines(4, 4))
  assert.equal(readFileSync(`${path}.1`, 'utf8'), text(lines(1, 3)))
  assert.equal(readFileSync(path, 'utf8'), text(lines(4, 4)))
})

test('reopen() without a rename keeps appending to the same file', (t) => {
  const { path, warn } = setup(t)
  const s = sink(t, path, 'records', undefined, 0, warn)
  s.write(lines(1, 2))
  const before = s.position()
  s.reopen()
  assert.deepEqual(s.position(), before)
  s.write(lines(3, 3))
  assert.equal(readFileSync(path, 'utf8'), text(lines(1, 3)))
})

test('reopen() that cannot open the path throws and keeps writing to the file it had open', (t) => {
  // The old file was closed before the new one was opened, and SIGHUP killed the service.
  const { path: base, warn } = setup(t)
  const folder = join(dirname(base), 'out')
  const rotated = join(dirname(base), 'rotated')
  const path = join(folder, 'joined.jsonl')
  mkdirSync(folder)
  const s = sink(t, path, 'records', undefined, 0, warn)
  s.write(lines(1, 2))
  const before = s.position()
  renameSync(folder, rotated)
  assert.throws(() => s.reopen(), /ENOENT/)
  mkdirSync(folder)
  mkdirSync(path)
  assert.throws(() => s.reopen(), /EISDIR/)
  assert.deepEqual(s.position(), before)
  s.write(lines(3, 4))
  s.sync()
  assert.equal(readFileSync(join(rotated, 'joined.jsonl'), 'utf8'), text(lines(1, 4)))
  rmSync(path, { recursive: true })
  s.reopen()
  s.write(lines(5, 5))
  assert.equal(readFileSync(join(rotated, 'joined.jsonl'), 'utf8'), text(lines(1, 4)))
  assert.equal(readFileSync(path, 'utf8'), text(lines(5, 5)))
})

test('a position saved after a reopen restarts on the new file', (t) => {
  const { path, warnings, warn } = setup(t)
  const s = sink(t, path, 'records', undefined, 0, warn)
  s.write(lines(1, 2))
  renameSync(path, `${path}.1`)
  s.reopen()
  s.write(lines(3, 3))
  const saved = s.position()
  s.write(lines(4, 4))
  s.close()
  const again = sink(t, path, 'records', saved, 0, warn)
  assert.equal(readFileSync(path, 'utf8'), text(lines(3, 3)))
  again.write(lines(4, 4))
  assert.equal(readFileSync(path, 'utf8'), text(lines(3, 4)))
  assert.deepEqual(warnings, [])
})

test('a write that fails part way on a full disk leaves no partial line, and the lines are written whole later', (t) => {
  const mounted = smallFilesystem(t, 64 * 1024)
  if (typeof mounted !== 'string') {
    t.skip(mounted.skip)
    return
  }
  const path = join(mounted, 'joined.jsonl')
  const s = sink(t, path, 'records', undefined, 0, () => {})
  const first = lines(1, 10)
  s.write(first)
  // Fill every free page: what is left is the rest of the file's last page, less than the next write.
  const filler = join(mounted, 'filler')
  const free = statfsSync(mounted)
  writeFileSync(filler, Buffer.alloc(free.bavail * free.bsize))
  const big = Array.from({ length: 40 }, (_, i) => ({
    seq: 11 + i,
    line: `{"n":${11 + i},"pad":"${'p'.repeat(200)}"}`,
  }))
  assert.throws(() => s.write(big), /ENOSPC/)
  assert.equal(readFileSync(path, 'utf8'), text(first), 'the part that was written is cut off again')
  assert.equal(s.position().seq, 10)
  rmSync(filler)
  s.write(big)
  assert.equal(readFileSync(path, 'utf8'), text([...first, ...big]))
  assert.equal(s.position().offset, statSync(path).size)
})
