/**
 * The test cluster itself (test/kit/kafka-cluster.ts), and what a 3-node cluster adds to
 * client.test.ts: replication factor 3 with min.insync.replicas 2, and a broker that dies while
 * producers, transactions and a consumer group go on.
 * Real time: the brokers are child processes on their own clock.
 */

import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import {
  Admin,
  ConfigResourceTypes,
  FindCoordinatorKeyTypes,
  type Message,
  type MessagesStream,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka'
import {
  FixedConsumer,
  TRANSACTIONAL_PRODUCER_DEFAULTS,
  txnOffsetCommit,
} from '../../src/kafka/client-fixes.js'
import { type KafkaCluster, kafkaUnavailable, startKafkaCluster } from '../kit/kafka-cluster.js'
import { OffsetsOnce } from '../kit/kafka-topic.js'
import { sleep } from '../kit/wait.js'

type Str = Message<string, string, string, string>

/** Runs a clean-up step whose failure does not matter (the library types close(force) as void). */
async function quietly(step: () => unknown): Promise<void> {
  try {
    await step()
  } catch {}
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Collects a stream's records into `into` until stopped, each offset once: around a broker's
 * death the client's stream can deliver records again at offsets it already delivered
 * (docs/kafka.md), which a reader must skip (and which made `until(... === 40)` wait for ever).
 */
function collect(stream: MessagesStream<string, string, string, string>, into: Str[]): void {
  const once = new OffsetsOnce()
  stream.on('data', (message: Str) => {
    if (once.first(message.partition, message.offset)) into.push(message)
  })
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

test('a node can be killed and restarted; stop() ends every JVM and removes the data', {
  skip: kafkaUnavailable(),
  timeout: 120_000,
}, async () => {
  const cluster = await startKafkaCluster({ brokers: 1 })
  try {
    const [node] = cluster.brokers
    assert.ok(node !== undefined)
    assert.equal(cluster.bootstrap, `127.0.0.1:${node.port}`)
    assert.ok(await portOpen(node.port))
    const pid = node.pid as number
    await node.kill('SIGKILL')
    assert.equal(node.running, false)
    assert.ok(!alive(pid))
    assert.ok(!(await portOpen(node.port)))
    await node.restart()
    assert.ok(node.running && node.pid !== pid)
    assert.ok(await portOpen(node.port))
  } finally {
    const pid = cluster.brokers[0]?.pid as number
    await cluster.stop()
    assert.ok(!alive(pid), 'the JVM is gone')
    assert.ok(!existsSync(cluster.dir), 'the data is gone')
  }
})

describe('3 nodes', { skip: kafkaUnavailable(), timeout: 300_000 }, () => {
  let cluster: KafkaCluster
  let admin: Admin

  before(async () => {
    cluster = await startKafkaCluster({ brokers: 3 })
    admin = new Admin({
      clientId: 'admin',
      bootstrapBrokers: cluster.bootstrap.split(','),
      retries: 20,
      retryDelay: 250,
    })
  })

  after(async () => {
    await admin?.close()
    await cluster?.stop()
  })

  test('topics get replication factor 3 and min.insync.replicas 2 by default', async () => {
    assert.equal(cluster.bootstrap.split(',').length, 3)
    await admin.createTopics({ topics: ['defaults'], partitions: 3 })
    const metadata = await admin.metadata({ topics: ['defaults'] })
    assert.deepEqual([...metadata.brokers.keys()].sort(), [1, 2, 3])
    for (const partition of metadata.topics.get('defaults')?.partitions ?? []) {
      assert.equal(partition.replicas.length, 3)
      assert.equal(partition.isr.length, 3)
    }
    const [config] = await admin.describeConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: 'defaults',
          configurationKeys: ['min.insync.replicas'],
        },
      ],
    })
    assert.equal(config?.configs[0]?.value, '2')
  })

  test('a partition leader dies: acks=all sends, transactions and the group go on, nothing lost or doubled', async (t) => {
    const bootstrapBrokers = cluster.bootstrap.split(',')
    await admin.createTopics({ topics: ['events', 'joined'], partitions: 2 })
    const metadata = await admin.metadata({ topics: ['events'], forceUpdate: true })
    const victim = cluster.brokers.find((b) => b.id === metadata.topics.get('events')?.partitions[0]?.leader)
    assert.ok(victim !== undefined)
    // Groups whose coordinator survives: a coordinator's move is not what this test is about.
    const groupNotOn = async (prefix: string) => {
      for (let i = 0; ; i++) {
        const [found] = await admin.findCoordinator({
          keyType: FindCoordinatorKeyTypes.GROUP,
          keys: [`${prefix}-${i}`],
        })
        if (found !== undefined && found.nodeId !== victim.id) return `${prefix}-${i}`
      }
    }
    const producer = new Producer({
      clientId: 'ingest',
      bootstrapBrokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      // Enough to ride out a leader election: the library's retries take fresh metadata (2.x).
      retries: 40,
      retryDelay: 250,
    })
    const joinerOptions = {
      bootstrapBrokers,
      serializers: stringSerializers,
      transactionalId: 'joiner-1',
      ...TRANSACTIONAL_PRODUCER_DEFAULTS,
      retries: 4,
      retryDelay: 250,
    }
    let joiner = new Producer({ ...joinerOptions, clientId: 'joiner' })
    const consumerOptions = {
      bootstrapBrokers,
      deserializers: stringDeserializers,
      maxWaitTime: 200,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
      retries: 20,
      retryDelay: 250,
    }
    const member = new FixedConsumer<string, string, string, string>({
      ...consumerOptions,
      clientId: 'member',
      groupId: await groupNotOn('joiners'),
    })
    const learner = new FixedConsumer<string, string, string, string>({
      ...consumerOptions,
      clientId: 'learner',
      groupId: await groupNotOn('learner'),
    })
    const inputs: Str[] = []
    const outputs: Str[] = []
    try {
      const send = (from: number, to: number) =>
        producer.send({
          messages: Array.from({ length: to - from }, (_, i) => ({
            topic: 'events',
            partition: (from + i) % 2,
            key: `d${from + i}`,
            value: `e${from + i}`,
          })),
        })
      await send(0, 20)
      collect(
        await member.consume({
          topics: ['events'],
          mode: 'committed',
          fallbackMode: 'earliest',
          autocommit: false,
        }),
        inputs,
      )
      collect(await learner.consume({ topics: ['joined'], mode: 'earliest', autocommit: false }), outputs)
      await until('the first inputs', () => inputs.length === 20)

      // One transaction: the outputs and the input offsets.
      const joinBatch = async (batch: Str[]) => {
        const next = new Map<number, bigint>()
        for (const m of batch) next.set(m.partition, m.offset + 1n)
        const transaction = await joiner.beginTransaction()
        await transaction.send({
          messages: batch.map((m) => ({ topic: 'joined', key: m.key, value: `j-${m.value}` })),
        })
        await txnOffsetCommit(
          joiner,
          transaction,
          member,
          [...next].map(([partition, offset]) => ({ topic: 'events', partition, offset })),
        )
        await transaction.commit()
      }
      await joinBatch(inputs.slice(0, 20))

      // The leader of events/0 dies.
      let t0 = Date.now()
      await victim.kill('SIGKILL')
      await send(20, 40)
      const sendMs = Date.now() - t0
      await until('the inputs after the failover', () => inputs.length === 40)
      const consumeMs = Date.now() - t0
      // Its transaction coordinator may have died with it: a new instance takes over the
      // transactional id (fencing the old one), as the Kafka mode would after such an error.
      await quietly(() => joiner.close(true))
      joiner = new Producer({ ...joinerOptions, clientId: 'joiner-2' })
      await joinBatch(inputs.slice(20, 40))
      await until('every output', () => outputs.length === 40)
      const allMs = Date.now() - t0

      // Exactly once: every input once, every output once.
      const sorted = (xs: string[]) => [...xs].sort()
      const expected = Array.from({ length: 40 }, (_, i) => `e${i}`)
      assert.deepEqual(sorted(inputs.map((m) => m.value)), sorted(expected))
      assert.deepEqual(sorted(outputs.map((m) => m.value)), sorted(expected.map((e) => `j-${e}`)))

      // The node comes back and catches up: every partition has 3 in-sync replicas again.
      t0 = Date.now()
      await victim.restart()
      await until('the ISRs whole again', async () => {
        const m = await admin.metadata({ topics: ['events', 'joined'], forceUpdate: true })
        return [...m.topics.values()].every((topic) => topic.partitions.every((p) => p.isr.length === 3))
      })
      const rejoinMs = Date.now() - t0
      t.diagnostic(
        `node ${victim.id} (leader of events/0) SIGKILLed: acks=all send done after ${sendMs} ms, ` +
          `the group's stream had the new records after ${consumeMs} ms, joined and read back after ${allMs} ms; ` +
          `restart to full ISR ${rejoinMs} ms`,
      )
    } finally {
      await quietly(() => member.close(true))
      await quietly(() => learner.close(true))
      await quietly(() => producer.close())
      await quietly(() => joiner.close(true))
    }
  })
})
