/**
 * A newcomer's path through the Kafka mode, as the README gives it: `npm run kafka:dev` starts a
 * broker and says what to run next, banditjoin runs on it, and the README's learner example
 * (examples/read-joined.ts, run as built) reads the joined records. Against aborted transactions
 * the example shows none of their records, where @platformatic/kafka's own Consumer shows some.
 * Real time: the broker, the service and the example are child processes on their own clock.
 */

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  Admin,
  ConfigResourceTypes,
  Consumer,
  type Message,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka'
import { TRANSACTIONAL_PRODUCER_DEFAULTS } from '../../src/kafka/client-fixes.js'
import { kafkaUnavailable } from '../kit/kafka-cluster.js'
import { freePort } from '../kit/ports.js'
import { type ReadyProcess, spawnCli } from '../kit/spawn.js'
import { sleep, waitFor } from '../kit/wait.js'

const DEV = fileURLToPath(new URL('../helpers/kafka-dev.js', import.meta.url))
const EXAMPLE = fileURLToPath(new URL('../../examples/read-joined.js', import.meta.url))
const EXAMPLE_SOURCE = fileURLToPath(new URL('../../../examples/read-joined.ts', import.meta.url))
const README = fileURLToPath(new URL('../../../README.md', import.meta.url))
interface Child {
  process: ChildProcess
  stdout(): string
  stderr(): string
  exited: Promise<number | string>
}

function start(args: string[]): Child {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk))
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk))
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  return { process: child, stdout: () => out, stderr: () => err, exited }
}

async function until(what: string, check: () => boolean, child: Child, timeoutMs = 30_000): Promise<void> {
  const notSeen = () => `${what}: not seen; stdout:\n${child.stdout()}\nstderr:\n${child.stderr()}`
  await waitFor(
    what,
    () => {
      if (check()) return true
      if (child.process.exitCode !== null) throw new Error(notSeen())
      return false
    },
    { timeoutMs, everyMs: 50, detail: notSeen },
  )
}

/** Runs the learner example until it prints a record with `key` `last`; returns the keys it printed. */
async function readWithExample(bootstrap: string, topic: string, last: string, group?: string) {
  const reader = start([
    EXAMPLE,
    '--brokers',
    bootstrap,
    '--topic',
    topic,
    ...(group === undefined ? [] : ['--group', group]),
  ])
  try {
    const keys = () =>
      reader
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).key as string)
    await until(`the example printing ${last}`, () => keys().includes(last), reader)
    // A moment for the group's commit of the last record (autocommit) before the stop.
    await sleep(1000)
    reader.process.kill('SIGTERM')
    assert.equal(await reader.exited, 0, reader.stderr())
    return keys()
  } finally {
    reader.process.kill('SIGKILL')
  }
}

describe('the Kafka mode from a fresh checkout', { skip: kafkaUnavailable(), timeout: 300_000 }, () => {
  let port: number
  let bootstrap: string
  let dev: Child
  let service: ReadyProcess | undefined

  before(async () => {
    port = await freePort()
    bootstrap = `127.0.0.1:${port}`
    dev = start([DEV, '--port', String(port)])
    await until('kafka:dev being up', () => dev.stdout().includes('npm run kafka:read'), dev, 120_000)
  })

  after(async () => {
    service?.process.kill('SIGKILL')
    dev?.process.kill('SIGINT')
    await dev?.exited
  })

  test('kafka:dev prints the bootstrap address and the commands; one node, replication 1, min ISR 1', async () => {
    const [first, ...rest] = dev.stdout().split('\n')
    assert.equal(first, bootstrap)
    const text = rest.join('\n')
    assert.ok(text.includes(`KAFKA_BROKERS=${bootstrap} npm start`), text)
    assert.ok(text.includes(`npm run kafka:read -- --brokers ${bootstrap}`), text)
    const admin = new Admin({ clientId: 'check', bootstrapBrokers: [bootstrap] })
    try {
      const [broker] = await admin.describeConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.BROKER,
            resourceName: '1',
            configurationKeys: [
              'offsets.topic.replication.factor',
              'transaction.state.log.replication.factor',
              'transaction.state.log.min.isr',
              'min.insync.replicas',
            ],
          },
        ],
      })
      const values = Object.fromEntries((broker?.configs ?? []).map((c) => [c.name, c.value]))
      assert.deepEqual(values, {
        'offsets.topic.replication.factor': '1',
        'transaction.state.log.replication.factor': '1',
        'transaction.state.log.min.isr': '1',
        'min.insync.replicas': '1',
      })
    } finally {
      await admin.close()
    }
  })

  test('kafka:dev on a port already taken says so and exits 1', async () => {
    const second = start([DEV, '--port', String(port)])
    assert.equal(await second.exited, 1)
    assert.match(second.stderr(), new RegExp(`127\\.0\\.0\\.1:${port} is taken .*--port N`))
  })

  test("banditjoin on it, as the README says: a decision's record is read by the learner example", async () => {
    service = await spawnCli({
      KAFKA_BROKERS: bootstrap,
      KAFKA_TOPIC_PREFIX: 'newcomer',
      KAFKA_PARTITIONS: '2',
      EXP_UNIT_MS: '1000',
    })
    const answer = await fetch(`${service.url}/log_decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'k1', action: 'a', probability: 0.5, context: { user: 7 } }),
    })
    assert.equal(answer.status, 200)
    const reader = start([EXAMPLE, '--brokers', bootstrap, '--topic', 'newcomer.joined'])
    try {
      await until('the record of k1', () => reader.stdout().includes('"k1"'), reader)
      const record = JSON.parse(reader.stdout().split('\n')[0] as string)
      assert.equal(record.key, 'k1')
      assert.deepEqual(record.context, { user: 7 })
      assert.equal(record.reward, 0)
    } finally {
      reader.process.kill('SIGKILL')
    }
  })

  test('the learner example shows no record of an aborted transaction; with --group it resumes', async () => {
    const topic = 'learner.aborts'
    const admin = new Admin({ clientId: 'admin', bootstrapBrokers: [bootstrap] })
    const txProducer = new Producer({
      clientId: 'tx',
      bootstrapBrokers: [bootstrap],
      serializers: stringSerializers,
      transactionalId: 'newcomer-tx',
      ...TRANSACTIONAL_PRODUCER_DEFAULTS,
    })
    const plain = new Consumer({
      clientId: 'plain',
      groupId: 'plain',
      bootstrapBrokers: [bootstrap],
      deserializers: stringDeserializers,
      maxWaitTime: 200,
    })
    // Transactions of one producer: several aborted ones reach a reader in one fetch.
    const write = async (round: string, outcomes: ('aborted' | 'committed')[]) => {
      for (const [i, outcome] of outcomes.entries()) {
        const transaction = await txProducer.beginTransaction()
        await transaction.send({
          messages: ['a', 'b'].map((s) => ({
            topic,
            value: JSON.stringify({ key: `${round}-${outcome}-${i}${s}` }),
          })),
        })
        if (outcome === 'committed') await transaction.commit()
        else await transaction.abort()
      }
      const end = await txProducer.beginTransaction()
      await end.send({ messages: [{ topic, value: JSON.stringify({ key: `${round}-end` }) }] })
      await end.commit()
    }
    try {
      await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 })
      await write('r1', ['aborted', 'committed', 'aborted', 'committed'])

      // The example reads the whole topic, read_committed: the committed records only.
      assert.deepEqual(await readWithExample(bootstrap, topic, 'r1-end'), [
        'r1-committed-1a',
        'r1-committed-1b',
        'r1-committed-3a',
        'r1-committed-3b',
        'r1-end',
      ])
      // What the test guards against: the library's own Consumer, also read_committed, shows the
      // first aborted transaction (client fix 2). If this fails, the library has fixed it.
      const leaked: string[] = []
      const stream = await plain.consume({ topics: [topic], mode: 'earliest', autocommit: false })
      for await (const message of stream as AsyncIterable<Message<string, string, string, string>>) {
        const { key } = JSON.parse(message.value) as { key: string }
        leaked.push(key)
        if (key === 'r1-end') break
      }
      assert.ok(leaked.includes('r1-aborted-0a'), `the plain consumer read ${leaked.join(', ')}`)

      // As a learner: a group's first run reads everything committed, the next only what is new.
      assert.deepEqual((await readWithExample(bootstrap, topic, 'r1-end', 'learner')).at(-1), 'r1-end')
      await write('r2', ['aborted', 'aborted', 'committed'])
      assert.deepEqual(await readWithExample(bootstrap, topic, 'r2-end', 'learner'), [
        'r2-committed-2a',
        'r2-committed-2b',
        'r2-end',
      ])
    } finally {
      await plain.close(true)
      await txProducer.close()
      await admin.close()
    }
  })
})

test("the README's learner example is examples/read-joined.ts, word for word", () => {
  // From the first import on (the file's header comment says how to run it).
  const source = readFileSync(EXAMPLE_SOURCE, 'utf8')
  const code = source.slice(source.indexOf('import '))
  assert.ok(readFileSync(README, 'utf8').includes(code), 'README.md shows examples/read-joined.ts')
})
