import { execFileSync, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnReady } from '../kit/spawn.js'

/** The repository's root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** The environment for npm, npx and node children: this test's Node first on PATH (npm's shebang finds it). */
export function commandEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, ...extra }
}

export interface CommandRun {
  code: number | string
  stdout: string
  stderr: string
}

/** Runs a command to its end (killed after `timeoutMs`), collecting its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<CommandRun> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: commandEnv(options.env),
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
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? signal ?? -1, stdout, stderr })
    })
  })
}

/** A service started by a command (npm start, npx banditjoin serve, ...), in its own process group. */
export interface ServingCommand {
  /** http://127.0.0.1:PORT, from the service's ready line. */
  url: string
  stdout(): string
  stderr(): string
  /**
   * SIGTERM to the whole group (npm and the service under it); resolves once every process of
   * it closed its output (npm itself ends by the signal, so its exit code says nothing).
   */
  stop(): Promise<void>
}

/** Starts `command` and resolves once the service in it logged its start line (`ready`, by default in JSON). */
export async function startServing(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string>; timeoutMs?: number; ready?: RegExp },
): Promise<ServingCommand> {
  const service = await spawnReady({
    command,
    args,
    cwd: options.cwd,
    env: commandEnv(options.env),
    group: true,
    captureStdout: true,
    readyTimeoutMs: options.timeoutMs ?? 60_000,
    ...(options.ready === undefined ? {} : { ready: options.ready }),
  })
  return {
    url: service.url,
    stdout: service.stdout,
    stderr: service.stderr,
    stop: async () => {
      await service.stop()
    },
  }
}

/**
 * A copy of the repository as a fresh clone has it (tracked and untracked, not ignored files:
 * no dist/, no data/), with the repository's node_modules linked in place of an `npm ci`.
 */
export function cleanCheckout(into: string): string {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: REPO_ROOT })
    .toString()
    .split('\0')
    .filter((path) => path !== '' && existsSync(join(REPO_ROOT, path)))
  for (const path of files) {
    mkdirSync(dirname(join(into, path)), { recursive: true })
    cpSync(join(REPO_ROOT, path), join(into, path))
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(into, 'node_modules'), 'dir')
  return into
}
