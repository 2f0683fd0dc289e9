import { spawnReady } from '../../test/kit/spawn.js'
import { builtFile } from './build-snapshot.js'
import { trackChild } from './resources.js'

const TAIL_LINES = 40

/** A server child process that said it is ready. */
export interface Server {
  readonly pid: number
  /** http://127.0.0.1:PORT */
  readonly url: string
  /** Milliseconds from spawn to the ready line. */
  readonly readyMs: number
  /** The last lines of its standard error, for error messages. */
  stderrTail(): string
  /** Throws, with the end of its standard error, if the process has exited (e.g. crashed under load). */
  assertRunning(during: string): void
  /** Sends the signal, waits for the exit (SIGKILL after timeoutMs) and returns how it ended. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>
}

/**
 * The variables a child gets: only what a process needs, so that the caller's shell settings
 * (EXP_UNIT_MS, NODE_OPTIONS, ...) never change what is measured.
 */
export function cleanEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {}
  for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR']) {
    const value = process.env[name]
    if (value !== undefined) base[name] = value
  }
  return { ...base, ...env }
}

/**
 * Node options for every service process, to profile one (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`,
 * or `--import=<dist/bench/lib/gc-log.js>`); unset in a measuring run, since a profiler changes
 * what it measures.
 */
export const SERVICE_NODE_OPTIONS_VARIABLE = 'BENCH_SERVICE_NODE_OPTIONS'

function serviceNodeOptions(): Record<string, string> {
  const options = process.env[SERVICE_NODE_OPTIONS_VARIABLE]
  return options ? { NODE_OPTIONS: options } : {}
}

/**
 * The built service (`node dist/src/cli.js serve`) on a free port of 127.0.0.1; with `cpu`, pinned
 * to that core with taskset (every thread of it).
 */
export function startService(
  env: Record<string, string>,
  readyTimeoutMs = 120_000,
  cpu?: number,
): Promise<Server> {
  return startServer({
    label: 'banditjoin',
    args: [builtFile('dist/src/cli.js'), 'serve'],
    env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...serviceNodeOptions(), ...env },
    readyMessage: 'banditjoin is ready',
    readyTimeoutMs,
    ...(cpu !== undefined && { cpu }),
  })
}

/** The no-op Fastify baseline (bench/noop-server.ts) on a free port of 127.0.0.1. */
export function startBaseline(): Promise<Server> {
  return startServer({
    label: 'noop baseline',
    args: [builtFile('dist/bench/noop-server.js')],
    env: {},
    readyMessage: 'noop baseline is ready',
    readyTimeoutMs: 30_000,
  })
}

interface ServerOptions {
  label: string
  args: string[]
  env: Record<string, string>
  readyMessage: string
  readyTimeoutMs: number
  /** Pinned to this core (taskset, which execs Node: the pid is Node's). */
  cpu?: number
}

/** Spawns a Node server and resolves on the JSON log line `{"msg": readyMessage, "address": ...}` on stderr. */
async function startServer(options: ServerOptions): Promise<Server> {
  const server = await spawnReady({
    label: options.label,
    ...(options.cpu === undefined
      ? { args: options.args }
      : { command: 'taskset', args: ['-c', String(options.cpu), process.execPath, ...options.args] }),
    env: cleanEnv(options.env),
    ready: options.readyMessage,
    readyTimeoutMs: options.readyTimeoutMs,
    stderrTailLines: TAIL_LINES,
    onSpawn: trackChild,
  })
  const child = server.process
  return {
    pid: child.pid as number,
    url: server.url,
    readyMs: server.readyMs,
    stderrTail: server.stderr,
    assertRunning: (during) => {
      const how = child.exitCode ?? child.signalCode
      if (how !== null) throw new Error(`${options.label} exited (${how}) ${during}:\n${server.stderr()}`)
    },
    stop: (signal = 'SIGTERM', timeoutMs = 20_000) => server.stop(signal, timeoutMs),
  }
}
