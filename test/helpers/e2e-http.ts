import { type ChildProcess, spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import type { TestContext } from 'node:test'
import { CLI, type ReadyProcess, spawnCli } from '../kit/spawn.js'
import { waitFor } from '../kit/wait.js'
import { tempDir } from './service.js'

/** One pool of kept-alive sockets for every request a test sends (only to 127.0.0.1). */
export const agent = new Agent({ keepAlive: true, maxSockets: 256 })

export interface HttpAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  /** The answer parsed as JSON (undefined when it is not JSON). */
  json: unknown
}

/** Sends one request with exactly the given headers and body bytes. */
export function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * Python's `json.dumps` with its defaults (separators ', ' and ': ', ensure_ascii), which is what
 * `requests.post(url, json=...)` puts on the wire.
 */
export function pythonJson(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`,
    )
    return `{${entries.join(', ')}}`
  }
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`,
    )
  }
  return JSON.stringify(value)
}

/** The headers python-requests sends with every request. */
const REQUESTS_HEADERS = {
  'user-agent': 'python-requests/2.31.0',
  'accept-encoding': 'gzip, deflate',
  accept: '*/*',
  connection: 'keep-alive',
}

/** `requests.post(url, json=body)`, as the original client sends events. */
export function postLikeRequests(base: string, path: string, body: unknown): Promise<HttpAnswer> {
  const bytes = Buffer.from(pythonJson(body), 'utf8')
  return send(
    `${base}${path}`,
    'POST',
    { ...REQUESTS_HEADERS, 'content-type': 'application/json', 'content-length': String(bytes.length) },
    bytes,
  )
}

/** `requests.post(f"{url}/log_override?key={key}")`: no body and no Content-Type. */
export function postOverrideLikeRequests(base: string, key: string): Promise<HttpAnswer> {
  return send(`${base}/log_override?key=${encodeURIComponent(key)}`, 'POST', {
    ...REQUESTS_HEADERS,
    'content-length': '0',
  })
}

/** A JSON POST as a modern client sends it. */
export function postJson(base: string, path: string, body: unknown): Promise<HttpAnswer> {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8')
  return send(
    `${base}${path}`,
    'POST',
    { 'content-type': 'application/json', 'content-length': String(bytes.length) },
    bytes,
  )
}

/** POST /events with NDJSON lines. */
export function postBatch(base: string, events: readonly unknown[]): Promise<HttpAnswer> {
  const bytes = Buffer.from(`${events.map((e) => JSON.stringify(e)).join('\n')}\n`, 'utf8')
  return send(
    `${base}/events`,
    'POST',
    { 'content-type': 'application/x-ndjson', 'content-length': String(bytes.length) },
    bytes,
  )
}

export interface CliRun {
  code: number | string
  stdout: string
  stderr: string
}

/** Runs the built CLI to its end (or kills it after `timeoutMs`). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? signal ?? -1, stdout, stderr })
    })
  })
}

const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null

/**
 * Starts services and makes temporary directories for one test, and at its end kills what
 * still runs and removes the directories.
 */
export class E2E {
  private readonly children: ReadyProcess[] = []
  private readonly dirs: { remove(): void }[] = []

  constructor(t: TestContext) {
    t.after(async () => {
      for (const child of this.children) {
        if (isRunning(child.process)) child.process.kill('SIGKILL')
        await child.exited
      }
      for (const dir of this.dirs) dir.remove()
    })
  }

  dir(): string {
    const dir = tempDir('banditjoin-e2e-')
    this.dirs.push(dir)
    return dir.path
  }

  async start(env: Record<string, string>, args: string[] = []): Promise<ReadyProcess> {
    const child = await spawnCli(env, args)
    this.children.push(child)
    return child
  }

  /** SIGTERM, then the exit code. */
  async stop(child: ReadyProcess): Promise<number | string> {
    child.process.kill('SIGTERM')
    return child.exited
  }

  /** kill -9, then waits for the process to be gone. */
  async kill(child: ReadyProcess): Promise<void> {
    child.process.kill('SIGKILL')
    await child.exited
  }
}

/** Resolves once the service at `base` accepts a new decision again (after a full disk was given room, say). */
export async function decisionAcceptedAgain(base: string): Promise<void> {
  await waitFor('a decision accepted again', async () => {
    const answer = await postJson(base, '/log_decision', {
      key: `room-${Date.now()}`,
      action: 1,
      probability: 1,
      context: 1,
    })
    return answer.status === 200 ? true : undefined
  })
}
