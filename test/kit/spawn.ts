/**
 * A server as a child process, resolved once it logged that it is ready: the one "spawn and wait
 * until ready" of the tests, the benchmark and the demo. The built CLI (`spawnCli`) is the usual
 * case; `spawnReady` takes any command (npm start, npx banditjoin, the benchmark's baseline).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The built CLI (this file runs from dist/test/kit/). */
export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))

/** The `msg` of banditjoin's JSON start line (its `address` is the URL). */
export const READY_MESSAGE = 'banditjoin is ready'

export interface SpawnReadyOptions {
  /** Default: this Node (`process.execPath`). */
  command?: string
  args: readonly string[]
  /** The child's whole environment (spread `process.env` into it to inherit). */
  env: NodeJS.ProcessEnv
  cwd?: string
  /** In a process group of its own: signals go to the whole group (e.g. npm and the service under it). */
  group?: boolean
  /**
   * How a line of standard error says "ready": a string is the `msg` of a JSON log line whose
   * `address` is the URL; a RegExp's group 1 is the URL. Default: banditjoin's JSON start line.
   */
  ready?: string | RegExp
  /** Killed (SIGKILL) and rejected if not ready by then; default: no bound (the test's own). */
  readyTimeoutMs?: number
  /** The name in error messages. */
  label?: string
  /** Collect standard output (default: ignored). */
  captureStdout?: boolean
  /** Keep only the last lines of standard error (a long run's logs); default: all of it. */
  stderrTailLines?: number
  /** Called with the child as soon as it is spawned (e.g. to kill it should the caller die). */
  onSpawn?: (child: ChildProcess) => void
}

export interface ReadyProcess {
  process: ChildProcess
  /** http://HOST:PORT, from the ready line. */
  url: string
  /** Milliseconds from spawn to the ready line. */
  readyMs: number
  stdout(): string
  /** Its standard error (or its last `stderrTailLines` lines). */
  stderr(): string
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>
  /**
   * Sends `signal` (to the group, if in one) unless it already exited, SIGKILL after
   * `timeoutMs`; resolves once its output is closed (every process of the group ended), with
   * how it exited.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>
}

/** Spawns `command` and resolves once a line of its standard error says it is ready. */
export async function spawnReady(options: SpawnReadyOptions): Promise<ReadyProcess> {
  const command = options.command ?? process.execPath
  const label = options.label ?? [command, ...options.args].join(' ')
  const spawnedAt = performance.now()
  const child = spawn(command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', options.captureStdout === true ? 'pipe' : 'ignore', 'pipe'],
    detached: options.group === true,
  })
  options.onSpawn?.(child)
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  const tail = options.stderrTailLines
  let err = ''
  const lines: string[] = []
  let partial = ''
  const stderr = () =>
    tail === undefined ? err : [...lines, ...(partial === '' ? [] : [partial])].join('\n')
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const send = (signal: NodeJS.Signals) => {
    try {
      if (options.group === true) process.kill(-(child.pid as number), signal)
      else child.kill(signal)
    } catch {
      // already gone
    }
  }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000) => {
    if (child.exitCode === null && child.signalCode === null) send(signal)
    const timer = setTimeout(() => send('SIGKILL'), timeoutMs)
    try {
      await closed
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }
  const readyIn = readyMatcher(options.ready ?? READY_MESSAGE)
  const url = await new Promise<string>((resolve, reject) => {
    const timer =
      options.readyTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            send('SIGKILL')
            reject(new Error(`${label} not ready after ${options.readyTimeoutMs} ms:\n${stderr()}`))
          }, options.readyTimeoutMs)
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString()
      if (tail === undefined) err += text
      const split = (partial + text).split('\n')
      partial = split.pop() ?? ''
      for (const line of split) {
        if (tail !== undefined) {
          lines.push(line)
          if (lines.length > tail) lines.shift()
        }
        const address = readyIn(line)
        if (address !== undefined) {
          clearTimeout(timer)
          resolve(address)
        }
      }
    })
    exited.then((how) => {
      clearTimeout(timer)
      reject(new Error(`${label} exited (${how}) before it was ready:\n${stderr()}`))
    })
  })
  const readyMs = performance.now() - spawnedAt
  return { process: child, url, readyMs, stdout: () => out, stderr, exited, stop }
}

function readyMatcher(ready: string | RegExp): (line: string) => string | undefined {
  if (ready instanceof RegExp) return (line) => ready.exec(line)?.[1]
  const msg = `"msg":${JSON.stringify(ready)}`
  return (line) => (line.includes(msg) ? /"address":"([^"]+)"/.exec(line)?.[1] : undefined)
}

/**
 * The built CLI's `serve` (`dist/src/cli.js serve`) on a free port of 127.0.0.1 with this
 * process's environment, JSON logs at info and `env`; resolves when it is ready.
 */
export function spawnCli(
  env: Record<string, string>,
  args: readonly string[] = [],
  options: Omit<SpawnReadyOptions, 'args' | 'env'> = {},
): Promise<ReadyProcess> {
  return spawnReady({
    label: 'banditjoin',
    captureStdout: true,
    ...options,
    args: [CLI, 'serve', ...args],
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
  })
}
