import assert from 'node:assert/strict'
import { test } from 'node:test'
import pino from 'pino'
import { OutputRouter } from '../../src/embedded/output-router.js'
import type { EmbeddedLog, SinkPosition } from '../../src/log/types.js'
import { Metrics } from '../../src/metrics.js'
import type { OutputSink } from '../../src/output/sink.js'
import type { JoinedTail } from '../../src/output/tail.js'

const SYNC_INTERVAL_MS = 100

/** An output whose syncs are counted and whose background syncs end when the test says so. */
class FakeSink implements OutputSink {
  readonly name = 'file:/fake'
  readonly stream = 'records' as const
  seq = 0
  syncsHere = 0
  readonly background: { position: SinkPosition; end: (error?: Error) => void }[] = []

  position(): SinkPosition {
    return { name: this.name, seq: this.seq, offset: this.seq * 10, fileId: '1:1' }
  }
  canWrite(): boolean {
    return true
  }
  onWritable(): void {}
  write(): void {}
  sync(): SinkPosition {
    this.syncsHere++
    return this.position()
  }
  syncInBackground(): Promise<SinkPosition> {
    const position = this.position()
    return new Promise((resolve, reject) => {
      this.background.push({ position, end: (error) => (error ? reject(error) : resolve(position)) })
    })
  }
  async flush(): Promise<void> {}
  reopen(): void {}
  close(): void {}
}

function router(sink: FakeSink, clock: { ms: number }) {
  const log = { checkpoint: { timeMs: 0, recordSeq: 0, deadLetterSeq: 0, recordBytes: 0 } } as EmbeddedLog
  const logger = pino({ level: 'silent' })
  const outputs = new OutputRouter(
    log,
    [sink],
    {} as JoinedTail,
    { now: () => clock.ms },
    new Metrics(),
    logger,
    SYNC_INTERVAL_MS,
  )
  outputs.persistedAs([sink.position()])
  return outputs
}

const settle = () => new Promise((resolve) => setImmediate(resolve))

test('a periodic sync runs in the background and its position goes to the first commit after it', async () => {
  const sink = new FakeSink()
  const clock = { ms: 1_000 }
  const outputs = router(sink, clock)
  sink.seq = 5
  assert.deepEqual(outputs.positionsToPersist(), [], 'nothing synced yet: nothing to persist')
  assert.equal(sink.background.length, 1)
  assert.equal(sink.syncsHere, 0, 'the main thread did not wait for the disk')
  // Lines written while it runs are not covered by it, and the next interval waits for it.
  sink.seq = 7
  clock.ms += SYNC_INTERVAL_MS
  assert.deepEqual(outputs.positionsToPersist(), [], 'still syncing')
  assert.equal(sink.background.length, 1, 'one background sync at a time')
  sink.background[0]?.end()
  await settle()
  const persisted = outputs.positionsToPersist()
  assert.deepEqual(
    persisted.map((p) => p.seq),
    [5],
  )
  outputs.persistedAs(persisted)
  assert.deepEqual(outputs.positionsToPersist(), [], 'handed to one commit only')
  // The interval had passed: what moved since is being synced.
  assert.equal(sink.background.length, 2)
  assert.equal(sink.background[1]?.position.seq, 7)
})

test('a failed background sync persists nothing, and the next interval tries again', async () => {
  const sink = new FakeSink()
  const clock = { ms: 1_000 }
  const outputs = router(sink, clock)
  sink.seq = 3
  outputs.positionsToPersist()
  sink.background[0]?.end(new Error('EIO'))
  await settle()
  assert.deepEqual(outputs.positionsToPersist(), [])
  clock.ms += SYNC_INTERVAL_MS
  outputs.positionsToPersist()
  assert.equal(sink.background.length, 2)
  sink.background[1]?.end()
  await settle()
  assert.deepEqual(
    outputs.positionsToPersist().map((p) => p.seq),
    [3],
  )
})

test('syncAtNextCommit syncs here and now, and a background sync begun before it is dropped', async () => {
  const sink = new FakeSink()
  const clock = { ms: 1_000 }
  const outputs = router(sink, clock)
  sink.seq = 4
  outputs.positionsToPersist()
  sink.seq = 9
  outputs.syncAtNextCommit()
  const now = outputs.positionsToPersist()
  assert.equal(sink.syncsHere, 1)
  assert.deepEqual(
    now.map((p) => p.seq),
    [9],
  )
  outputs.persistedAs(now)
  // The older position must not follow the newer one into a later commit.
  sink.background[0]?.end()
  await settle()
  assert.deepEqual(outputs.positionsToPersist(), [])
})
