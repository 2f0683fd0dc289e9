import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { trackChild } from './resources.js'
import { cleanEnv } from './spawn.js'

/** The Maven module of the Kafka Streams peer (this file is dist/bench/lib/kstreams-peer.js). */
const MODULE = fileURLToPath(new URL('../../../bench/peers/kstreams/', import.meta.url))
/** What JoinApp prints once Kafka Streams is RUNNING. */
const RUNNING = 'kstreams peer is running'
const CLASSPATH = `${join(MODULE, 'target', 'kstreams-peer.jar')}:${join(MODULE, 'target', 'lib', '*')}`

/** Why the peer cannot run here (no Java, no Maven), or undefined. */
export function kstreamsPeerUnavailable(): string | undefined {
  for (const [command, what] of [
    ['java', 'Java 17+'],
    ['mvn', 'Maven'],
  ] as const) {
    if (spawnSync(command, ['-version'], { stdio: 'ignore' }).status !== 0)
      return `the Kafka Streams peer needs ${what} (${command} not found)`
  }
  return undefined
}

/**
 * Builds the peer's jar and copies its dependencies (target/lib, emptied first so that no jar of an
 * older pom stays on the classpath): offline from ~/.m2 when it has everything, else once online.
 */
export function buildKstreamsPeer(): void {
  rmSync(join(MODULE, 'target', 'lib'), { recursive: true, force: true })
  for (const offline of [['-o'], []]) {
    const built = spawnSync('mvn', ['-q', '-B', ...offline, 'package'], { cwd: MODULE, encoding: 'utf8' })
    if (built.status === 0) return
    if (offline.length === 0)
      throw new Error(`mvn package of ${MODULE} failed:\n${built.stdout}${built.stderr}`)
  }
}

export interface KstreamsPeerOptions {
  bootstrap: string
  input: string
  output: string
  applicationId: string
  stateDir: string
  expUnitMs: number
}

export interface KstreamsPeer {
  pid: number
  /** Resolves once it printed that the application runs (rejects if it exits first). */
  running: Promise<void>
  /** The last lines it wrote (warnings and errors). */
  outputTail(): string
  /** SIGTERM (the application closes), SIGKILL after `timeoutMs`; resolves once it has exited. */
  stop(timeoutMs?: number): Promise<void>
}

/** Starts the peer's JVM (the JVM's own defaults: JIT, GC, heap) on the events topic. */
export function startKstreamsPeer(options: KstreamsPeerOptions): KstreamsPeer {
  const args = [
    '-cp',
    CLASSPATH,
    'banditjoin.peer.JoinApp',
    ...['--bootstrap', options.bootstrap, '--input', options.input, '--output', options.output],
    ...['--application-id', options.applicationId, '--state-dir', options.stateDir],
    ...['--exp-unit-ms', String(options.expUnitMs)],
  ]
  const child: ChildProcess = trackChild(
    spawn('java', args, { env: cleanEnv({}), stdio: ['ignore', 'pipe', 'pipe'] }),
  )
  let tail = ''
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const running = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', () => {
      if (tail.includes(RUNNING)) resolve()
    })
    void exited.then(() => reject(new Error(`the Kafka Streams peer exited:\n${tail}`)))
  })
  running.catch(() => {}) // also reported by the join that waits for it
  return {
    pid: child.pid as number,
    running,
    outputTail: () => tail,
    async stop(timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      await exited
      clearTimeout(timer)
    },
  }
}
