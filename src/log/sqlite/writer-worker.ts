/**
 * The log's writer thread: owns the one connection that writes, so that transactions and their
 * fsyncs (group commit) run beside the main thread instead of blocking it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { uncommittedAfterFailure } from '../../errors.js'
import { openForWriting } from './driver.js'
import { unpackBatch } from './packed-batch.js'
import type { WriterReply, WriterRequest, WriterSetup } from './writer-protocol.js'
import { LogWrites } from './writes.js'

const setup = workerData as WriterSetup
const WAL_PAGES_BEFORE_COMMIT_CHECKPOINTS = 4096
const db = openForWriting(setup.path, setup.durability)
// The checkpointer thread copies the WAL back; a commit checkpoints only past this many pages
// (16 MiB), to reset a WAL that concurrent checkpoints never leave fully copied at a quiet moment.
db.exec(`PRAGMA wal_autocheckpoint = ${WAL_PAGES_BEFORE_COMMIT_CHECKPOINTS}`)
const writes = new LogWrites(db)
/** Commits that failed so far (see WriterRequest's failuresSeen). */
let failures = 0
parentPort?.postMessage({ id: 0, ok: true, result: 'ready' } satisfies WriterReply)

function handle(request: WriterRequest): unknown {
  switch (request.op) {
    case 'commit':
      if (request.failuresSeen < failures) {
        throw uncommittedAfterFailure()
      }
      try {
        return writes.commit(unpackBatch(request.batch))
      } catch (error) {
        failures++
        throw error
      }
    case 'compact':
      return writes.compact(request.options, request.lastPos)
    case 'resetSettings':
      return writes.resetSettings(request.settings, request.lastPos)
    case 'close':
      db.close()
      return undefined
  }
}

parentPort?.on('message', (request: WriterRequest) => {
  let reply: WriterReply
  try {
    reply = { id: request.id, ok: true, result: handle(request) }
  } catch (error) {
    const { message, code } = error as { message: string; code?: string }
    reply = { id: request.id, ok: false, message, code }
  }
  parentPort?.postMessage(reply)
  if (request.op === 'close') parentPort?.close()
})
