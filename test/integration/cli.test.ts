import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { openSqlite } from '../../src/log/sqlite/driver.js'
import { FORMAT_VERSION } from '../../src/log/sqlite/schema.js'
import { E2E, postLikeRequests, runCli } from '../helpers/e2e-http.js'
import { readJsonLines } from '../helpers/service.js'
import { SPEC_VARIABLES } from '../helpers/spec.js'
import { waitFor } from '../kit/wait.js'

// The command line of the built CLI: help, configuration errors, flags, one service per DATA_DIR.

type Line = Record<string, unknown>

const linesFor = (path: string, key: string) => (readJsonLines(path) as Line[]).filter((l) => l.key === key)

const flagOf = (name: string) => `--${name.toLowerCase().replaceAll('_', '-')}`

test('--help prints every configuration variable of SPEC §7 with its flag and exits 0', async () => {
  const run = await runCli(['--help'])
  assert.equal(run.code, 0, run.stderr)
  const missing = SPEC_VARIABLES.filter(
    (name) => !run.stdout.includes(name) || !run.stdout.includes(flagOf(name)),
  )
  assert.deepEqual(missing, [], `--help does not mention ${missing.join(', ')}`)
  const afterServe = await runCli(['serve', '--help'])
  assert.equal(afterServe.code, 0)
  assert.equal(afterServe.stdout, run.stdout)
})

test('--help lists the settings of the Kafka mode too', async () => {
  const run = await runCli(['--help'])
  assert.equal(run.code, 0, run.stderr)
  for (const name of [
    'KAFKA_TOPIC_PREFIX',
    'KAFKA_SOURCE_TOPIC',
    'KAFKA_PARTITIONS',
    'KAFKA_REPLICATION_FACTOR',
    'KAFKA_GROUP_ID',
  ]) {
    assert.ok(
      run.stdout.includes(name) && run.stdout.includes(flagOf(name)),
      `--help does not mention ${name}`,
    )
  }
})

test('a bad configuration value refuses to start with a non-zero exit naming the variable', async (t) => {
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const cases: [Record<string, string>, string[], string][] = [
    [{ EXP_UNIT_MS: '0' }, [], 'EXP_UNIT_MS'],
    [{ EXP_UNIT_MS: 'abc' }, [], 'EXP_UNIT_MS'],
    [{ EXP_UNIT_MS: '-5' }, [], 'EXP_UNIT_MS'],
    [{ REWARD_AGG: 'foo' }, [], 'REWARD_AGG'],
    [{ PORT: '99999' }, [], 'PORT'],
    [{ EXP_UNIT_MS: '500' }, ['--exp-unit-ms', '1.5'], 'EXP_UNIT_MS'],
  ]
  const runs = await Promise.all(
    cases.map(([env, args]) =>
      runCli(['serve', ...args], { DATA_DIR: join(dir, 'data'), OUTPUT: 'stdout', ...env }),
    ),
  )
  runs.forEach((run, i) => {
    const [env, args, variable] = cases[i] as (typeof cases)[number]
    const what = JSON.stringify({ env, args })
    assert.notEqual(run.code, 0, `${what} started`)
    assert.equal(typeof run.code, 'number', `${what} did not exit by itself: ${run.code}`)
    assert.match(run.stderr, new RegExp(variable), `${what}: ${run.stderr}`)
    assert.doesNotMatch(run.stderr, /banditjoin is ready/)
  })
})

test('a command-line flag wins over the environment variable of the same meaning', async (t) => {
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const output = join(dir, 'joined.jsonl')
  const service = await e2e.start(
    { DATA_DIR: join(dir, 'data'), OUTPUT: `file:${output}`, EXP_UNIT_MS: '600000' },
    ['--exp-unit-ms', '500'],
  )
  const answer = await postLikeRequests(service.url, '/log_decision', {
    key: 'flagged',
    action: 'a',
    probability: 1,
    context: '',
  })
  assert.equal(answer.status, 200, answer.text)
  const [record] = await waitFor('the record after 500 ms, not 600000', () => {
    const found = linesFor(output, 'flagged')
    return found.length > 0 ? found : undefined
  })
  const waited = (record?.emitted_ms as number) - (record?.decision_insert_ms as number)
  assert.ok(waited >= 500 && waited < 10_000, `emitted ${waited} ms after insert`)
})

test('a second service on the same DATA_DIR is refused with a clear message while the first keeps serving', async (t) => {
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const env = { DATA_DIR: join(dir, 'data'), OUTPUT: `file:${join(dir, 'joined.jsonl')}`, EXP_UNIT_MS: '500' }
  const first = await e2e.start(env)
  const second = await runCli(['serve'], { ...env, OUTPUT: `file:${join(dir, 'other.jsonl')}` })
  assert.notEqual(second.code, 0)
  assert.equal(typeof second.code, 'number')
  assert.match(second.stderr, /in use|another|locked/i, second.stderr)
  assert.match(second.stderr, /DATA_DIR|banditjoin\.db/, 'names the data directory')
  const health = await postLikeRequests(first.url, '/log_reward', { key: 'still-alive', reward: 1 })
  assert.equal(health.status, 200, 'the first service is unharmed')
  assert.equal(await e2e.stop(first), 0)
  const third = await e2e.start(env)
  assert.equal(await e2e.stop(third), 0, 'the directory is free once the first stopped')
})

test('a damaged, foreign or newer data directory is refused at start with how to recover, and left untouched', async (t) => {
  const e2e = new E2E(t)
  // A real log to damage: a few decisions, then a clean stop.
  const realDir = join(e2e.dir(), 'data')
  const real = await e2e.start({ DATA_DIR: realDir, OUTPUT: `file:${join(realDir, '..', 'out.jsonl')}` })
  for (let i = 0; i < 300; i++) {
    const answer = await postLikeRequests(real.url, '/log_decision', {
      key: `real-${i}`,
      action: 'a',
      probability: 1,
      context: 'x'.repeat(200),
    })
    assert.equal(answer.status, 200)
  }
  assert.equal(await e2e.stop(real), 0)
  const realBytes = readFileSync(join(realDir, 'banditjoin.db'))
  const newer = join(e2e.dir(), 'newer')
  mkdirSync(newer)
  writeFileSync(join(newer, 'banditjoin.db'), realBytes)
  const db = openSqlite(join(newer, 'banditjoin.db'))
  db.prepare("UPDATE meta SET value = ? WHERE name = 'format_version'").run(String(FORMAT_VERSION + 1))
  db.close()
  const foreign = join(e2e.dir(), 'foreign')
  mkdirSync(foreign)
  const other = openSqlite(join(foreign, 'banditjoin.db'))
  other.exec('CREATE TABLE accounts (id INTEGER)')
  other.close()
  const cases: [string, string, Buffer | undefined, RegExp][] = [
    ['random bytes', e2e.dir(), randomBytes(32_768), /cannot be opened as a banditjoin log/],
    ['a copy cut in half', e2e.dir(), realBytes.subarray(0, realBytes.length >> 1), /cannot be opened/],
    ['a copy cut at 8 KiB', e2e.dir(), realBytes.subarray(0, 8192), /cannot be opened/],
    ['another program’s SQLite file', foreign, undefined, /other tables \(accounts\)/],
    [
      'a newer format version',
      newer,
      undefined,
      /newer than this banditjoin understands.*run a newer banditjoin/,
    ],
  ]
  for (const [what, dir, bytes, reason] of cases) {
    const file = join(dir, 'banditjoin.db')
    if (bytes !== undefined) writeFileSync(file, bytes)
    const before = readFileSync(file)
    const run = await runCli(['serve'], { DATA_DIR: dir, OUTPUT: 'stdout' })
    assert.equal(run.code, 2, `${what}: ${run.stderr}`)
    assert.match(run.stderr, reason, what)
    assert.match(run.stderr, new RegExp(file.replaceAll('/', '\\/')), `${what}: names the file`)
    if (!/newer/.test(what))
      assert.match(run.stderr, /move the data directory away .*or restore it from a backup/, what)
    assert.doesNotMatch(run.stderr, /banditjoin is ready/)
    assert.deepEqual(readFileSync(file), before, `${what}: the file was changed`)
  }
})

test('--version prints the package version, and --help says so', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  for (const args of [['--version'], ['serve', '--version']]) {
    const run = await runCli(args)
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, `${version}\n`)
  }
  const help = await runCli(['--help'])
  assert.match(help.stdout, /--version\n {6}print the version/)
  assert.match(help.stdout, /--env-file PATH/)
})

test('a port in use is refused in one line, exit 2, before the data directory is created', async (t) => {
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.after(() => holder.close())
  const port = (holder.address() as { port: number }).port
  const dataDir = join(new E2E(t).dir(), 'never-created')
  const run = await runCli(['serve'], { PORT: String(port), DATA_DIR: dataDir })
  assert.equal(run.code, 2, run.stderr)
  assert.equal(run.stderr, `banditjoin: port ${port} is in use (set PORT)\n`)
  assert.equal(existsSync(dataDir), false, 'the data directory was not touched')
})

test('the command line names what the user typed: a bad flag value, an unknown option or command', async (t) => {
  const dataDir = join(new E2E(t).dir(), 'data')
  const badPort = await runCli(['serve', '--port=abc'], { DATA_DIR: dataDir })
  assert.equal(badPort.code, 2)
  assert.equal(badPort.stderr, 'banditjoin: --port="abc" (PORT) is invalid: accepts an integer 0..65535\n')
  const typo = await runCli(['serve', '--data-dri', dataDir])
  assert.equal(typo.code, 2)
  assert.match(typo.stderr, /unknown option --data-dri; did you mean --data-dir\?/)
  const command = await runCli(['serv'])
  assert.equal(command.code, 2)
  assert.match(command.stderr, /unknown command serv; did you mean serve\?/)
  assert.equal(existsSync(dataDir), false)
})
