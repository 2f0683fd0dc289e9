import { parentPort } from 'node:worker_threads'
import { checkPacked } from './batch.js'
import type { IngestLimits } from './validate.js'

/**
 * One batch to check: its text or bytes (a Buffer arrives as a plain Uint8Array) and the numbers
 * of its lines that were not UTF-8.
 */
export interface LineCheckRequest {
  body: string | Uint8Array<ArrayBuffer>
  notUtf8Lines: number[]
}

/**
 * The body of a line-checking worker thread (line-parser-pool.ts): checks the lines of each batch
 * it is sent, in order, and posts back the packed result. It holds no state between batches. The
 * limits are built by the worker's entry module, since a refusal rule cannot cross threads.
 */
export function serveLineChecks(limits: IngestLimits, maxBatchEvents: number): void {
  const port = parentPort
  if (port === null) throw new Error('serveLineChecks runs on a worker thread')
  port.on('message', ({ body, notUtf8Lines }: LineCheckRequest) => {
    const lines = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    const packed = checkPacked(lines, new Set(notUtf8Lines), limits, maxBatchEvents)
    const transfer = packed.ok
      ? [
          packed.kinds.buffer,
          packed.lineOf.buffer,
          packed.bodyBytes.buffer,
          packed.bodyLengths.buffer,
          packed.rewards.buffer,
        ]
      : []
    port.postMessage(packed, transfer as ArrayBuffer[])
  })
}
