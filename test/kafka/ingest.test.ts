/** Kafka ingest without a broker: a producer that answers when the test says so. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Producer } from '@platformatic/kafka'
import { BanditJoinError } from '../../src/errors.js'
import type { IncomingEvent } from '../../src/ingest/validate.js'
import { MAX_REQUEST_BYTES } from '../../src/kafka/chunks.js'
import { ACK_TIMEOUT_MS, KafkaIngestor, partitionOf } from '../../src/kafka/ingest.js'
import { Metrics } from '../../src/metrics.js'

interface Sent {
  messages: { topic: string; key: string; value: string }[]
  settle(error?: Error): void
}

function fakeProducer() {
  const sends: Sent[] = []
  const producer = {
    send: ({ messages }: { messages: Sent['messages'] }) =>
      new Promise<void>((resolve, reject) =>
        sends.push({ messages, settle: (e) => (e ? reject(e) : resolve()) }),
      ),
  }
  return { sends, producer: producer as unknown as Producer<string, string, string, string> }
}

const reward = (key: string): IncomingEvent => ({
  type: 'reward',
  key,
  reward: 1,
  body: JSON.stringify({ key, reward: 1 }),
})
const tick = () => new Promise((resolve) => setImmediate(resolve))

test("a decision key's partition is the one Java's default partitioner gives it", () => {
  // Kafka 4.4.0's Utils.toPositive(Utils.murmur2(key)) % 6 for decision-0 .. decision-7 (see client.test.ts).
  const java = [4, 2, 1, 2, 0, 5, 2, 0]
  assert.deepEqual(
    java.map((_, i) => partitionOf(`decision-${i}`, 6)),
    java,
  )
})

test('requests arriving together share one produce request, keyed by decision key, as POST /events lines', async () => {
  const { sends, producer } = fakeProducer()
  const ingest = new KafkaIngestor([producer], 'bj.events', 6, 100, new Metrics())
  let answered = 0
  const a = ingest.append([reward('a')]).then(() => answered++)
  const b = ingest.append([reward('b'), reward('c')]).then(() => answered++)
  await tick()
  assert.equal(sends.length, 1)
  assert.deepEqual(sends[0]?.messages, [
    {
      topic: 'bj.events',
      partition: partitionOf('a', 6),
      key: 'a',
      value: '{"type":"reward","key":"a","reward":1}',
    },
    {
      topic: 'bj.events',
      partition: partitionOf('b', 6),
      key: 'b',
      value: '{"type":"reward","key":"b","reward":1}',
    },
    {
      topic: 'bj.events',
      partition: partitionOf('c', 6),
      key: 'c',
      value: '{"type":"reward","key":"c","reward":1}',
    },
  ])
  assert.equal(answered, 0, 'nothing is answered before the brokers acknowledged')
  sends[0]?.settle()
  await Promise.all([a, b])
  assert.equal(answered, 2)
})

test('beyond the events in flight it may hold, ingest answers 503 with Retry-After; a failed send is a 503 too', async () => {
  const { sends, producer } = fakeProducer()
  const ingest = new KafkaIngestor([producer], 'bj.events', 6, 2, new Metrics())
  const first = ingest.append([reward('a'), reward('b')])
  const [refused] = ingest.admit([reward('c')])
  assert.equal(refused?.kind, 'refuse')
  const error = (refused as { error: BanditJoinError }).error
  assert.equal(error.statusCode, 503)
  assert.ok((error.retryAfterSeconds ?? 0) > 0)
  await tick()
  // A final error (the library's retriable ones are retried until the send's deadline).
  sends[0]?.settle(
    Object.assign(new Error('NOT_ENOUGH_REPLICAS'), { code: 'PLT_KFK_PROTOCOL', canRetry: false }),
  )
  await assert.rejects(
    first,
    (e: unknown) =>
      e instanceof BanditJoinError && e.statusCode === 503 && /NOT_ENOUGH_REPLICAS/.test(e.message),
  )
  assert.equal(ingest.admit([reward('c')])[0]?.kind, 'accept', 'room again once the send settled')
})

test('closing refuses new events and waits for those already taken', async () => {
  const { sends, producer } = fakeProducer()
  const ingest = new KafkaIngestor([producer], 'bj.events', 6, 100, new Metrics())
  const taken = ingest.append([reward('a')])
  let closed = false
  const closing = ingest.close().then(() => {
    closed = true
  })
  assert.equal(ingest.admit([reward('b')])[0]?.kind, 'refuse')
  await tick()
  assert.equal(closed, false)
  sends[0]?.settle()
  await Promise.all([taken, closing])
  assert.equal(closed, true)
})

test('one produce request at a time: what arrives meanwhile goes in the next one, ticks too', async () => {
  const { sends, producer } = fakeProducer()
  const ingest = new KafkaIngestor([producer], 'bj.events', 6, 100, new Metrics())
  const first = ingest.append([reward('a')])
  await tick()
  const second = ingest.append([reward('b')])
  const ticked = ingest.tick(4)
  await tick()
  assert.equal(sends.length, 1, 'the second waits for the first to be acknowledged')
  sends[0]?.settle()
  await first
  await tick()
  assert.deepEqual(sends[1]?.messages, [
    {
      topic: 'bj.events',
      partition: partitionOf('b', 6),
      key: 'b',
      value: '{"type":"reward","key":"b","reward":1}',
    },
    { topic: 'bj.events', partition: 4 },
  ])
  sends[1]?.settle()
  await Promise.all([second, ticked])
})

test('what exceeds one request (a broker refuses batches over message.max.bytes) goes in several, in order', async () => {
  const { sends, producer } = fakeProducer()
  const ingest = new KafkaIngestor([producer], 'bj.events', 6, 100_000, new Metrics())
  const big = (key: string): IncomingEvent => ({
    type: 'reward',
    key,
    reward: 1,
    // Two fit in one request, three do not.
    body: `{"key":"${key}","reward":1,"id":"${'x'.repeat(Math.floor(MAX_REQUEST_BYTES * 0.4))}"}`,
  })
  const done = ingest.append([big('a'), big('b'), big('c'), big('d')])
  await tick()
  sends[0]?.settle()
  await tick()
  sends[1]?.settle()
  await done
  assert.deepEqual(
    sends.map((s) => s.messages.map((m) => m.key)),
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
  )
})

/** Keys whose partitions (of 6) fall to lane 0 and to lane 1 of 2. */
function keysByLane(): [string, string, string] {
  const keys = Array.from({ length: 50 }, (_, i) => `k${i}`)
  const lane0 = keys.filter((k) => partitionOf(k, 6) % 2 === 0)
  const lane1 = keys.find((k) => partitionOf(k, 6) % 2 === 1) as string
  const sameAsFirst = lane0.find(
    (k) => k !== lane0[0] && partitionOf(k, 6) === partitionOf(lane0[0] as string, 6),
  )
  return [lane0[0] as string, lane1, sameAsFirst as string]
}

/** An ingestor on two fake producers (lanes) of 6 partitions. */
function twoLanes(maxWaitingEvents: number) {
  const lanes = [fakeProducer(), fakeProducer()]
  const ingest = new KafkaIngestor(
    lanes.map((l) => l.producer),
    'bj.events',
    6,
    maxWaitingEvents,
    new Metrics(),
  )
  return { lanes, ingest }
}

/** What a request settles to: 'answered', or its error. */
const settled = (request: Promise<void>): Promise<unknown> =>
  request.then(
    () => 'answered',
    (e: unknown) => e,
  )

test('with several producers, each owns the partitions p mod lanes: their requests are in flight together, one per lane', async () => {
  const { lanes, ingest } = twoLanes(100)
  const [a, b, alsoA] = keysByLane()
  const both = ingest.append([reward(a), reward(b)])
  await tick()
  assert.deepEqual(
    lanes.map((l) => l.sends.map((s) => s.messages.map((m) => m.key))),
    [[[a]], [[b]]],
    'one request on each lane at once',
  )
  const later = ingest.append([reward(alsoA)])
  const ticked = ingest.tick(partitionOf(b, 6))
  await tick()
  assert.equal(
    lanes[0]?.sends.length,
    1,
    "a request for lane 0's partition waits for lane 0's request in flight",
  )
  assert.equal(lanes[1]?.sends.length, 1, "and a tick for lane 1's partition for lane 1's")
  lanes[0]?.sends[0]?.settle()
  await tick()
  assert.deepEqual(
    lanes[0]?.sends[1]?.messages.map((m) => m.key),
    [alsoA],
  )
  let answered = false
  void both.then(() => {
    answered = true
  })
  await tick()
  assert.equal(answered, false, 'a request is answered once every lane it went to acknowledged')
  lanes[1]?.sends[0]?.settle()
  await both
  await tick()
  assert.deepEqual(lanes[1]?.sends[1]?.messages, [{ topic: 'bj.events', partition: partitionOf(b, 6) }])
  lanes[0]?.sends[1]?.settle()
  lanes[1]?.sends[1]?.settle()
  await Promise.all([later, ticked])
})

test('a request refused by one lane is a 503 once every lane settled; each lane holds its events until its send ends', async () => {
  const { lanes, ingest } = twoLanes(2)
  const [a, b] = keysByLane()
  const outcome = settled(ingest.append([reward(a), reward(b)]))
  await tick()
  assert.equal(ingest.admit([reward('c')])[0]?.kind, 'refuse', 'two events wait')
  lanes[0]?.sends[0]?.settle(Object.assign(new Error('NOT_ENOUGH_REPLICAS'), { canRetry: false }))
  await tick()
  assert.equal(ingest.admit([reward('c')])[0]?.kind, 'accept', "lane 0's event no longer waits")
  assert.equal(ingest.admit([reward('c'), reward('d')])[0]?.kind, 'refuse', "lane 1's still does")
  let answered = false
  void outcome.then(() => {
    answered = true
  })
  await tick()
  assert.equal(answered, false, 'not answered while lane 1 is in flight')
  lanes[1]?.sends[0]?.settle()
  const error = await outcome
  assert.ok(
    error instanceof BanditJoinError && error.statusCode === 503 && /NOT_ENOUGH_REPLICAS/.test(error.message),
  )
  assert.equal(ingest.admit([reward('c'), reward('d')])[0]?.kind, 'accept')
})

test('a request not acknowledged within the deadline is a 503 (outcome unknown), one queued behind it too; their events count until the send ends', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const { sends, producer } = fakeProducer()
  const ingest = new KafkaIngestor([producer], 'bj.events', 6, 2, new Metrics())
  const first = settled(ingest.append([reward('a')]))
  await tick()
  t.mock.timers.tick(ACK_TIMEOUT_MS / 2)
  const queued = settled(ingest.append([reward('b')]))
  await tick()
  assert.equal(sends.length, 1, 'the second waits behind the stalled send')
  t.mock.timers.tick(ACK_TIMEOUT_MS / 2)
  const overdue = (e: unknown) =>
    e instanceof BanditJoinError && e.code === 'BJ_ERR_OUTCOME_UNKNOWN' && /no answer within/.test(e.message)
  assert.ok(overdue(await first))
  assert.equal(ingest.admit([reward('c')])[0]?.kind, 'refuse', 'the stalled send still holds both events')
  t.mock.timers.tick(ACK_TIMEOUT_MS / 2)
  assert.ok(overdue(await queued), 'the queued request has a deadline of its own')
  sends[0]?.settle()
  await tick()
  sends[1]?.settle()
  await tick()
  assert.equal(ingest.admit([reward('c'), reward('d')])[0]?.kind, 'accept', 'room once the sends ended')
})

test('one tick waits at a time per partition: asking again meanwhile gives the same one', async () => {
  const { sends, producer } = fakeProducer()
  const ingest = new KafkaIngestor([producer], 'bj.events', 6, 100, new Metrics())
  const first = ingest.append([reward('a')])
  await tick()
  const four = ingest.tick(4)
  assert.equal(ingest.tick(4), four)
  const five = ingest.tick(5)
  sends[0]?.settle()
  await first
  await tick()
  assert.deepEqual(sends[1]?.messages, [
    { topic: 'bj.events', partition: 4 },
    { topic: 'bj.events', partition: 5 },
  ])
  sends[1]?.settle()
  await Promise.all([four, five])
  const again = ingest.tick(4)
  assert.notEqual(again, four, 'a new tick once the last was acknowledged')
  await tick()
  sends[2]?.settle()
  await again
})

test("at the deadline, a request one lane refused and another has not answered gives the refusal's reason", async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const { lanes, ingest } = twoLanes(100)
  const [a, b] = keysByLane()
  const outcome = settled(ingest.append([reward(a), reward(b)]))
  await tick()
  lanes[0]?.sends[0]?.settle(Object.assign(new Error('NOT_ENOUGH_REPLICAS'), { canRetry: false }))
  await tick()
  t.mock.timers.tick(ACK_TIMEOUT_MS)
  const error = await outcome
  assert.ok(error instanceof BanditJoinError && error.code === 'BJ_ERR_OUTCOME_UNKNOWN')
  assert.match(error.message, /NOT_ENOUGH_REPLICAS/)
  lanes[1]?.sends[0]?.settle()
})
