import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { E2E, postLikeRequests, runCli, waitFor } from '../helpers/e2e-http.js'
import { readJsonLines } from '../helpers/service.js'
import { SPEC_VARIABLES } from '../helpers/spec.js'

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
