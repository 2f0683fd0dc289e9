import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Everything the harness starts or creates, so that it can all be ended and removed at the end,
 * on error and on SIGINT/SIGTERM. Children are killed by their own pid only.
 */
const children = new Set<ChildProcess>()
const dirs = new Set<string>()
/** Parents of temp dirs the harness created: removed at the end if left empty. */
const parents = new Set<string>()

export function trackChild<T extends ChildProcess>(child: T): T {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** A fresh directory under `base`, by default the system temp dir (the filesystem the disk scenario measures). */
export function makeTempDir(label: string, base = tmpdir()): string {
  if (mkdirSync(base, { recursive: true }) !== undefined) parents.add(base)
  const path = mkdtempSync(join(base, `banditjoin-bench-${label}-`))
  dirs.add(path)
  return path
}

export function removeTempDir(path: string): void {
  rmSync(path, { recursive: true, force: true })
  dirs.delete(path)
}

/** The base directory temp dirs go to (reported with the machine info). */
export function tempBase(): string {
  return tmpdir()
}

export function cleanupAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  children.clear()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  dirs.clear()
  for (const parent of parents) {
    try {
      rmdirSync(parent)
    } catch {
      // Not empty: someone else's files, left alone.
    }
  }
  parents.clear()
}

/** Cleans up on exit and on the signals a user sends to stop the harness. */
export function installCleanupHandlers(): void {
  process.once('exit', cleanupAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every child and removing temp dirs\n`)
      cleanupAll()
      process.exit(130)
    })
  }
}
