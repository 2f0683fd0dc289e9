import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Worker } from 'node:worker_threads'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { type IngestSettings, ingestLimits } from '../../src/config.js'
import { bodyText } from '../../src/engine/types.js'
import { BanditJoinError } from '../../src/errors.js'
import { ndjsonBody } from '../../src/http/encoding.js'
import type { BatchBody, CheckedBatch } from '../../src/ingest/batch.js'
import { notUtf8 } from '../../src/ingest/json.js'
import type { LineParserPool } from '../../src/ingest/line-parser-pool.js'
import { startLineParser } from '../../src/ingest/line-parser-pool.js'
import { eventFromLine, type IncomingEvent } from '../../src/ingest/validate.js'
import { OUTPUT_FORMATS } from '../../src/output/formats.js'
import { type Answer, send } from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'

// Small limits, so that generated lines cross them often.
const SETTINGS: IngestSettings = {
  maxContextBytes: 200,
  maxFieldBytes: 24,
  outputFormat: 'json',
  maxBatchEvents: 20,
}

/** What a batch's lines give when each goes through eventFromLine on this thread (the rule the pool must keep). */
function expected(
  text: string,
  notUtf8Lines: ReadonlySet<number>,
  settings: IngestSettings,
): CheckedBatch | BanditJoinError {
  const limits = ingestLimits(settings)
  const checked: CheckedBatch = { events: [], lineOf: [], errors: [] }
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const number = i + 1
    if ((lines[i] as string).trim() === '') continue
    if (checked.events.length + checked.errors.length >= settings.maxBatchEvents) {
      return new BanditJoinError(
        'BJ_ERR_TOO_LARGE',
        `batch has more than MAX_BATCH_EVENTS=${settings.maxBatchEvents} events`,
        413,
      )
    }
    try {
      if (notUtf8Lines.has(number)) throw notUtf8('line')
      checked.events.push(eventFromLine(lines[i] as string, limits))
      checked.lineOf.push(number)
    } catch (error) {
      assert.ok(error instanceof BanditJoinError)
      checked.errors.push({ line: number, error })
    }
  }
  return checked
}

/** An error as plain data, to compare: its class, code, words, status and Retry-After. */
const errorData = (error: unknown) => {
  assert.ok(error instanceof BanditJoinError, `expected a BanditJoinError, got ${String(error)}`)
  const { name, code, message, statusCode, retryAfterSeconds } = error
  return { name, code, message, statusCode, retryAfterSeconds }
}

const NOTHING: CheckedBatch = { events: [], lineOf: [], errors: [] }

/** Events with their bodies as text: a worker gives them as UTF-8 bytes, the main thread as strings. */
const withTextBodies = (events: readonly IncomingEvent[]) =>
  events.map((event) => ({ ...event, body: bodyText(event.body) }))

const comparable = (result: CheckedBatch | BanditJoinError) =>
  result instanceof BanditJoinError
    ? { refused: errorData(result) }
    : {
        events: withTextBodies(result.events),
        lineOf: result.lineOf,
        errors: result.errors.map((e) => ({ line: e.line, ...errorData(e.error) })),
      }

async function checkedBy(pool: LineParserPool, body: BatchBody, notUtf8Lines: ReadonlySet<number>) {
  try {
    return await pool.check(body, notUtf8Lines)
  } catch (error) {
    assert.ok(error instanceof BanditJoinError, String(error))
    return error
  }
}

/** Runs `use` with a pool that checks on its worker, then with one that checks on this thread. */
async function onBothThreads(settings: IngestSettings, use: (pool: LineParserPool) => Promise<void>) {
  for (const minWorkerLength of [0, Number.POSITIVE_INFINITY]) {
    const pool = startLineParser(settings, { minWorkerLength })
    try {
      await use(pool)
    } finally {
      await pool.close()
    }
  }
}

const keyArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.constantFrom('k1', 'k2', '\ud800', '', 'x'.repeat(257)),
)
const actionArb = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(2 ** 53 + 2, 1.5, null, true),
)
const contextArb = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 250 }),
  // dsjson's shape: a _multi list of candidates' features.
  fc.record({
    user: fc.string({ maxLength: 8 }),
    _multi: fc.array(fc.record({ a: fc.integer() }), { maxLength: 3 }),
  }),
)
const probabilityArb = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.constantFrom(0.5, 1, 0, -1, 2, 1e-40),
)

/** Decision lines: valid ones and ones that break a rule (types, ranges, sizes, candidates, dsjson). */
const decisionArb = fc
  .record(
    {
      key: keyArb,
      action: actionArb,
      probability: probabilityArb,
      context: contextArb,
      candidates: fc.option(
        fc.constantFrom<[unknown[], unknown[]]>(
          [
            [1, 2],
            [0.5, 0.5],
          ],
          [
            ['a', 'b'],
            [0.2, 0.8],
          ],
          [
            [1, 1],
            [0.5, 0.5],
          ],
          [[1], [0.5]],
          [[2, 3], [0.5]],
        ),
      ),
      model: fc.option(fc.oneof(fc.string({ maxLength: 30 }), fc.integer())),
      timestamp: fc.option(fc.oneof(fc.integer(), fc.string({ maxLength: 4 }))),
      deferred: fc.option(fc.oneof(fc.boolean(), fc.constant('yes'))),
    },
    { requiredKeys: ['key', 'action', 'probability', 'context'] },
  )
  .map(({ candidates, ...fields }) => {
    const body: Record<string, unknown> = { type: 'decision', ...fields }
    for (const name of ['model', 'timestamp', 'deferred'])
      if (body[name] === null || body[name] === undefined) delete body[name]
    if (candidates !== null && candidates !== undefined) {
      body.actions = candidates[0]
      body.probabilities = candidates[1]
    }
    return JSON.stringify(body)
  })

const rewardArb = fc
  .record({
    key: keyArb,
    reward: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('1', null)),
    id: fc.option(fc.oneof(fc.string({ maxLength: 30 }), fc.integer())),
  })
  .map(({ id, ...fields }) => JSON.stringify({ type: 'reward', ...fields, ...(id === null ? {} : { id }) }))

const followUpArb = fc
  .record({ type: fc.constantFrom('override', 'activate', 'click'), key: keyArb })
  .map((fields) => JSON.stringify(fields))

const deep = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`

/** Lines that fail before the schema: JSON, forbidden keys, nesting, non-finite numbers; and blank lines. */
const rawArb = fc.constantFrom(
  '',
  '   ',
  '\t',
  '{"type": "reward",',
  'not json',
  '[1, 2]',
  '42',
  '{"type":"reward","key":"k","reward":1,"__proto__":{"x":1}}',
  '{"type":"decision","key":"k","action":1,"probability":1,"context":{"a":{"constructor":{}}}}',
  `{"type":"decision","key":"k","action":1,"probability":1,"context":${deep(70)}}`,
  `{"type":"decision","key":"k","action":1,"probability":1,"context":${deep(60)}}`,
  '{"type":"reward","key":"k","reward":1e400}',
  '{"type":"decision","key":"k","action":1,"probability":1,"context":{"x":-1e999}}',
  '{"type":"decision","key":"k","action":1,"probability":1,"context":{"_multi":[{"a":1}]}}',
  '{"type":"activate","key":"k","extra":[1,{"y":2}]}',
)

const lineArb = fc.oneof(
  { arbitrary: decisionArb, weight: 4 },
  { arbitrary: rewardArb, weight: 2 },
  { arbitrary: followUpArb, weight: 1 },
  { arbitrary: rawArb, weight: 2 },
)

const batchArb = fc
  .record({
    lines: fc.array(lineArb, { maxLength: 25 }),
    trailingNewline: fc.boolean(),
    notUtf8: fc.array(fc.integer({ min: 1, max: 26 }), { maxLength: 2 }),
  })
  .map(({ lines, trailingNewline, notUtf8 }) => ({
    text: lines.join('\n') + (trailingNewline ? '\n' : ''),
    notUtf8Lines: new Set(notUtf8),
  }))

describe('the line-checking pool gives what eventFromLine gives, line by line', () => {
  for (const outputFormat of ['json', 'dsjson'] as const) {
    it(`for generated valid and invalid batches (OUTPUT_FORMAT=${outputFormat}), on a worker and on the main thread`, async () => {
      const settings = { ...SETTINGS, outputFormat }
      const onWorker = startLineParser(settings, { minWorkerLength: 0 })
      const here = startLineParser(settings, { minWorkerLength: Number.POSITIVE_INFINITY })
      let refusedLines = 0
      let acceptedLines = 0
      try {
        await fc.assert(
          fc.asyncProperty(batchArb, async ({ text, notUtf8Lines }) => {
            const want = expected(text, notUtf8Lines, settings)
            if (!(want instanceof BanditJoinError)) {
              refusedLines += want.errors.length
              acceptedLines += want.events.length
            }
            // As text (the Kafka owner's values) and as the bytes of a request body.
            for (const body of [text, Buffer.from(text)]) {
              assert.deepEqual(comparable(await checkedBy(onWorker, body, notUtf8Lines)), comparable(want))
            }
            for (const body of [text, Buffer.from(text)]) {
              assert.deepEqual(comparable(await checkedBy(here, body, notUtf8Lines)), comparable(want))
            }
          }),
          { numRuns: 150 },
        )
      } finally {
        await Promise.all([onWorker.close(), here.close()])
      }
      // The generators reach both sides of the rules.
      assert.ok(refusedLines > 50 && acceptedLines > 50, `${refusedLines} refused, ${acceptedLines} accepted`)
    })
  }

  it('applies the output format refusal rule named by OUTPUT_FORMAT, the same function on both threads', async () => {
    assert.equal(ingestLimits({ ...SETTINGS, outputFormat: 'dsjson' }).refuse, OUTPUT_FORMATS.dsjson.refuse)
    const line = '{"type":"decision","key":"k","action":1,"probability":1,"context":{"user":1}}'
    for (const outputFormat of ['json', 'dsjson'] as const) {
      const pool = startLineParser({ ...SETTINGS, outputFormat }, { minWorkerLength: 0 })
      try {
        const { events, errors } = await pool.check(line, new Set())
        assert.equal(events.length, outputFormat === 'json' ? 1 : 0)
        assert.deepEqual(
          errors.map((e) => e.error.message),
          outputFormat === 'json' ? [] : [OUTPUT_FORMATS.dsjson.refuse?.(JSON.parse(line))],
        )
      } finally {
        await pool.close()
      }
    }
  })

  it('keeps every field of the events, the fingerprint included', async () => {
    const pool = startLineParser(SETTINGS, { minWorkerLength: 0 })
    const lines = [
      '{"type":"decision","key":"d1","action":"a","probability":0.25,"context":{"b":[1,2],"a":"x"},"actions":["a","b"],"probabilities":[0.25,0.75],"model":"m","timestamp":7,"deferred":true}',
      '{"type":"decision","key":"d2","action":3,"probability":1,"context":"text"}',
      '{"type":"reward","key":"d1","reward":-2.5,"id":"r"}',
      '{"type":"reward","key":"d1","reward":0}',
      '{"type":"override","key":"d2"}',
      '{"type":"activate","key":"d1"}',
    ]
    try {
      const { events } = await pool.check(lines.join('\n'), new Set())
      const want = lines.map((line) => eventFromLine(line, ingestLimits(SETTINGS)))
      assert.deepEqual(withTextBodies(events), want)
      // The bodies come back as views of one buffer, no string made for them on this thread.
      const buffers = new Set(events.map(({ body }) => (Buffer.isBuffer(body) ? body.buffer : body)))
      assert.equal(buffers.size, 1)
      const [buffer] = buffers
      assert.ok(buffer instanceof ArrayBuffer)
      // Exactly the bodies' bytes: no room left over crossed.
      assert.equal(
        buffer.byteLength,
        want.reduce((sum, event) => sum + Buffer.byteLength(bodyText(event.body)), 0),
      )
      // The same own properties in the same order as toIncomingEvent's objects.
      assert.deepEqual(events.map(Object.keys), want.map(Object.keys))
      assert.equal((events[0] as IncomingEvent & { fingerprint: string }).fingerprint.length, 44)
    } finally {
      await pool.close()
    }
  })

  it('refuses, as lines not UTF-8, the lines of a body whose bytes are not UTF-8, and only those', async () => {
    const line = (key: string) => `{"type":"decision","key":"${key}","action":1,"probability":1,"context":1}`
    const bytes = Buffer.concat([
      Buffer.from(`${line('a')}\n`),
      Buffer.from(line('b').replace('"context":1', '"context":"\xff"'), 'latin1'),
      Buffer.from(`\n${line('c')}\n`),
    ])
    const body = ndjsonBody(bytes)
    assert.deepEqual([...body.notUtf8Lines], [2])
    await onBothThreads(SETTINGS, async (pool) => {
      const checked = await pool.check(Buffer.from(body.bytes), body.notUtf8Lines)
      assert.deepEqual(
        checked.events.map((e) => e.key),
        ['a', 'c'],
      )
      assert.deepEqual(checked.lineOf, [1, 3])
      assert.deepEqual(
        checked.errors.map((e) => [e.line, e.error.code]),
        [[2, 'BJ_ERR_MALFORMED_JSON']],
      )
    })
  })

  it('moves a body that owns its memory to the worker, and copies one that shares it', async () => {
    const pool = startLineParser(SETTINGS, { minWorkerLength: 0 })
    const text = '{"type":"reward","key":"k","reward":1}'
    const framed = `xx${text}yy`
    try {
      const owning = Buffer.alloc(text.length)
      owning.write(text)
      assert.equal(owning.byteLength, owning.buffer.byteLength)
      assert.equal((await pool.check(owning, new Set())).events.length, 1)
      assert.equal(owning.buffer.byteLength, 0, "moved: the memory is the worker's now")
      // Views into memory that holds other bytes too (Node's pool of small buffers; a buffer of
      // its own; a SharedArrayBuffer): those bytes must stay where they are.
      const pooled = Buffer.from(framed)
      assert.ok(pooled.buffer.byteLength > pooled.byteLength)
      const own = Buffer.alloc(framed.length)
      own.write(framed)
      const shared = Buffer.from(new SharedArrayBuffer(framed.length))
      shared.write(framed)
      for (const whole of [pooled, own, shared]) {
        assert.equal((await pool.check(whole.subarray(2, 2 + text.length), new Set())).events.length, 1)
        assert.equal(whole.toString(), framed)
      }
      assert.equal((await pool.check(shared, new Set())).errors.length, 1)
      assert.equal(shared.toString(), framed)
      // Every request without a body shares one empty buffer: it is never moved.
      const empty = Buffer.alloc(0)
      for (let i = 0; i < 2; i++) assert.deepEqual(await pool.check(empty, new Set()), NOTHING)
    } finally {
      await pool.close()
    }
  })

  it('gives the same outcomes for bytes as for text with characters of 2 to 4 bytes, a BOM and CRLF', async () => {
    const lines = [
      '\uFEFF{"type":"decision","key":"bom","action":1,"probability":1,"context":1}',
      '{"type":"decision","key":"é€😀","action":"café","probability":1,"context":{"ville":"Zürich","emoji":"😀"}}\r',
      '{"type":"decision","key":"k2","action":1,"probability":1,"context":"ü"}\r',
      '{"type":"reward","key":"é€😀","reward":1,"id":"日本"}',
      '{"type":"decision","key":"long","action":"ééééééééééééééééééééééé","probability":1,"context":1}',
      '\r',
      '',
    ]
    const text = lines.join('\n')
    const checked = expected(text, new Set(), SETTINGS)
    // The lines cover acceptance and refusal both.
    assert.ok(
      !(checked instanceof BanditJoinError) && checked.events.length >= 3 && checked.errors.length >= 1,
    )
    const want = comparable(checked)
    await onBothThreads(SETTINGS, async (pool) => {
      assert.deepEqual(comparable(await checkedBy(pool, Buffer.from(text), new Set())), want)
    })
  })

  // With the wrong order, the next batch would wait for ever for an answer that went to the first.
  it('answers each batch with its own outcome after a batch could not be sent to the worker', {
    timeout: 10_000,
  }, async () => {
    const pool = startLineParser(SETTINGS, { minWorkerLength: 0 })
    try {
      const [worker] = pool.workers() as [Worker]
      const send = worker.postMessage.bind(worker)
      worker.postMessage = () => {
        worker.postMessage = send
        throw new Error('could not be sent')
      }
      await assert.rejects(pool.check('{"type":"override","key":"lost"}', new Set()), /could not be sent/)
      const next = await pool.check('{"type":"override","key":"next"}', new Set())
      assert.deepEqual(
        next.events.map((e) => e.key),
        ['next'],
      )
    } finally {
      await pool.close()
    }
  })

  it('without fingerprints (fingerprints: false): the same events and refusals, each decision fingerprint empty', async () => {
    const lines = [
      '{"type":"decision","key":"d1","action":"a","probability":0.25,"context":{"b":[1,2],"a":"x"},"actions":["a","b"],"probabilities":[0.25,0.75]}',
      '{"type":"decision","key":"d2","action":"much too long an action here","probability":1,"context":1}',
      '{"type":"reward","key":"d1","reward":1,"id":"r"}',
      '{"type":"decision","key":"d3","action":1,"probability":2,"context":1}',
      '{"type":"override","key":"d1"}',
    ]
    const text = lines.join('\n')
    // As the embedded mode checks them, then without fingerprints on the worker and on this thread.
    const withThem = expected(text, new Set(), SETTINGS) as CheckedBatch
    const withoutThem = { ...SETTINGS, fingerprints: false }
    assert.ok(withThem.events.some((e) => e.type === 'decision' && e.fingerprint.length === 44))
    const want = {
      ...withThem,
      events: withThem.events.map((e) => (e.type === 'decision' ? { ...e, fingerprint: '' } : e)),
    }
    await onBothThreads(withoutThem, async (pool) => {
      assert.deepEqual(comparable(await pool.check(text, new Set())), comparable(want))
    })
  })
})

/** A batch of `lines` valid decisions: enough work that a worker is still on it when stopped. */
const bigBatch = (prefix: string, lines: number) =>
  Array.from(
    { length: lines },
    (_, i) =>
      `{"type":"decision","key":"${prefix}-${i}","action":"a","probability":0.5,"context":{"user":"u${i}","features":[${i},2,3],"text":"${'x'.repeat(100)}"}}`,
  ).join('\n')

/** Makes `worker` stop when it is sent its next batch, before it can check it (the pool counts it as sent). */
function stopOnNextBatch(worker: Worker): void {
  const post = worker.postMessage.bind(worker)
  worker.postMessage = (message: unknown) => {
    void worker.terminate()
    post(message)
  }
}

const assertStopped = (error: unknown) => {
  assert.ok(error instanceof BanditJoinError, String(error))
  assert.equal(error.code, 'BJ_ERR_UNAVAILABLE')
  assert.equal(error.statusCode, 503)
  assert.equal(error.retryAfterSeconds, 1)
  assert.match(error.message, /batch not checked, nothing logged: the thread checking its lines stopped/)
  return true
}

// A batch whose worker stopped must settle: a timeout, not a hang, if it does not.
describe('a line-checking worker that stops', { timeout: 60_000 }, () => {
  it('fails the batches waiting for it with 503 and is replaced for the next batch', async () => {
    const settings = { ...SETTINGS, maxBatchEvents: 10_000, maxContextBytes: 65536 }
    const pool = startLineParser(settings, { minWorkerLength: 0 })
    try {
      const [first] = pool.workers()
      assert.ok(first !== undefined)
      const waiting = pool.check(bigBatch('w', 5000), new Set())
      stopOnNextBatch(first)
      const stopping = pool.check(bigBatch('v', 5000), new Set())
      await assert.rejects(waiting, assertStopped)
      await assert.rejects(stopping, assertStopped)
      const { events, errors } = await pool.check(bigBatch('u', 100), new Set())
      assert.equal(events.length, 100)
      assert.deepEqual(errors, [])
      const [second] = pool.workers()
      assert.ok(second !== undefined && second !== first)
    } finally {
      await pool.close()
    }
  })

  it('with two workers, fails only the batches of the one that stopped', async () => {
    const settings = { ...SETTINGS, maxBatchEvents: 10_000, maxContextBytes: 65536 }
    const pool = startLineParser(settings, { minWorkerLength: 0, workers: 2 })
    try {
      const [first, second] = pool.workers()
      assert.ok(first !== undefined && second !== undefined)
      stopOnNextBatch(first)
      // The least busy worker takes a batch: the first, then the second.
      const lost = pool.check(bigBatch('a', 3000), new Set())
      const kept = pool.check(bigBatch('b', 3000), new Set())
      await assert.rejects(lost, assertStopped)
      assert.equal((await kept).events.length, 3000)
    } finally {
      await pool.close()
    }
  })
})

describe('closing the pool', { timeout: 60_000 }, () => {
  it('stops its workers; batches waiting and later ones get 503 as while shutting down', async () => {
    const settings = { ...SETTINGS, maxBatchEvents: 10_000, maxContextBytes: 65536 }
    const pool = startLineParser(settings, { minWorkerLength: 0, workers: 2 })
    const waiting = pool.check(bigBatch('c', 5000), new Set())
    const closed = pool.close()
    const shuttingDown = (error: unknown) => {
      assert.deepEqual(errorData(error), {
        name: 'BanditJoinError',
        code: 'BJ_ERR_UNAVAILABLE',
        message: 'the service is shutting down',
        statusCode: 503,
        retryAfterSeconds: 5,
      })
      return true
    }
    await assert.rejects(waiting, shuttingDown)
    await closed
    await assert.rejects(pool.check('{"type":"override","key":"k"}', new Set()), shuttingDown)
    assert.deepEqual(pool.workers(), [])
  })
})

/** The answers a service gives to a sequence of batches: status, Retry-After and body text. */
async function answers(svc: InProcessService, bodies: string[]) {
  const seen: { status: number; retryAfter: unknown; text: string }[] = []
  for (const body of bodies) {
    const res: Answer = await send(svc, 'POST', '/events', { body, contentType: 'application/x-ndjson' })
    seen.push({ status: res.statusCode, retryAfter: res.headers['retry-after'], text: res.text })
  }
  return seen
}

describe('POST /events through a worker', { timeout: 120_000 }, () => {
  let onWorker: InProcessService
  let here: InProcessService
  before(async () => {
    const env = { MAX_BATCH_EVENTS: '30', MAX_CONTEXT_BYTES: '300', MAX_FIELD_BYTES: '24' }
    onWorker = await startInProcess(env, { overrides: { lineCheck: { minWorkerLength: 0 } } })
    here = await startInProcess(env, {
      overrides: { lineCheck: { minWorkerLength: Number.POSITIVE_INFINITY } },
    })
  })
  after(async () => {
    await Promise.all([onWorker.close(), here.close()])
  })

  it('answers every batch exactly as the main thread does (valid, duplicate, conflicting, invalid, too many lines)', async () => {
    const batches = fc.sample(
      fc.array(
        fc.oneof(
          lineArb,
          fc.constantFrom(
            '{"type":"decision","key":"k1","action":"a","probability":0.5,"context":{}}',
            '{"type":"decision","key":"k1","action":"b","probability":0.5,"context":{}}',
            '{"type":"reward","key":"k1","reward":1}',
          ),
        ),
        { maxLength: 35 },
      ),
      { numRuns: 120, seed: 15 },
    )
    const bodies = batches.map((lines) => lines.join('\n'))
    // Past MAX_BATCH_EVENTS, and a field past MAX_FIELD_BYTES: 413 either way.
    bodies.push(bigBatch('many', 31), `{"type":"reward","key":"k","reward":1,"id":"${'i'.repeat(25)}"}`)
    const a = await answers(onWorker, bodies)
    const b = await answers(here, bodies)
    assert.deepEqual(a, b)
    const statuses = new Set(a.map((answer) => answer.status))
    for (const status of [200, 400, 409, 413, 422])
      assert.ok(statuses.has(status), `no ${status} in ${[...statuses]}`)
    assert.equal(onWorker.loggedEvents(), here.loggedEvents())
    assert.ok(onWorker.loggedEvents() > 0)
    // The same rows, bodies stored as text (the worker's come to the writer as bytes).
    const rows = (svc: InProcessService) => {
      const db = new Database(join(svc.dataDir, 'banditjoin.db'), { readonly: true })
      try {
        return db
          .prepare('SELECT kind, key, typeof(body) AS stored, body, fingerprint FROM events ORDER BY pos')
          .all()
      } finally {
        db.close()
      }
    }
    const logged = rows(onWorker)
    assert.deepEqual(logged, rows(here))
    assert.deepEqual(new Set(logged.map((row) => (row as { stored: string }).stored)), new Set(['text']))
  })

  it('answers 503 with Retry-After and logs nothing when the worker stops, then serves the next batch', async () => {
    const [worker] = onWorker.service.lineParser.workers()
    assert.ok(worker !== undefined)
    const before = onWorker.loggedEvents()
    stopOnNextBatch(worker)
    const body = bigBatch('stop', 25)
    const [lost] = await answers(onWorker, [body])
    assert.equal(lost?.status, 503)
    assert.equal(lost?.retryAfter, '1')
    assert.match(JSON.parse(lost?.text ?? '').error, /the thread checking its lines stopped/)
    assert.equal(onWorker.loggedEvents(), before)
    const [next] = await answers(onWorker, [body])
    assert.deepEqual(JSON.parse(next?.text ?? ''), { ok: true, accepted: 25, duplicates: 0 })
    assert.equal(onWorker.loggedEvents(), before + 25)
  })
})

describe('the service', { timeout: 60_000 }, () => {
  it('stops its line-checking workers when it closes', async () => {
    const svc = await startInProcess()
    assert.equal(svc.service.lineParser.workers().length, 1)
    const [worker] = svc.service.lineParser.workers()
    assert.ok(worker !== undefined && worker.threadId > 0)
    await svc.close()
    assert.deepEqual(svc.service.lineParser.workers(), [])
    // A worker's threadId is -1 once it has stopped.
    assert.equal(worker.threadId, -1)
  })
})
