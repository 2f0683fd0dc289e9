/**
 * The entry module of the thread that checks batch lines (src/ingest/line-parser-pool.ts): builds
 * the same limits as the main thread from the same settings (ingestLimits), then serves.
 */
import { workerData } from 'node:worker_threads'
import { type IngestSettings, ingestLimits } from './config.js'
import { serveLineChecks } from './ingest/line-parser-worker.js'

const settings = workerData as IngestSettings
serveLineChecks(ingestLimits(settings), settings.maxBatchEvents)
