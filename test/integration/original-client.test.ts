import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { E2E, postJson, postLikeRequests, postOverrideLikeRequests } from '../helpers/e2e-http.js'
import { parseLines, readJsonLines, readWrittenLines } from '../helpers/service.js'
import { sleep, waitFor } from '../kit/wait.js'

// The requests of the original Python client (requests.post(url, json=...) and
// requests.post(f"{url}/log_override?key={key}")), over real sockets to the built CLI.
// Real time: the built CLI runs as a child process on its own clock.

const E = 600
const G = 1500

type Line = Record<string, unknown>

const linesFor = (path: string, key: string) => (readJsonLines(path) as Line[]).filter((l) => l.key === key)

const ORIGINAL_FIELDS = [
  'action',
  'context',
  'decision_insert_ms',
  'emitted_ms',
  'key',
  'probability',
  'reward',
  'reward_count',
  'reward_delta_ms',
]

async function startWithFiles(e2e: E2E, extra: Record<string, string> = {}) {
  const dir = e2e.dir()
  const output = join(dir, 'joined.jsonl')
  const deadLetter = join(dir, 'dead.jsonl')
  const service = await e2e.start({
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${output}`,
    DEAD_LETTER: `file:${deadLetter}`,
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: String(G),
    ...extra,
  })
  return { service, output, deadLetter, dir }
}

test('a decision with a string context and its rewards, sent as the original client sends them, come out once in the file after EXP_UNIT_MS with the original fields', async (t) => {
  const e2e = new E2E(t)
  const { service, output } = await startWithFiles(e2e)
  const context = JSON.stringify({ user: 'u1', hour: 13, tags: ['a', 'é'] })
  const sentAt = Date.now()
  const decision = await postLikeRequests(service.url, '/log_decision', {
    key: 'original-1',
    action: 'arm-2',
    probability: 0.25,
    context,
  })
  assert.equal(decision.status, 200, decision.text)
  assert.deepEqual(decision.json, { ok: true })
  for (const reward of [1, 2.5]) {
    const answer = await postLikeRequests(service.url, '/log_reward', { key: 'original-1', reward })
    assert.equal(answer.status, 200, answer.text)
    assert.deepEqual(answer.json, { ok: true })
  }
  const plain = await postLikeRequests(service.url, '/log_decision', {
    key: 'original-2',
    action: 'arm-1',
    probability: 1,
    context: 'raw bytes as text',
  })
  assert.equal(plain.status, 200, plain.text)

  const [record] = await waitFor('the joined record', () => {
    const found = linesFor(output, 'original-1')
    return found.length > 0 ? found : undefined
  })
  const seenAt = Date.now()
  assert.ok(record)
  assert.deepEqual(Object.keys(record).sort(), ORIGINAL_FIELDS)
  assert.equal(record.action, 'arm-2')
  assert.equal(record.probability, 0.25)
  assert.equal(record.context, context, 'a string context is echoed as the same string')
  assert.equal(record.reward, 2.5, 'REWARD_AGG=last: the later reward')
  assert.equal(record.reward_count, 2)
  const insertMs = record.decision_insert_ms as number
  const emittedMs = record.emitted_ms as number
  assert.ok(Number.isInteger(insertMs) && Number.isInteger(emittedMs))
  assert.ok(emittedMs - insertMs >= E, `emitted ${emittedMs - insertMs} ms after insert, before E=${E}`)
  assert.ok(seenAt - sentAt >= E - 20, `seen ${seenAt - sentAt} ms after sending, before E=${E}`)
  const delta = record.reward_delta_ms as number
  assert.ok(delta >= 0 && delta < E, `reward_delta_ms ${delta}`)

  await waitFor('the second record', () => (linesFor(output, 'original-2').length > 0 ? true : undefined))
  const [second] = linesFor(output, 'original-2')
  assert.deepEqual(
    { reward: second?.reward, reward_count: second?.reward_count, reward_delta_ms: second?.reward_delta_ms },
    { reward: 0, reward_count: 0, reward_delta_ms: null },
    'no reward: DEFAULT_REWARD, count 0, reward_delta_ms null',
  )
  await sleep(E)
  assert.equal(linesFor(output, 'original-1').length, 1, 'emitted exactly once')
  assert.equal(linesFor(output, 'original-2').length, 1, 'emitted exactly once')
  assert.equal(readJsonLines(output).length, 2)
})

test('with OUTPUT=stdout the joined record is a JSON line on standard output and the logs stay on standard error', async (t) => {
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const service = await e2e.start({
    DATA_DIR: join(dir, 'data'),
    OUTPUT: 'stdout',
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: String(G),
  })
  const context = '{"f": [1, 2, 3]}'
  const decision = await postLikeRequests(service.url, '/log_decision', {
    key: 'stdout-1',
    action: 'left',
    probability: 0.5,
    context,
  })
  assert.equal(decision.status, 200, decision.text)
  assert.equal(
    (await postLikeRequests(service.url, '/log_reward', { key: 'stdout-1', reward: -1 })).status,
    200,
  )
  const lines = await waitFor('a record on stdout', () => {
    const found = parseLines(service.stdout()) as Line[]
    return found.length > 0 ? found : undefined
  })
  await sleep(E)
  assert.equal(parseLines(service.stdout()).length, 1, 'exactly one line on stdout')
  const record = lines[0] as Line
  assert.deepEqual(Object.keys(record).sort(), ORIGINAL_FIELDS)
  assert.equal(record.key, 'stdout-1')
  assert.equal(record.context, context)
  assert.equal(record.reward, -1)
  assert.equal(record.reward_count, 1)
  assert.ok((record.emitted_ms as number) - (record.decision_insert_ms as number) >= E)
  assert.doesNotMatch(service.stdout(), /banditjoin is ready/, 'logs do not go to stdout')
})

test('a decision overridden with the original POST /log_override?key=K (no body, no content type) is not emitted and is dead-lettered as overridden', async (t) => {
  const e2e = new E2E(t)
  const { service, output, deadLetter } = await startWithFiles(e2e)
  for (const key of ['overridden-q', 'overridden-body', 'kept']) {
    const answer = await postLikeRequests(service.url, '/log_decision', {
      key,
      action: 'a',
      probability: 0.5,
      context: `ctx of ${key}`,
    })
    assert.equal(answer.status, 200, answer.text)
  }
  assert.equal(
    (await postLikeRequests(service.url, '/log_reward', { key: 'overridden-q', reward: 3 })).status,
    200,
  )
  const viaQuery = await postOverrideLikeRequests(service.url, 'overridden-q')
  assert.equal(viaQuery.status, 200, viaQuery.text)
  assert.deepEqual(viaQuery.json, { ok: true })
  const viaBody = await postJson(service.url, '/log_override', { key: 'overridden-body' })
  assert.equal(viaBody.status, 200, viaBody.text)

  await waitFor('the kept decision', () => (linesFor(output, 'kept').length > 0 ? true : undefined))
  const letters = await waitFor('two overridden dead letters', () => {
    const found = (readJsonLines(deadLetter) as Line[]).filter((l) => l.reason === 'overridden')
    return found.length >= 2 ? found : undefined
  })
  await sleep(E)
  assert.equal(linesFor(output, 'overridden-q').length, 0, 'an overridden decision never reaches the learner')
  assert.equal(linesFor(output, 'overridden-body').length, 0)
  assert.equal(readJsonLines(output).length, 1)
  assert.deepEqual(letters.map((l) => l.key).sort(), ['overridden-body', 'overridden-q'])
  const letter = letters.find((l) => l.key === 'overridden-q') as Line
  assert.equal(letter.type, 'decision')
  assert.equal(letter.action, 'a')
  assert.equal(letter.context, 'ctx of overridden-q')
  assert.equal(letter.reward, 3, 'a cancelled decision carries the fields its record would have had')
  assert.equal(letter.reward_count, 1)
  assert.equal(typeof letter.insert_ms, 'number')
  assert.equal(linesFor(deadLetter, 'overridden-q').length, 1, 'dead-lettered once')
})

test('a reward for a key that never gets a decision is dead-lettered as an orphan once EARLY_REWARD_MS has passed', async (t) => {
  const e2e = new E2E(t)
  const { service, deadLetter } = await startWithFiles(e2e)
  const answer = await postLikeRequests(service.url, '/log_reward', { key: 'nobody', reward: 7 })
  assert.equal(answer.status, 200, answer.text)
  const ackAt = Date.now()
  await sleep(G / 3)
  if (Date.now() < ackAt + G - 100) assert.equal(linesFor(deadLetter, 'nobody').length, 0, 'held first')
  const [letter] = await waitFor('the orphan', () => {
    const found = linesFor(deadLetter, 'nobody')
    return found.length > 0 ? found : undefined
  })
  const seenAt = Date.now()
  assert.ok(letter)
  assert.equal(letter.reason, 'orphan')
  assert.equal(letter.type, 'reward')
  assert.equal(letter.reward, 7)
  const insertMs = letter.insert_ms as number
  assert.ok(seenAt >= insertMs + G - 20, `orphaned ${seenAt - insertMs} ms after insert, before G=${G}`)
  await sleep(300)
  assert.equal(linesFor(deadLetter, 'nobody').length, 1)
})

test('a reward that arrives after its decision was emitted is dead-lettered as late and changes no record', async (t) => {
  const e2e = new E2E(t)
  const { service, output, deadLetter } = await startWithFiles(e2e)
  const decision = await postLikeRequests(service.url, '/log_decision', {
    key: 'slow',
    action: 'b',
    probability: 0.9,
    context: 'x',
  })
  assert.equal(decision.status, 200, decision.text)
  await waitFor('the record', () => (linesFor(output, 'slow').length > 0 ? true : undefined))
  const late = await postLikeRequests(service.url, '/log_reward', { key: 'slow', reward: 1 })
  assert.equal(late.status, 200, late.text)
  const [letter] = await waitFor('the late reward', () => {
    const found = linesFor(deadLetter, 'slow')
    return found.length > 0 ? found : undefined
  })
  assert.equal(letter?.reason, 'late')
  assert.equal(letter?.type, 'reward')
  assert.equal(letter?.reward, 1)
  await sleep(300)
  const records = linesFor(output, 'slow')
  assert.equal(records.length, 1)
  assert.equal(records[0]?.reward_count, 0)
  assert.equal(records[0]?.reward, 0)
})

test('SIGTERM exits 0 and a restart emits the pending decisions at their due time, not before, exactly once', async (t) => {
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const output = join(dir, 'joined.jsonl')
  const env = {
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${output}`,
    EXP_UNIT_MS: '1500',
    EARLY_REWARD_MS: '500',
  }
  const sendDecisions = async (url: string, prefix: string) => {
    const sentAt = Date.now()
    const keys = Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`)
    await Promise.all(
      keys.map(async (key, i) => {
        const d = await postLikeRequests(url, '/log_decision', {
          key,
          action: 'a',
          probability: 0.5,
          context: key,
        })
        assert.equal(d.status, 200, d.text)
        const r = await postLikeRequests(url, '/log_reward', { key, reward: i })
        assert.equal(r.status, 200, r.text)
      }),
    )
    return { keys, sentAt, ackedAt: Date.now() }
  }
  const checkOnce = (keys: string[]) => {
    const records = readJsonLines(output) as Line[]
    for (const key of keys) {
      const found = records.filter((r) => r.key === key)
      assert.equal(found.length, 1, `${key} emitted ${found.length} times`)
      const r = found[0] as Line
      assert.ok((r.emitted_ms as number) >= (r.decision_insert_ms as number) + 1500, `${key} emitted early`)
      assert.equal(r.reward, Number(key.split('-').at(-1)))
      assert.equal(r.reward_count, 1)
    }
  }

  // Due while the service is down: emitted at restart.
  let service = await e2e.start(env)
  const downDue = await sendDecisions(service.url, 'down')
  assert.equal(await e2e.stop(service), 0)
  if (Date.now() < downDue.sentAt + 1500 - 50)
    assert.equal(readJsonLines(output).length, 0, 'not due at the stop')
  await sleep(Math.max(0, downDue.ackedAt + 1700 - Date.now()))
  service = await e2e.start(env)
  const readyAt = Date.now()
  await waitFor(
    'decisions due while down',
    () => (readWrittenLines(output).length >= 20 ? true : undefined),
    5000,
  )
  checkOnce(downDue.keys)
  for (const r of readJsonLines(output) as Line[]) {
    assert.ok((r.emitted_ms as number) <= readyAt + 1000, 'what fell due while down is emitted at restart')
  }

  // Still pending at restart: emitted at their due time, not before.
  const pending = await sendDecisions(service.url, 'pending')
  assert.equal(await e2e.stop(service), 0)
  service = await e2e.start(env)
  if (Date.now() < pending.sentAt + 1500 - 50) {
    assert.equal(readJsonLines(output).length, 20, 'nothing pending is emitted at restart before it is due')
  }
  await waitFor('pending decisions', () => (readWrittenLines(output).length >= 40 ? true : undefined))
  await sleep(500)
  checkOnce([...downDue.keys, ...pending.keys])
  assert.equal(readJsonLines(output).length, 40)
  assert.equal(await e2e.stop(service), 0)
})
