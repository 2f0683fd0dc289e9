import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { E2E, postJson, send } from '../helpers/e2e-http.js'
import { JoinedConsumer, readJoined, type TailRecord } from '../helpers/e2e-tail.js'
import { readJsonLines, readWrittenLines } from '../helpers/service.js'
import { sleep, waitFor } from '../kit/wait.js'

// SPEC §4: GET /joined?from=N, the live resumable tail a learner subscribes to.
// Real time: the built CLI runs as a child process on its own clock, read over real sockets.

const E = 400

function setup(e2e: E2E) {
  const dir = e2e.dir()
  const output = join(dir, 'joined.jsonl')
  const env = {
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${output}`,
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: '300',
  }
  return { env, output }
}

/**
 * Logs decisions (with one reward each) and resolves with their keys and when each was sent: the
 * service stamps a decision after that, so it is due E after it at the earliest. (Not when the
 * answer was read: on a loaded machine that can come long after the stamp.)
 */
async function decide(base: string, keys: string[]): Promise<Map<string, number>> {
  const sent = new Map<string, number>()
  await Promise.all(
    keys.map(async (key) => {
      const sentMs = Date.now()
      const answer = await postJson(base, '/log_decision', {
        key,
        action: 1,
        probability: 0.5,
        context: { key },
      })
      assert.equal(answer.status, 200, answer.text)
      sent.set(key, sentMs)
      const reward = await postJson(base, '/log_reward', { key, reward: 1 })
      assert.equal(reward.status, 200, reward.text)
    }),
  )
  return sent
}

const keysOf = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`)

test('a live consumer of GET /joined receives each new record with its seq as it is emitted, and only new ones without from', async (t) => {
  const e2e = new E2E(t)
  const { env, output } = setup(e2e)
  const service = await e2e.start(env)
  await decide(service.url, ['before'])
  await waitFor('the first record', () => (readWrittenLines(output).length === 1 ? true : undefined))

  const live = await JoinedConsumer.connect(service.url)
  t.after(() => live.close())
  // Let the service register the subscription before anything new is emitted.
  await sleep(300)
  const sent = await decide(service.url, keysOf('live', 5))
  await live.waitForCount(5)
  assert.equal(live.status, 200)
  assert.deepEqual(
    live.records.map((r) => r.seq),
    [2, 3, 4, 5, 6],
    'seq continues after the record emitted before the consumer came',
  )
  assert.deepEqual(live.records.map((r) => r.key).sort(), [...sent.keys()].sort())
  live.records.forEach((record, i) => {
    assert.ok(record.emitted_ms >= record.decision_insert_ms + E, `${record.key} emitted before due`)
    assert.equal(record.reward_count, 1)
    const receivedMs = live.receivedAtMs[i] as number
    const sentMs = sent.get(record.key) as number
    assert.ok(
      receivedMs >= sentMs + E - 50,
      `${record.key} received ${receivedMs - sentMs} ms after it was sent`,
    )
    assert.ok(receivedMs - (record.emitted_ms as number) < 2000, `${record.key} delivered late`)
  })

  // The tail is the file output plus seq.
  const fromFile = readJsonLines(output) as Record<string, unknown>[]
  assert.deepEqual(
    live.records.map(({ seq: _seq, ...rest }) => rest),
    fromFile.slice(1),
  )
  await sleep(E)
  assert.equal(live.records.length, 5, 'nothing more arrives')
  assert.equal(live.ended, false, 'the stream stays open')
})

test('a consumer that resumes from its last seq + 1, after disconnecting and across restarts and kill -9, sees every record exactly once', async (t) => {
  const e2e = new E2E(t)
  const { env } = setup(e2e)
  const seen: TailRecord[] = []
  const sent: string[] = []
  /** Reads from the next position until `total` records were seen, then disconnects. */
  const consume = async (base: string, total: number, stopEarlyAt?: number) => {
    const consumer = await JoinedConsumer.connect(base, seen.length + 1)
    try {
      await consumer.waitForCount(Math.min(total, stopEarlyAt ?? total) - seen.length)
      if (consumer.records.length > 0) assert.equal(consumer.status, 200)
    } finally {
      consumer.close()
    }
    seen.push(...consumer.records)
    return consumer.records.length
  }

  let service = await e2e.start(env)
  const wave = async (name: string, count: number) => {
    const keys = keysOf(name, count)
    sent.push(...keys)
    await decide(service.url, keys)
  }
  await wave('w1', 10)
  // Disconnect part-way through the first wave, while it is being emitted.
  await consume(service.url, 10, 4)
  await wave('w2', 10)
  await consume(service.url, 20)

  // A graceful restart, with records of the third wave still pending.
  await wave('w3', 10)
  assert.equal(await e2e.stop(service), 0)
  service = await e2e.start(env)
  await consume(service.url, 30)

  // A consumer connected while the service is killed picks up after the restart where it was.
  const connected = await JoinedConsumer.connect(service.url, seen.length + 1)
  await wave('w4', 10)
  await waitFor(
    'part of the fourth wave',
    () => (connected.records.length >= 3 ? true : undefined),
    20_000,
  ).catch(async (error: Error) => {
    // Say what the consumer and the service saw, so a failure here can be diagnosed.
    const metrics = await (await fetch(`${service.url}/metrics`)).text()
    const emitted = /^banditjoin_records_emitted_total (\d+)/m.exec(metrics)?.[1]
    throw new Error(
      `${error.message}: consumer status ${connected.status}, ended ${connected.ended}, ${connected.records.length} records; service emitted ${emitted} since restart`,
    )
  })
  await e2e.kill(service)
  await waitFor('the stream to end', () => (connected.ended ? true : undefined))
  connected.close()
  seen.push(...connected.records)
  service = await e2e.start(env)
  await consume(service.url, 40)

  assert.deepEqual(
    seen.map((r) => r.seq),
    Array.from({ length: 40 }, (_, i) => i + 1),
    'seq 1..40, no gap, no duplicate',
  )
  assert.deepEqual(seen.map((r) => r.key).sort(), [...sent].sort(), 'every decision exactly once')
  const replay = await readJoined(service.url, 1, 40)
  assert.deepEqual(replay, seen, 'resuming from 1 gives the same records')
})

test('GET /joined with from beyond the next position answers 400, and from the next position waits for new records', async (t) => {
  const e2e = new E2E(t)
  const { env } = setup(e2e)
  const service = await e2e.start(env)
  const fresh = await send(`${service.url}/joined?from=2`, 'GET', {})
  assert.equal(fresh.status, 400, fresh.text)
  assert.equal((fresh.json as { ok: boolean }).ok, false)
  assert.match((fresh.json as { error: string }).error, /from|position/)

  await decide(service.url, keysOf('b', 3))
  await readJoined(service.url, 1, 3)
  const beyond = await send(`${service.url}/joined?from=5`, 'GET', {})
  assert.equal(beyond.status, 400, beyond.text)
  const far = await send(`${service.url}/joined?from=1000000`, 'GET', {})
  assert.equal(far.status, 400, far.text)

  const next = await JoinedConsumer.connect(service.url, 4)
  t.after(() => next.close())
  await sleep(200)
  assert.equal(next.records.length, 0)
  await decide(service.url, ['after'])
  await next.waitForCount(1)
  assert.equal(next.status, 200)
  assert.equal(next.records[0]?.seq, 4)
  assert.equal(next.records[0]?.key, 'after')
})

test('a consumer of GET /joined gets the 200 answer head at once, before any record is emitted, so it knows it is subscribed', async (t) => {
  const e2e = new E2E(t)
  const { env } = setup(e2e)
  const service = await e2e.start(env)
  for (const from of [undefined, 1]) {
    const consumer = await JoinedConsumer.connect(service.url, from)
    t.after(() => consumer.close())
    const sentMs = Date.now()
    const status = await consumer.head(3000).catch((error: Error) => error.message)
    assert.equal(
      status,
      200,
      `GET /joined${from === undefined ? '' : `?from=${from}`} with no record to send`,
    )
    assert.ok(consumer.headAtMs - sentMs < 1000)
    consumer.close()
  }
})
