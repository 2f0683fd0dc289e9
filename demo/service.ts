import { mkdtempSync, rmSync } from 'node:fs'
import { type ClientRequest, get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnCli } from '../test/kit/spawn.js'
import { sleep } from '../test/kit/wait.js'

export interface RunningService {
  url: string
  /** Stops the service (SIGTERM, SIGKILL after 20 s), waits for it to exit and removes its data directory. */
  stop(): Promise<void>
}

/**
 * Starts the built banditjoin (`dist/src/cli.js serve`) on a free port with a fresh temporary
 * data directory and the given settings; resolves once it says it is ready.
 */
export async function startService(env: Record<string, string>): Promise<RunningService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'banditjoin-demo-'))
  try {
    const service = await spawnCli(
      {
        DATA_DIR: dataDir,
        OUTPUT: `file:${join(dataDir, 'joined.jsonl')}`,
        DURABILITY: 'process',
        ...env,
      },
      [],
      { captureStdout: false },
    )
    return {
      url: service.url,
      stop: async () => {
        await service.stop()
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
}

/** POSTs NDJSON lines to /events, retrying after a 503 as its Retry-After says. */
export async function postEvents(url: string, lines: readonly unknown[]): Promise<void> {
  if (lines.length === 0) return
  const body = lines.map((line) => JSON.stringify(line)).join('\n')
  for (;;) {
    const res = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
    })
    const text = await res.text()
    if (res.status === 200) return
    if (res.status !== 503) throw new Error(`POST /events answered ${res.status}: ${text}`)
    await sleep(1000 * Number(res.headers.get('retry-after') ?? 1))
  }
}

/**
 * A live subscription to GET /joined: calls `onRecord` for each joined record as it arrives. If
 * the stream ends (a consumer too far behind is disconnected), it resumes from the last seq + 1.
 * Returns a function that closes the subscription (and its socket).
 */
export function followJoined(url: string, onRecord: (record: Record<string, unknown>) => void): () => void {
  let next = 1
  let closed = false
  let request: ClientRequest | undefined
  const follow = () => {
    if (closed) return
    let pending = ''
    request = get(`${url}/joined?from=${next}`, (response) => {
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        pending += chunk
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) {
          if (line.trim() === '') continue // keep-alive
          const record = JSON.parse(line) as Record<string, unknown>
          next = (record.seq as number) + 1
          onRecord(record)
        }
      })
      response.on('end', () => setTimeout(follow, 200))
      response.on('error', () => {})
    })
    request.on('error', (error) => {
      if (closed) return
      process.stderr.write(`\nGET /joined: ${error.message}; resuming from ${next}\n`)
      setTimeout(follow, 200)
    })
  }
  follow()
  return () => {
    closed = true
    request?.destroy()
  }
}
