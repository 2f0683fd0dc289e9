import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { cleanCheckout, runCommand, type ServingCommand, startServing } from '../helpers/commands.js'
import { postJson } from '../helpers/e2e-http.js'
import { parseLines, tempDir } from '../helpers/service.js'
import { waitFor } from '../kit/wait.js'

// The package as a user gets it: from a fresh checkout, `npm start --silent` builds only the
// service and prints only records; `npm pack` makes a tarball that `npm install` puts into an
// empty folder, where `npx banditjoin serve` joins, and serves /status and /docs.

const SERVE_ENV = { PORT: '0', HOST: '127.0.0.1', EXP_UNIT_MS: '300', OUTPUT: 'stdout', LOG_LEVEL: 'info' }

interface PackResult {
  filename: string
  files: { path: string }[]
}

/** Logs a decision and a reward, and resolves with the joined record from the service's stdout. */
async function joinOne(service: ServingCommand, key: string): Promise<Record<string, unknown>> {
  const decision = await postJson(service.url, '/log_decision', {
    key,
    action: 'a',
    probability: 0.5,
    context: {},
  })
  assert.equal(decision.status, 200, decision.text)
  const reward = await postJson(service.url, '/log_reward', { key, reward: 2 })
  assert.equal(reward.status, 200, reward.text)
  return waitFor(`the record of ${key} on stdout`, () =>
    (parseLines(service.stdout()) as Record<string, unknown>[]).find((r) => r.key === key),
  )
}

test('a fresh checkout: npm start --silent builds only the service and writes only records to stdout', async (t) => {
  const dir = tempDir('banditjoin-checkout-')
  t.after(() => dir.remove())
  const checkout = cleanCheckout(join(dir.path, 'checkout'))
  const service = await startServing('npm', ['start', '--silent'], {
    cwd: checkout,
    env: { ...SERVE_ENV, DATA_DIR: join(dir.path, 'data') },
    timeoutMs: 120_000,
  })
  t.after(() => service.stop())
  const record = await joinOne(service, 'first-run')
  assert.equal(record.reward, 2)
  await service.stop()
  assert.match(service.stderr(), /"msg":"stopping: finishing in-flight requests and committing"/)
  // Every line npm start printed to stdout is a record: nothing of npm's banner or the build.
  const lines = service
    .stdout()
    .split('\n')
    .filter((line) => line !== '')
  assert.ok(lines.length >= 1)
  for (const line of lines) assert.ok('decision_insert_ms' in JSON.parse(line), line)
  assert.deepEqual(readdirSync(join(checkout, 'dist')), ['src'], 'npm start builds no tests, bench or demo')
})

test('npm pack gives a tarball that installs into an empty folder and serves with npx', async (t) => {
  const dir = tempDir('banditjoin-pack-')
  t.after(() => dir.remove())
  const checkout = cleanCheckout(join(dir.path, 'checkout'))
  const pack = await runCommand('npm', ['pack', '--json', '--pack-destination', dir.path], {
    cwd: checkout,
    timeoutMs: 180_000,
  })
  assert.equal(pack.code, 0, pack.stderr)
  // prepack's own output goes to stdout before npm's JSON.
  const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('\n[') + 1)) as PackResult[]
  const files = (packed as PackResult).files.map((f) => f.path)
  for (const needed of [
    'package.json',
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    'dist/src/cli.js',
    'dist/src/http/status/status.html',
    'dist/src/http/status/status.css',
    'dist/src/http/status/status.js',
    'dist/src/log/sqlite/writer-worker.js',
    'dist/src/client/index.js',
    'dist/src/client/index.d.ts',
  ])
    assert.ok(files.includes(needed), `the package lacks ${needed}`)
  const stray = files.filter(
    (f) => !/^(dist\/src\/.+\.(js|d\.ts|html|css)|[A-Z]+\.md|LICENSE|package\.json)$/.test(f),
  )
  assert.deepEqual(stray, [], 'nothing but the built service, its assets and the documents')

  const app = join(dir.path, 'app')
  mkdirSync(app)
  const install = await runCommand(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      join(dir.path, (packed as PackResult).filename),
    ],
    { cwd: app, timeoutMs: 300_000 },
  )
  assert.equal(install.code, 0, install.stderr)
  const manifest = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { version: string }
  const version = await runCommand('npx', ['banditjoin', '--version'], { cwd: app })
  assert.equal(version.stdout.trim(), manifest.version, version.stderr)
  const client = await runCommand(
    'node',
    [
      '--input-type=module',
      '-e',
      "const m = await import('banditjoin/client'); console.log(typeof m.BanditJoinClient)",
    ],
    { cwd: app },
  )
  assert.equal(client.stdout.trim(), 'function', client.stderr)

  const service = await startServing('npx', ['banditjoin', 'serve'], {
    cwd: app,
    env: { ...SERVE_ENV, DATA_DIR: join(dir.path, 'data') },
  })
  t.after(() => service.stop())
  const record = await joinOne(service, 'from-the-tarball')
  assert.equal(record.reward, 2)
  assert.equal(record.reward_count, 1)
  const status = await fetch(`${service.url}/status`)
  const page = await status.text()
  assert.equal(status.status, 200)
  assert.match(page, /<title>banditjoin status<\/title>/)
  assert.match(page, /function render\(/, 'the page script is inlined')
  const docs = await fetch(`${service.url}/docs`)
  assert.equal(docs.status, 200)
  assert.match(await docs.text(), /swagger-ui/i)
})
