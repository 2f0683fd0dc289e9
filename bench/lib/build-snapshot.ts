import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeTempDir } from './resources.js'

/** The project root (this file is dist/bench/lib/build-snapshot.js). */
const PROJECT = fileURLToPath(new URL('../../../', import.meta.url))
/** Ignored by git (.gitignore has `.bench-tmp/`); inside the project so that node_modules resolves. */
const SNAPSHOTS = join(PROJECT, 'bench', '.bench-tmp')
/**
 * What the service and the harness's children need: the build, the test kit its workers import
 * (sleep, spawn, the Kafka helpers), and the files it reads next to it (src/ for its assets).
 */
const PARTS = ['dist/src', 'dist/bench', 'dist/test/kit', 'src', 'package.json']
const notTypeScript = (path: string) => !path.endsWith('.ts')

let root = PROJECT

/**
 * Copies the build (and src/, package.json, which it reads assets from) so that every child of
 * this run starts from the same build, even if someone rebuilds dist/ during a long run. Removed
 * at the end with the other temp dirs.
 */
export function snapshotBuild(): string {
  const dir = makeTempDir('build', SNAPSHOTS)
  for (const part of PARTS) {
    cpSync(join(PROJECT, part), join(dir, part), { recursive: true, filter: notTypeScript })
  }
  root = dir
  return dir
}

/** A file of the build this run uses, e.g. `dist/src/cli.js`. */
export function builtFile(path: string): string {
  return join(root, path)
}
