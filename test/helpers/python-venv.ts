import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Python tools from PyPI that tests drive (Vowpal Wabbit, schemathesis), each in a virtual
 * environment that the tests create on first use and keep under node_modules/.cache (so that
 * `npm ci` starts them afresh). Needs python3 with the venv module and access to PyPI; a
 * failure to install fails the test, never skips it.
 */

const CACHE = fileURLToPath(new URL('../../../node_modules/.cache/', import.meta.url))

function run(command: string, args: string[], timeoutMs: number): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs })
  if (result.status !== 0) {
    const why = result.error?.message ?? `exit ${result.status ?? result.signal}`
    throw new Error(`${command} ${args.join(' ')} failed (${why}):\n${result.stderr}`)
  }
  return result.stdout
}

/**
 * The `bin` directory of the environment `node_modules/.cache/<name>/venv` with `requirement`
 * installed (made, or made again if it was half made or for another requirement), checked by
 * importing `module`.
 */
export function venvBin(name: string, requirement: string, module: string): string {
  const cache = join(CACHE, name)
  const bin = join(cache, 'venv', 'bin')
  const python = join(bin, 'python')
  /** Written once the install has finished. */
  const ready = join(cache, 'ready')
  if (existsSync(ready) && readFileSync(ready, 'utf8') === requirement && existsSync(python)) return bin
  rmSync(cache, { recursive: true, force: true })
  mkdirSync(cache, { recursive: true })
  run('python3', ['-m', 'venv', join(cache, 'venv')], 120_000)
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', requirement], 600_000)
  run(python, ['-c', `import ${module}`], 60_000)
  writeFileSync(ready, requirement)
  return bin
}

/** Installs a local project folder (its pyproject.toml) into the environment of `bin`, afresh each time. */
export function pipInstall(bin: string, folder: string): void {
  const pip = [
    '-m',
    'pip',
    'install',
    '--disable-pip-version-check',
    '--quiet',
    '--force-reinstall',
    '--no-deps',
  ]
  run(join(bin, 'python'), [...pip, folder], 300_000)
}
