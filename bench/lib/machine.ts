import { execFileSync } from 'node:child_process'
import { cpus, release, totalmem } from 'node:os'
import { tempBase } from './resources.js'

/** What the figures were measured on, and which code. */
export interface MachineInfo {
  node: string
  uname: string
  cpus: { count: number; model: string }
  memoryBytes: number
  /** Where data directories live, and its filesystem type. */
  tempDir: string
  tempFilesystem: string
  git: string
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

export function machineInfo(): MachineInfo {
  const list = cpus()
  return {
    node: process.version,
    uname: run('uname', ['-r']) || release(),
    cpus: { count: list.length, model: list[0]?.model ?? 'unknown' },
    memoryBytes: totalmem(),
    tempDir: tempBase(),
    tempFilesystem: run('findmnt', ['-no', 'FSTYPE', '-T', tempBase()]),
    git: run('git', ['describe', '--always', '--dirty', '--abbrev=12']),
  }
}
