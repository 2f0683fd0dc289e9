import assert from 'node:assert/strict'
import { after, before, describe, it, type TestContext } from 'node:test'
import { assertAccepted, assertRefused, postBatch, postJson, send } from '../helpers/http-client.js'
import { openTail } from '../helpers/http-stream.js'
import { type InProcessService, parseLines, readJsonLines, startInProcess } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { waitFor } from '../kit/wait.js'

// OUTPUT_FORMAT=dsjson end to end: what ingest refuses (SPEC §4), and what stdout, files and
// GET /joined?format= carry.

type Line = Record<string, unknown>

const CONTEXT = { user: { segment: 'a' }, _multi: [{ item: { id: 'x' } }, { item: { id: 'y' } }] }
const GOOD = {
  key: 'k',
  action: 'y',
  probability: 0.5,
  context: CONTEXT,
  actions: ['x', 'y'],
  probabilities: [0.5, 0.5],
}

/** Decisions dsjson cannot express, the words the refusal must contain. */
const REFUSED: [string, Line, RegExp][] = [
  [
    'a string action without a candidate list',
    { action: 'y', actions: undefined, probabilities: undefined },
    /action must be an integer >= 1/,
  ],
  [
    'an action 0 without a candidate list (ids are 1-based)',
    { action: 0, actions: undefined, probabilities: undefined },
    /action must be an integer >= 1 \(its 1-based position in context\._multi\)/,
  ],
  [
    'an integer action beyond _multi without a candidate list',
    { action: 3, actions: undefined, probabilities: undefined },
    /action must be at most the number of context\._multi entries .*got 3 for 2/,
  ],
  [
    'a string context (the original client sends JSON text)',
    { context: '{"user":7}' },
    /context must be a JSON object/,
  ],
  ['an array context', { context: [1, 2] }, /context must be a JSON object/],
  [
    'a context without _multi',
    { context: { user: 7 } },
    /context\._multi must be a non-empty array of objects/,
  ],
  [
    'a _multi with a non-object entry',
    { context: { _multi: [{}, 'y'] } },
    /context\._multi must be a non-empty array of objects/,
  ],
  [
    'a _multi shorter than the candidate list',
    { context: { _multi: [{}] } },
    /context\._multi must have one object per entry of actions .*got 1 for 2/,
  ],
  [
    'an array of strings in the context',
    { context: { ...CONTEXT, tags: ['a', 'b'] } },
    /context\.tags\[0\] must be a number, null or an object/,
  ],
  [
    'a nested array in a candidate',
    { context: { _multi: [{ m: [[1]] }, {}] } },
    /context\._multi\[0\]\.m\[0\] must be a number, null or an object/,
  ],
  [
    'a label field in the context',
    { context: { ...CONTEXT, _label_cost: 1 } },
    /context\._label_cost: keys starting with _label are VW's label fields/,
  ],
  [
    'a _multi nested below the context',
    { context: { ...CONTEXT, u: { _multi: [] } } },
    /context\.u\._multi: _multi is only allowed directly in the context/,
  ],
  [
    'a CCB _slots list in the context',
    { context: { ...CONTEXT, _slots: [] } },
    /context\._slots: VW reads _slots as CCB, slates or label data/,
  ],
  ['a non-string _text', { context: { ...CONTEXT, _text: 5 } }, /context\._text must be a string/],
  [
    'an ignored _ key with an escaped character',
    { context: { ...CONTEXT, '_a"b': 1 } },
    /must not contain characters JSON escapes/,
  ],
  [
    'a probability below the smallest normal 32-bit float',
    { probability: 1e-39, actions: undefined, probabilities: undefined, action: 1 },
    /probability must be at least 1\.17549435\d*e-38/,
  ],
]

const decisionWith = (key: string, changes: Line) => {
  const fields: Line = { ...GOOD, key, ...changes }
  for (const name of Object.keys(fields)) if (fields[name] === undefined) delete fields[name]
  return fields
}

describe('with OUTPUT_FORMAT=dsjson, decisions dsjson cannot express are refused with 422', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess({ OUTPUT_FORMAT: 'dsjson' })
  })
  after(() => svc.close())

  for (const [name, changes, pattern] of REFUSED) {
    it(`refuses ${name}, naming the field and the rule, and logs nothing`, async () => {
      await assertRefused(
        svc,
        () => postJson(svc, '/log_decision', decisionWith(name, changes)),
        422,
        pattern,
      )
    })
  }

  it('refuses a batch holding such a decision whole, naming its line', async () => {
    const lines = [
      { type: 'decision', ...decisionWith('ok-1', {}) },
      { type: 'decision', ...decisionWith('bad', { context: 'text' }) },
    ]
    await assertRefused(svc, () => postBatch(svc, lines), 422, /line 2: context must be a JSON object/)
  })

  it('accepts decisions with a candidate list, or an integer action placed by its 1-based position', async () => {
    await assertAccepted(svc, () => postJson(svc, '/log_decision', decisionWith('ok-2', {})))
    const integer = decisionWith('ok-3', { action: 2, actions: undefined, probabilities: undefined })
    await assertAccepted(svc, () => postJson(svc, '/log_decision', integer))
    const ids = decisionWith('ok-4', { action: 7, actions: [3, 7], model: 'm1' })
    await assertAccepted(svc, () => postJson(svc, '/log_decision', ids))
  })
})

describe('with OUTPUT_FORMAT=json the dsjson rules do not apply', () => {
  it('accepts a decision dsjson could not express', async (t) => {
    const svc = await startInProcess()
    t.after(() => svc.close())
    await assertAccepted(svc, () => postJson(svc, '/log_decision', decisionWith('s', { context: 'text' })))
  })
})

/** A dsjson service with a manual clock, listening, with decisions `keys` emitted. */
async function emitted(t: TestContext, env: Record<string, string>, decisions: Line[]) {
  const clock = new ManualClock()
  const svc = await startInProcess({ EXP_UNIT_MS: '1000', ...env }, { clock })
  t.after(() => svc.close())
  for (const d of decisions) await assertAccepted(svc, () => postJson(svc, '/log_decision', d))
  await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: String(decisions[0]?.key), reward: 1 }))
  clock.advance(1000)
  await waitFor('records emitted', () => svc.service.log.checkpoint.recordSeq >= decisions.length)
  await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
  return svc
}

describe('the outputs in dsjson', () => {
  const decisions = [
    decisionWith('d1', {}),
    decisionWith('d2', { action: 1, actions: undefined, probabilities: undefined }),
  ]

  it('writes one dsjson line per record to standard output and to files', async (t) => {
    const svc = await emitted(t, { OUTPUT_FORMAT: 'dsjson' }, decisions)
    await waitFor('the file output', () => readJsonLines(svc.outputPath).length === 2)
    for (const lines of [readJsonLines(svc.outputPath), svc.stdout.lines()] as Line[][]) {
      assert.deepEqual(
        lines.map((l) => [l.EventId, l._label_cost, l._labelIndex, l.a, l.p]),
        [
          ['d1', -1, 1, [2, 1], [0.5, 0.5]],
          ['d2', 0, 0, [1], [0.5]],
        ],
      )
      assert.deepEqual(lines[0]?.c, CONTEXT)
      assert.equal(lines[0]?.seq, undefined, 'seq is for the tail only')
    }
  })

  it('serves GET /joined?format=dsjson with seq on every line, and JSON records by default', async (t) => {
    const svc = await emitted(t, { OUTPUT_FORMAT: 'json' }, decisions)
    const url = svc.service.address()
    const dsjson = openTail(`${url}/joined?from=1&format=dsjson`)
    const json = openTail(`${url}/joined?from=1`)
    t.after(() => {
      dsjson.close()
      json.close()
    })
    const lines = await dsjson.waitForRecords(2)
    assert.deepEqual(
      lines.map((l) => [l.seq, l.EventId, l._labelIndex]),
      [
        [1, 'd1', 1],
        [2, 'd2', 0],
      ],
    )
    const records = await json.waitForRecords(2)
    assert.deepEqual(
      records.map((r) => [r.seq, r.key, r.reward]),
      [
        [1, 'd1', 1],
        [2, 'd2', 0],
      ],
    )
    assert.deepEqual(
      records.map(({ seq: _seq, ...rest }) => rest),
      parseLines(svc.stdout.text),
      'json, as OUTPUT_FORMAT says for stdout',
    )
  })

  it('refuses a format other than json and dsjson with 422 naming the parameter', async (t) => {
    const svc = await emitted(t, {}, decisions.slice(0, 1))
    const res = await send(svc, 'GET', '/joined?from=1&format=xml')
    assert.equal(res.statusCode, 422, res.text)
    assert.match((res.json() as { error: string }).error, /format must be equal to one of the allowed values/)
  })
})
