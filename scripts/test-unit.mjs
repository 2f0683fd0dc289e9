#!/usr/bin/env node
/**
 * `npm run test:unit`: the fast tier for the edit-test loop. It runs the built test files
 * (dist/test/**\/*.test.js) that need nothing outside this process: no spawned process (the CLI,
 * npm, a broker, a browser, Python, Vowpal Wabbit). A file is left out when it, or a module it
 * imports from the tests (followed transitively), imports one of NEEDS_OUTSIDE; so a new test
 * joins the right tier by what it uses, whatever its folder. `npm test` runs every file.
 *
 *   node scripts/test-unit.mjs          run the fast tier
 *   node scripts/test-unit.mjs --list   print the files it would run (and why the others are out)
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Files run side by side: most of the tier's time is waiting for the join's real-time window and
 * maintenance (not CPU), so 4 at once take far less time than one at a time.
 */
const CONCURRENCY = 4

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TESTS = join(ROOT, 'dist/test')

/** Imports that mean "needs something outside this process", with why. */
const NEEDS_OUTSIDE = [
  [/^node:child_process$/, 'spawns processes'],
  [/\/kit\/spawn\.js$/, 'spawns the CLI'],
  [/\/kit\/kafka-[a-z-]+\.js$/, 'needs a Kafka broker'],
  [/\/helpers\/kafka-dev\.js$/, 'needs a Kafka broker'],
  [/\/helpers\/browser\.js$/, 'needs a browser'],
  [/\/helpers\/python-venv\.js$/, 'needs Python'],
  [/\/helpers\/vw\.js$/, 'needs Vowpal Wabbit'],
  [/^playwright-core$/, 'needs a browser'],
]

/**
 * Names imported from the tests' helpers that mean "waits seconds of real time": the join's
 * maintenance cycle (MAINTENANCE_MS). Such files join the fast tier once the join runs on a
 * manual scheduler instead.
 */
const WAITS_REAL_TIME = [
  [/\bMAINTENANCE_MS\b/, "waits for the join's maintenance in real time (MAINTENANCE_MS)"],
]

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return testFiles(path)
    return entry.name.endsWith('.test.js') ? [path] : []
  })
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g

/** Why `file` needs something outside this process (through its imports), or undefined. */
const memo = new Map()
function needsOutside(file, seen = new Set()) {
  if (memo.has(file)) return memo.get(file)
  if (seen.has(file)) return undefined
  seen.add(file)
  let why
  const source = readFileSync(file, 'utf8')
  const slow = WAITS_REAL_TIME.find(
    ([pattern]) => pattern.test(source) && !file.endsWith('/helpers/http-client.js'),
  )
  if (slow !== undefined) {
    memo.set(file, slow[1])
    return slow[1]
  }
  for (const match of source.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2] ?? match[3]
    const hit = NEEDS_OUTSIDE.find(([pattern]) => pattern.test(spec))
    if (hit !== undefined) {
      why = `${hit[1]} (${spec})`
      break
    }
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec)
      // Only the tests' own modules are followed: src/ is what is tested, in process.
      if (target.startsWith(TESTS) && existsSync(target)) {
        const inner = needsOutside(target, seen)
        if (inner !== undefined) {
          why = `${inner}, through ${relative(TESTS, target)}`
          break
        }
      }
    }
  }
  memo.set(file, why)
  return why
}

if (!existsSync(TESTS)) {
  console.error('dist/test is missing: build first (npm run build)')
  process.exit(1)
}
const all = testFiles(TESTS).sort()
const fast = all.filter((file) => needsOutside(file) === undefined)
if (process.argv.includes('--list')) {
  for (const file of all) {
    const why = needsOutside(file)
    console.log(
      `${why === undefined ? 'unit ' : 'full '} ${relative(ROOT, file)}${why === undefined ? '' : `: ${why}`}`,
    )
  }
  console.log(`${fast.length} of ${all.length} files in the fast tier`)
  process.exit(0)
}
const run = spawnSync(process.execPath, ['--test', `--test-concurrency=${CONCURRENCY}`, ...fast], {
  stdio: 'inherit',
  cwd: ROOT,
})
process.exit(run.status ?? 1)
