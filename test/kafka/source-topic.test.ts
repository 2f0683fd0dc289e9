/**
 * Joining the user's own topic (KAFKA_SOURCE_TOPIC, the original's "SOURCE"): events produced
 * there by the user's own producers, keyed by decision key, as JSON lines of SPEC §1, are joined
 * like those the HTTP API takes; a record that is not an event is dead-lettered, not dropped.
 * Real time: the broker and the service are child processes on their own clock.
 */

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Producer } from '@platformatic/kafka'
import { type KafkaCluster, kafkaUnavailable, startKafkaCluster } from '../kit/kafka-cluster.js'
import { createSourceTopic, TopicReader } from '../kit/kafka-topic.js'
import { type ReadyProcess, spawnCli } from '../kit/spawn.js'
import { sleep } from '../kit/wait.js'

const E = 1000
const skip = kafkaUnavailable()
let cluster: KafkaCluster
let service: ReadyProcess
let producer: Producer<string, string, string, string>
let joined: TopicReader
let deadLetters: TopicReader

async function until<T>(what: string, read: () => T, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

before(async () => {
  if (skip !== undefined) return
  cluster = await startKafkaCluster({ brokers: 1 })
  producer = await createSourceTopic(cluster.bootstrap, 'user.bandit-events', 2)
  service = await spawnCli({
    KAFKA_BROKERS: cluster.bootstrap,
    KAFKA_SOURCE_TOPIC: 'user.bandit-events',
    KAFKA_TOPIC_PREFIX: 'learner',
    KAFKA_PARTITIONS: '2',
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: '500',
  })
  joined = new TopicReader(cluster.bootstrap, 'learner.joined')
  deadLetters = new TopicReader(cluster.bootstrap, 'learner.dead-letters')
  await Promise.all([joined.start(), deadLetters.start()])
})

after(async () => {
  service?.process.kill('SIGTERM')
  await service?.exited
  await Promise.all([joined?.close(), deadLetters?.close(), producer?.close()])
  await cluster?.stop()
})

test("events in the user's own topic are joined into the output topic", { skip }, async () => {
  const lines = (key: string) => [
    { type: 'decision', key, action: 'left', probability: 0.75, context: { from: 'source' } },
    { type: 'reward', key, reward: 2 },
  ]
  await producer.send({
    messages: ['s1', 's2', 's3'].flatMap((key) =>
      lines(key).map((line) => ({ topic: 'user.bandit-events', key, value: JSON.stringify(line) })),
    ),
  })
  const records = await until(
    'three records',
    () => joined.lines(),
    (r) => r.length >= 3,
  )
  assert.deepEqual(records.map((r) => r.key).sort(), ['s1', 's2', 's3'])
  for (const r of records) {
    assert.deepEqual([r.action, r.context, r.reward, r.reward_count], ['left', { from: 'source' }, 2, 1])
    assert.ok((r.emitted_ms as number) >= (r.decision_insert_ms as number) + E)
  }
})

test('a record of the source topic that is not an event is dead-lettered with the reason', {
  skip,
}, async () => {
  await producer.send({
    messages: [
      { topic: 'user.bandit-events', key: 'bad', value: '{"type":"decision","key":"bad","probability":2}' },
    ],
  })
  const [letter] = await until(
    'the dead letter',
    () => deadLetters.lines().filter((d) => d.reason === 'invalid'),
    (d) => d.length > 0,
  )
  assert.match(String(letter?.error), /action is required|probability/)
  assert.equal(letter?.value, '{"type":"decision","key":"bad","probability":2}')
})
