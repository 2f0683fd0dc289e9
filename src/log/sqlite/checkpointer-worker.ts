/**
 * The log's checkpointer thread: copies the write-ahead log back into the database file on a
 * connection of its own. SQLite would otherwise do it inside whichever commit crosses its WAL
 * threshold (every few megabytes), adding milliseconds to that commit and to every request and
 * release waiting on it. A passive checkpoint runs beside the writer, never blocking it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { openForWriting } from './driver.js'
import type { CheckpointerSetup } from './writer-protocol.js'

const setup = workerData as CheckpointerSetup
const db = openForWriting(setup.path, setup.durability)

const timer = setInterval(() => {
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)')
  } catch {
    // A checkpoint that fails (disk full) is tried again next time; the WAL still holds the data.
  }
}, setup.intervalMs)

parentPort?.on('message', (request: 'close') => {
  if (request !== 'close') return
  clearInterval(timer)
  db.close()
  parentPort?.close()
})
