/** The thread that reads the log ahead of a large replay (replay-reader.ts), on a connection of its own. */
import { workerData } from 'node:worker_threads'
import { openSqlite } from './driver.js'
import { EVENTS_FROM_SQL, type EventRow, type ReplayReaderSetup, serveReplayReads } from './replay-reader.js'

serveReplayReads(workerData as ReplayReaderSetup, (path) => {
  const db = openSqlite(path)
  const eventsFrom = db.prepare(EVENTS_FROM_SQL)
  return { read: (fromPos) => eventsFrom.all(fromPos) as EventRow[], close: () => db.close() }
})
