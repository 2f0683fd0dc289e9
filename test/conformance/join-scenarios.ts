/**
 * The backend conformance suite: one set of join scenarios, run over real sockets and in real
 * time against each backend (embedded SQLite, Kafka). Each backend says where its joined records
 * and dead letters can be read; the scenarios say what must be there (SPEC §3) and what must not.
 */

import assert from 'node:assert/strict'
import { test as nodeTest } from 'node:test'
import { send } from '../helpers/e2e-http.js'
import { sleep, waitFor } from '../kit/wait.js'

export type Line = Record<string, unknown>

export interface JoinBackend {
  /** The backend's name, in the tests' names. */
  readonly name: string
  /**
   * SPEC §5's differences between backends. `conflictsAt`: 'admission' answers a conflicting
   * duplicate 409; 'join' acknowledges it and dead-letters it (the partition's owner judges it).
   * `order`: 'total' emits every record in due-time order; 'partition' only within a partition.
   */
  readonly conflictsAt: 'admission' | 'join'
  readonly order: 'total' | 'partition'
  /** http://127.0.0.1:PORT of the service's API. */
  readonly url: string
  /** Every joined record output so far. */
  records(): Promise<Line[]>
  /** Every dead letter output so far. */
  deadLetters(): Promise<Line[]>
  /** The service's own log (standard error), to show when a scenario fails. */
  log(): string
  /** What a fresh reader of the outputs finds for `key`, to tell a slow reader from a service that emitted nothing. */
  freshlyRead?(key: string): Promise<string>
}

/** The settings the scenarios are written for. */
export const SCENARIO_ENV = { EXP_UNIT_MS: '1500', EARLY_REWARD_MS: '1000', REWARD_AGG: 'sum' } as const
const E = 1500
const G = 1000

/** The service's last log lines: what a failed scenario's message shows. */
function lastLines(log: string): string {
  return log.trimEnd().split('\n').slice(-40).join('\n')
}

/** Reads until `done` holds (30 s at most); a timeout's message shows the last value and the service's log. */
async function until<T>(
  backend: JoinBackend,
  what: string,
  key: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
): Promise<T> {
  let last: T | undefined
  return waitFor(
    what,
    async () => {
      last = await read()
      return done(last) ? last : undefined
    },
    {
      timeoutMs: 30_000,
      everyMs: 100,
      detail: async () => {
        const fresh = backend.freshlyRead === undefined ? '' : `\n${await backend.freshlyRead(key)}`
        return `${JSON.stringify(last).slice(0, 2000)}${fresh}\nthe service's last log lines:\n${lastLines(backend.log())}`
      },
    },
  )
}

/**
 * Runs the scenarios against the backend `open` gives (called once, before the tests), each
 * with keys of its own; `close` ends it.
 */
/** The scenarios against a backend; `skip` (a reason) skips every one, e.g. without a Kafka broker. */
export function conformance(
  open: () => Promise<JoinBackend>,
  close: () => Promise<void>,
  skip?: string,
): void {
  const test = (name: string, body: () => Promise<void>) => nodeTest(name, { skip }, body)
  let backend: JoinBackend
  const run = `${process.pid}-${Date.now()}`
  const key = (name: string) => `${name}-${run}`
  const post = (path: string, body: unknown) =>
    send(`${backend.url}${path}`, 'POST', { 'content-type': 'application/json' }, JSON.stringify(body))
  const ok = async (path: string, body: unknown) => {
    const answer = await post(path, body)
    assert.equal(answer.status, 200, `${path} ${JSON.stringify(body)}: ${answer.text}`)
    return answer
  }
  const decision = (k: string, extra: Record<string, unknown> = {}) =>
    ok('/log_decision', { key: k, action: 'a', probability: 0.5, context: { user: k }, ...extra })
  const recordsOf = async (k: string) => (await backend.records()).filter((r) => r.key === k)
  const lettersOf = async (k: string) => (await backend.deadLetters()).filter((d) => d.key === k)
  const oneRecord = async (k: string) => {
    const [record, ...more] = await until(
      backend,
      `the record of ${k}`,
      k,
      () => recordsOf(k),
      (r) => r.length > 0,
    )
    assert.equal(more.length, 0)
    return record as Line
  }
  const letter = async (k: string, reason: string) =>
    (
      await until(
        backend,
        `a ${reason} dead letter of ${k}`,
        k,
        () => lettersOf(k),
        (d) => d.some((l) => l.reason === reason),
      )
    ).find((l) => l.reason === reason) as Line

  test('start the backend', async () => {
    backend = await open()
  })

  test('a decision with no traffic after it is emitted once, never before its due time', async () => {
    const k = key('lone')
    await decision(k)
    const record = await oneRecord(k)
    assert.deepEqual(record.context, { user: k })
    assert.equal(record.reward, 0)
    assert.equal(record.reward_delta_ms, null)
    assert.ok(
      (record.emitted_ms as number) >= (record.decision_insert_ms as number) + E,
      JSON.stringify(record),
    )
  })

  test('rewards inside the window count (summed); a reward after the due time is late and changes nothing', async () => {
    const k = key('rewards')
    await decision(k)
    await ok('/log_reward', { key: k, reward: 1 })
    await ok('/log_reward', { key: k, reward: 2.5, id: 'r2' })
    await ok('/log_reward', { key: k, reward: 2.5, id: 'r2' })
    const record = await oneRecord(k)
    assert.equal(record.reward, 3.5)
    assert.equal(record.reward_count, 2)
    await ok('/log_reward', { key: k, reward: 100 })
    const late = await letter(k, 'late')
    assert.equal(late.reward, 100)
    assert.deepEqual(await recordsOf(k), [record])
  })

  test('a reward that arrives before its decision (within G) counts, with a negative delta', async () => {
    const k = key('early')
    await ok('/log_reward', { key: k, reward: 5 })
    await sleep(50)
    await decision(k)
    const record = await oneRecord(k)
    assert.equal(record.reward, 5)
    assert.ok((record.reward_delta_ms as number) < 0)
  })

  test('a reward whose decision never comes is an orphan after G', async () => {
    const k = key('orphan')
    await ok('/log_reward', { key: k, reward: 1 })
    const orphan = await letter(k, 'orphan')
    assert.equal(orphan.type, 'reward')
    assert.deepEqual(await recordsOf(k), [])
  })

  test('an overridden decision is not emitted; its dead letter says overridden', async () => {
    const k = key('override')
    await decision(k)
    const answer = await send(`${backend.url}/log_override?key=${encodeURIComponent(k)}`, 'POST', {})
    assert.equal(answer.status, 200)
    const dead = await letter(k, 'overridden')
    assert.equal(dead.type, 'decision')
    await sleep(E)
    assert.deepEqual(await recordsOf(k), [])
  })

  test('a deferred decision is emitted only if activated', async () => {
    const activated = key('deferred-on')
    const forgotten = key('deferred-off')
    await decision(activated, { deferred: true })
    await decision(forgotten, { deferred: true })
    await ok('/activate_decision', { key: activated })
    assert.equal((await oneRecord(activated)).deferred, true)
    await letter(forgotten, 'not_activated')
    assert.deepEqual(await recordsOf(forgotten), [])
  })

  test('a batch is joined like single events', async () => {
    const k = key('batch')
    const lines = [
      { type: 'decision', key: k, action: 2, probability: 0.25, context: 'text' },
      { type: 'reward', key: k, reward: -1 },
    ]
    const answer = await send(
      `${backend.url}/events`,
      'POST',
      { 'content-type': 'application/x-ndjson' },
      lines.map((l) => JSON.stringify(l)).join('\n'),
    )
    assert.equal(answer.status, 200, answer.text)
    const record = await oneRecord(k)
    assert.equal(record.action, 2)
    assert.equal(record.context, 'text')
    assert.equal(record.reward, -1)
  })

  test('a repeated decision gives one record; a conflicting one never replaces the first', async () => {
    const same = key('repeat')
    const conflict = key('conflict')
    await decision(same)
    await decision(same)
    await decision(conflict, { action: 'first' })
    const second = await post('/log_decision', {
      key: conflict,
      action: 'second',
      probability: 0.5,
      context: {},
    })
    if (backend.conflictsAt === 'admission') assert.equal(second.status, 409)
    else {
      // SPEC §5: acknowledged by the broker, then dead-lettered by the partition's owner.
      assert.equal(second.status, 200)
      assert.equal((await letter(conflict, 'conflicting_duplicate')).action, 'second')
    }
    await oneRecord(same)
    assert.equal((await oneRecord(conflict)).action, 'first')
    await sleep(E + G)
    assert.equal((await recordsOf(same)).length, 1)
    assert.equal((await recordsOf(conflict)).length, 1)
  })

  test('records leave in due-time order', async () => {
    const keys = [0, 1, 2, 3, 4].map((i) => key(`order-${i}`))
    for (const k of keys) {
      await decision(k)
      await sleep(30)
    }
    await until(
      backend,
      'the ordered records',
      keys[0] as string,
      () => backend.records(),
      (all) => keys.every((k) => all.some((r) => r.key === k)),
    )
    const all = await backend.records()
    // Kafka orders each partition; records of one partition are in due order there, and
    // across partitions emitted_ms never goes before the due time either way.
    for (const k of keys) {
      const r = all.find((x) => x.key === k) as Line
      assert.ok((r.emitted_ms as number) >= (r.decision_insert_ms as number) + E)
    }
    if (backend.order === 'total') {
      const seen = all.filter((r) => keys.includes(r.key as string)).map((r) => r.key)
      assert.deepEqual(seen, keys)
    }
  })

  test('stop the backend', async () => {
    await close()
  })
}
