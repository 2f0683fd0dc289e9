import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  BanditJoinClient,
  BanditJoinClientError,
  type DsjsonRecord,
  type JoinedRecord,
} from '../../src/client/index.js'
import { droppingProxy } from '../helpers/dropping-proxy.js'
import { E2E } from '../helpers/e2e-http.js'
import { sleep, waitFor } from '../kit/wait.js'

// The TypeScript client (banditjoin/client) against the real service.
// Real time: the built CLI runs as a child process on its own clock, stopped, killed and restarted.

const E = 300

function serviceEnv(e2e: E2E, extra: Record<string, string> = {}) {
  const dir = e2e.dir()
  return {
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${join(dir, 'joined.jsonl')}`,
    DURABILITY: 'process',
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: '200',
    ...extra,
  }
}

/** The first `count` records of an iteration, then it is closed. */
async function take<T>(records: AsyncIterable<T>, count: number): Promise<T[]> {
  const taken: T[] = []
  if (count === 0) return taken
  for await (const record of records) {
    taken.push(record)
    if (taken.length === count) break
  }
  return taken
}

const decision = (key: string, extra: Record<string, unknown> = {}) => ({
  key,
  action: 2,
  probability: 0.5,
  actions: [1, 2],
  probabilities: [0.5, 0.5],
  // _multi: one object per candidate, as dsjson needs (vw --cb_adf).
  context: { user: key, _multi: [{ article: 'a' }, { article: 'b' }] },
  ...extra,
})

test('logs decisions, rewards, overrides and activations one by one and in batches, and tails their records in json and dsjson', async (t) => {
  const e2e = new E2E(t)
  const service = await e2e.start(serviceEnv(e2e))
  const client = new BanditJoinClient({ url: service.url, batch: { maxEvents: 8, maxDelayMs: 20 } })

  assert.deepEqual(await client.logDecision(decision('one')), { ok: true })
  assert.deepEqual(await client.logDecision(decision('one')), { ok: true, duplicate: true })
  assert.deepEqual(await client.logReward({ key: 'one', reward: 2 }), { ok: true })
  await client.logDecision(decision('overridden'))
  assert.deepEqual(await client.override('overridden'), { ok: true })
  await client.logDecision(decision('deferred', { deferred: true }))
  assert.deepEqual(await client.activate('deferred'), { ok: true })
  const batched = Array.from({ length: 20 }, (_, i) => `batch-${i}`)
  await Promise.all(
    batched.flatMap((key, i) => [
      client.batch({ type: 'decision', ...decision(key) }),
      client.batch({ type: 'reward', key, reward: i }),
    ]),
  )
  await client.flush()

  const records = await take(client.joined({ from: 1 }), 22)
  assert.deepEqual(
    records.map((r) => r.seq),
    Array.from({ length: 22 }, (_, i) => i + 1),
  )
  const byKey = new Map(records.map((r) => [r.key, r]))
  assert.equal(byKey.has('overridden'), false, 'an overridden decision does not reach the learner')
  assert.equal(byKey.get('one')?.reward, 2)
  assert.equal(byKey.get('deferred')?.reward, 0, 'activated, no reward: the default reward')
  for (const [i, key] of batched.entries()) {
    const record = byKey.get(key) as JoinedRecord
    assert.equal(record.reward, i, key)
    assert.equal(record.reward_count, 1, key)
  }

  const dsjson: DsjsonRecord[] = await take(client.joined({ from: 1, format: 'dsjson' }), 22)
  assert.deepEqual(
    dsjson.map((r) => [r.seq, r.EventId, r._label_cost]),
    records.map((r) => [r.seq, r.key, 0 - r.reward]),
  )

  await assert.rejects(client.logDecision(decision('bad', { probability: 0 })), (error: unknown) => {
    assert.ok(error instanceof BanditJoinClientError)
    assert.equal(error.status, 422)
    assert.equal(error.code, 'BJ_ERR_INVALID_EVENT')
    assert.match(error.message, /probability/)
    return true
  })
  await assert.rejects(take(client.joined({ from: 1000 }), 1), { status: 400, code: 'BJ_ERR_BAD_POSITION' })
})

test('a request whose answer was lost is sent again and counts once: the decision as a duplicate, the reward by its generated id', async (t) => {
  const e2e = new E2E(t)
  const service = await e2e.start(serviceEnv(e2e))
  const proxy = await droppingProxy(service.url, ['/log_decision', '/log_reward', '/events'])
  t.after(() => proxy.close())
  const client = new BanditJoinClient({ url: proxy.url, retry: { baseDelayMs: 10 } })

  assert.deepEqual(await client.logDecision(decision('lost')), { ok: true, duplicate: true })
  assert.deepEqual(await client.logReward({ key: 'lost', reward: 1 }), { ok: true })
  await Promise.all([
    client.batch({ type: 'decision', ...decision('lost-batch') }),
    client.batch({ type: 'reward', key: 'lost-batch', reward: 3 }),
  ])
  assert.deepEqual(proxy.dropped, ['/log_decision', '/log_reward', '/events'])

  const records = await take(new BanditJoinClient({ url: service.url }).joined({ from: 1 }), 2)
  assert.deepEqual(
    records.map((r) => [r.key, r.reward, r.reward_count]),
    [
      ['lost', 1, 1],
      ['lost-batch', 3, 1],
    ],
  )
})

test('a request retries across a restart of the service on the same port and data directory', async (t) => {
  const e2e = new E2E(t)
  const env = serviceEnv(e2e)
  let service = await e2e.start(env)
  const port = new URL(service.url).port
  const client = new BanditJoinClient({
    url: service.url,
    retry: { maxAttempts: 1000, maxElapsedMs: 30_000, maxDelayMs: 200 },
  })
  await client.logDecision(decision('before'))
  assert.equal(await e2e.stop(service), 0)

  let settled = false
  const during = client.logDecision(decision('during')).finally(() => {
    settled = true
  })
  await sleep(1000)
  assert.equal(settled, false, 'still retrying while the service is down')
  service = await e2e.start({ ...env, PORT: port })
  assert.deepEqual(await during, { ok: true })

  const records = await take(client.joined({ from: 1 }), 2)
  assert.deepEqual(
    records.map((r) => [r.seq, r.key]),
    [
      [1, 'before'],
      [2, 'during'],
    ],
  )
})

test("503 is retried after the service's Retry-After, within the budget; past the budget the refusal is thrown", async (t) => {
  const e2e = new E2E(t)
  // One pending decision at most: the next is refused with 503 until the first is emitted.
  const service = await e2e.start(serviceEnv(e2e, { MAX_PENDING: '1', EXP_UNIT_MS: '1500' }))
  const client = new BanditJoinClient({ url: service.url })
  await client.logDecision(decision('first'))

  const impatient = new BanditJoinClient({ url: service.url, retry: { maxElapsedMs: 500 } })
  const started = Date.now()
  await assert.rejects(impatient.logDecision(decision('second')), { status: 503, code: 'BJ_ERR_OVERLOADED' })
  assert.ok(Date.now() - started < 500, 'a Retry-After beyond the budget is not waited for')

  const patient = Date.now()
  assert.deepEqual(await client.logDecision(decision('second')), { ok: true })
  assert.ok(Date.now() - patient >= 1000, 'waited at least Retry-After: 1')
})

test('the tail resumes across restarts and kill -9 of the service without a gap or a duplicate', async (t) => {
  const e2e = new E2E(t)
  const env = serviceEnv(e2e)
  let service = await e2e.start(env)
  const env2 = { ...env, PORT: new URL(service.url).port }
  const client = new BanditJoinClient({ url: service.url, retry: { maxDelayMs: 200 } })
  const stop = new AbortController()
  const seen: JoinedRecord[] = []
  // From now on (no `from`): the stream's banditjoin-from header gives the position to resume from.
  const tail = (async () => {
    for await (const record of client.joined({ signal: stop.signal, retry: { maxDelayMs: 200 } }))
      seen.push(record)
  })()
  const sent: string[] = []
  const wave = async (name: string) => {
    const keys = Array.from({ length: 10 }, (_, i) => `${name}-${i}`)
    sent.push(...keys)
    await Promise.all(keys.map((key) => client.batch({ type: 'decision', ...decision(key) })))
  }
  const until = (count: number) =>
    waitFor(`${count} records`, () => seen.length >= count, {
      timeoutMs: 20_000,
      detail: () => `${seen.length} of ${count} records`,
    })

  await wave('w1')
  await until(3)
  assert.equal(await e2e.stop(service), 0)
  service = await e2e.start(env2)
  await wave('w2')
  await until(15)
  await e2e.kill(service)
  service = await e2e.start(env2)
  await wave('w3')
  await until(30)
  await sleep(E * 2)
  stop.abort()
  await tail

  assert.deepEqual(
    seen.map((r) => r.seq),
    Array.from({ length: 30 }, (_, i) => i + 1),
    'seq 1..30: no gap, no duplicate',
  )
  assert.deepEqual(seen.map((r) => r.key).sort(), [...sent].sort(), 'every decision exactly once')
})
