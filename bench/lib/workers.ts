import { spawn } from 'node:child_process'
import { builtFile } from './build-snapshot.js'
import { trackChild } from './resources.js'
import { cleanEnv } from './spawn.js'

/** A message from a worker to the harness: progress (`start`, `end`, `ready`...), its result, or its failure. */
export interface WorkerMessage {
  type: string
  [field: string]: unknown
}

export interface WorkerOptions {
  /** Pin the worker to this core with taskset (the load generator's core). */
  cpu?: number
  /** Progress messages, as they come. */
  onMessage?: (message: WorkerMessage, pid: number) => void
  /** Killed and failed after this long. */
  timeoutMs: number
  nodeArgs?: string[]
}

export interface Worker<R> {
  pid: number
  result: Promise<R>
  send(message: WorkerMessage): void
}

export const LOAD_CORE = 1

/**
 * Runs bench/workers/<name>.ts (built) as a child process with an IPC channel: sends it its
 * config, forwards its progress messages, and resolves with its result.
 */
export function startWorker<R>(name: string, config: unknown, options: WorkerOptions): Worker<R> {
  const script = builtFile(`dist/bench/workers/${name}.js`)
  const node = [process.execPath, ...(options.nodeArgs ?? []), script]
  const [command, ...args] =
    options.cpu === undefined ? node : ['taskset', '-c', String(options.cpu), ...node]
  const child = trackChild(
    spawn(command as string, args, { env: cleanEnv({}), stdio: ['ignore', 'inherit', 'pipe', 'ipc'] }),
  )
  const pid = child.pid as number
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000)
  })
  const result = new Promise<R>((resolve, reject) => {
    let settled = false
    const settle = (action: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      action()
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      settle(() => reject(new Error(`worker ${name} timed out after ${options.timeoutMs} ms\n${stderr}`)))
    }, options.timeoutMs)
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'result') settle(() => resolve(message.result as R))
      else if (message.type === 'error') settle(() => reject(new Error(`worker ${name}: ${message.message}`)))
      else {
        try {
          options.onMessage?.(message, pid)
        } catch (error) {
          child.kill('SIGKILL')
          settle(() => reject(error))
        }
      }
    })
    child.once('exit', (code, signal) =>
      settle(() =>
        reject(new Error(`worker ${name} exited (${code ?? signal}) without a result\n${stderr}`)),
      ),
    )
  })
  child.send({ type: 'config', config })
  return {
    pid,
    result,
    send: (message) => {
      if (child.connected) child.send(message)
    },
  }
}
