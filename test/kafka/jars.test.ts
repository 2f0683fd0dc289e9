/**
 * The broker's jars on a fresh checkout (test/kit/kafka-jars.ts): fetched on first use, once,
 * into BANDITJOIN_KAFKA_LIB; without Java or Maven the Kafka tests skip and say why. Each case runs
 * in a child process: the environment (PATH, the folder) is what is under test.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { kafkaUnavailable } from '../kit/kafka-jars.js'

const JARS = fileURLToPath(new URL('../kit/kafka-jars.js', import.meta.url))
const SOURCE_TOPIC_TEST = fileURLToPath(new URL('./source-topic.test.js', import.meta.url))
const scratch = mkdtempSync(join(tmpdir(), 'banditjoin-jars-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    child.once('error', reject)
    child.once('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** Calls ensureKafkaJars() `times` times in a fresh process; prints the folder's jar count. */
const ensure = (times: number) => [
  '--input-type=module',
  '-e',
  `const m = await import(${JSON.stringify(JARS)}); let lib
   for (let i = 0; i < ${times}; i++) lib = m.ensureKafkaJars()
   console.log((await import('node:fs')).readdirSync(lib).filter((f) => f.endsWith('.jar')).length)`,
]

test('without Java and Maven: the reason names what is missing, and a Kafka test file skips with it', async () => {
  const lib = join(scratch, 'no-tools')
  // Only Node's own folder on the PATH: no java, no mvn.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: dirname(process.execPath),
    BANDITJOIN_KAFKA_LIB: lib,
  }
  const check = await run(
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(JARS)}); console.log(m.kafkaUnavailable())
       try { m.ensureKafkaJars() } catch (e) { console.log(e.constructor.name) }`,
    ],
    env,
  )
  assert.equal(check.status, 0, check.stderr)
  const [reason, thrown] = check.stdout.trim().split('\n')
  assert.match(
    reason ?? '',
    /jars are not in .*no-tools and fetching them needs Java 17\+ \(found none\) and Maven \(mvn\)/,
  )
  assert.equal(thrown, 'KafkaJarsMissingError')

  // Without NODE_TEST_CONTEXT, which would make the inner runner report to this one instead.
  const { NODE_TEST_CONTEXT: _, ...outside } = env
  const tests = await run(['--test', '--test-reporter=tap', SOURCE_TOPIC_TEST], outside)
  assert.equal(tests.status, 0, `${tests.stdout}${tests.stderr}`)
  assert.match(tests.stdout, /# SKIP no Kafka broker: its jars are not in/)
  assert.match(tests.stdout, /# fail 0/)
  assert.match(tests.stdout, /# skipped 2/)
  assert.ok(!existsSync(lib), 'nothing was fetched')
})

test('on first use the jars are fetched into an empty folder, once, also by two processes at once', {
  skip: kafkaUnavailable(),
  timeout: 300_000,
}, async () => {
  const lib = join(scratch, 'fresh', 'lib')
  const env = { ...process.env, BANDITJOIN_KAFKA_LIB: lib }
  const [a, b] = await Promise.all([run(ensure(2), env), run(ensure(1), env)])
  for (const r of [a, b]) assert.equal(r.status, 0, r.stderr)
  const fetches = [a, b].filter((r) => r.stderr.includes("kafka: fetching the broker's jars into"))
  assert.equal(fetches.length, 1, `one process fetched; the other waited for it:\n${a.stderr}\n${b.stderr}`)
  const jars = readdirSync(lib).filter((f) => f.endsWith('.jar'))
  assert.ok(
    jars.some((f) => f.startsWith('kafka_2.13-')),
    jars.join(' '),
  )
  assert.equal(a.stdout.trim(), String(jars.length))
  assert.equal(b.stdout.trim(), String(jars.length))

  const again = await run(ensure(1), env)
  assert.equal(again.status, 0, again.stderr)
  assert.equal(again.stderr, '', 'cached: fetch.sh is not even run')
})
