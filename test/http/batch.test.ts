import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { assertOk, assertRefused, decision, postBatch, postJson } from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'

const decisionLine = (key: string, extra: Record<string, unknown> = {}) => ({
  type: 'decision',
  ...decision(key, extra),
})
const rewardLine = (key: string, reward: unknown = 1) => ({ type: 'reward', key, reward })

describe('POST /events is all or nothing', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess({ MAX_BATCH_EVENTS: '5' })
  })
  after(() => svc.close())

  const refusedBatch = (lines: unknown[], status: number, pattern: RegExp) =>
    assertRefused(svc, () => postBatch(svc, lines), status, pattern)

  it('refuses a whole batch with 422 when one line breaks the schema, naming the line', async () => {
    const res = await refusedBatch(
      [decisionLine('a1'), rewardLine('a1', 'one'), rewardLine('a1', 2)],
      422,
      /line 2: reward must be a number/,
    )
    assert.doesNotMatch((res.json() as { error: string }).error, /line [13]\b/)
  })

  it('names every offending line, numbering from 1 and counting blank lines', async () => {
    await refusedBatch(
      [
        rewardLine('a2'),
        '',
        '{"type": "reward", "key": "a2"}',
        '   ',
        rewardLine('a2'),
        rewardLine('a2', null),
      ],
      422,
      /line 3: reward is required.*line 6: reward must be a number/,
    )
  })

  it('answers with the status of the first offending line: a schema error before malformed JSON gives 422', async () => {
    await refusedBatch([rewardLine('a3', 'x'), '{"type": "reward",'], 422, /line 1: .*line 2: malformed JSON/)
  })

  it('answers with the status of the first offending line: malformed JSON before a schema error gives 400', async () => {
    await refusedBatch(['{not json', rewardLine('a4', 'x')], 400, /line 1: malformed JSON.*line 2: reward/)
  })

  it('refuses __proto__ at the top of a batch line with 400', async () => {
    await refusedBatch(
      [rewardLine('a5'), '{"type": "reward", "key": "a5", "reward": 1, "__proto__": {"polluted": 1}}'],
      400,
      /line 2: object key "__proto__" is not allowed/,
    )
  })

  it('refuses constructor nested in a batch line context with 400', async () => {
    await refusedBatch(
      [
        decisionLine('a6'),
        '{"type": "decision", "key": "a7", "action": 1, "probability": 1, "context": {"x": {"constructor": {}}}}',
      ],
      400,
      /line 2: object key "constructor" is not allowed/,
    )
  })

  it('refuses a line without a known type with 422', async () => {
    await refusedBatch([{ key: 'a8', reward: 1 }], 422, /line 1: type is required/)
    await refusedBatch([{ type: 'click', key: 'a8', reward: 1 }], 422, /line 1: type must be equal to one of/)
    await refusedBatch(['[1, 2]'], 422, /line 1: /)
  })

  it('checks each line against the schema of its type', async () => {
    await refusedBatch(
      [
        decisionLine('a9', { probability: 0 }),
        { type: 'override' },
        { type: 'activate', key: '' },
        decisionLine('a10', { action: 1.5 }),
      ],
      422,
      /line 1: probability must be > 0.*line 2: key is required.*line 3: key must NOT have fewer.*line 4: action must be/,
    )
  })

  it('refuses a batch with more lines than MAX_BATCH_EVENTS with 413', async () => {
    const lines = Array.from({ length: 6 }, (_, i) => rewardLine(`m${i}`))
    await refusedBatch(lines, 413, /MAX_BATCH_EVENTS=5/)
  })

  it('accepts exactly MAX_BATCH_EVENTS events, blank lines not counted', async () => {
    const before = svc.loggedEvents()
    const lines = ['', ...Array.from({ length: 5 }, (_, i) => rewardLine(`n${i}`)), '', '']
    assertOk(await postBatch(svc, lines), { accepted: 5, duplicates: 0 })
    assert.equal(svc.loggedEvents(), before + 5)
  })

  it('accepts an empty batch as zero events', async () => {
    const before = svc.loggedEvents()
    assertOk(await postBatch(svc, ['', '']), { accepted: 0, duplicates: 0 })
    assert.equal(svc.loggedEvents(), before)
  })
})

describe('duplicates and conflicts inside batches', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess()
  })
  after(() => svc.close())

  it('counts a decision line repeating an earlier line of the same batch as a duplicate', async () => {
    const before = svc.loggedEvents()
    const res = await postBatch(svc, [
      decisionLine('d1'),
      rewardLine('d1'),
      decisionLine('d1', { timestamp: 'later' }),
    ])
    assertOk(res, { accepted: 2, duplicates: 1 })
    assert.equal(svc.loggedEvents(), before + 2)
  })

  it('counts a decision line repeating an already logged decision as a duplicate', async () => {
    const before = svc.loggedEvents()
    assertOk(await postBatch(svc, [decisionLine('d1'), decisionLine('d2')]), { accepted: 1, duplicates: 1 })
    assert.equal(svc.loggedEvents(), before + 1)
  })

  it('refuses a batch with 409 when a line conflicts with an already logged decision', async () => {
    await assertRefused(
      svc,
      () => postBatch(svc, [decisionLine('d3'), rewardLine('d1'), decisionLine('d1', { action: 'other' })]),
      409,
      /line 3: key "d1" is already a different decision/,
    )
    const single = await postJson(svc, '/log_decision', decision('d3'))
    assertOk(single)
  })

  it('refuses a batch with 409 when two of its lines are different decisions with one key', async () => {
    await assertRefused(
      svc,
      () => postBatch(svc, [decisionLine('d4'), decisionLine('d4', { probability: 0.25 })]),
      409,
      /line 2: key "d4" is already a different decision/,
    )
  })

  it('answers 409 when a conflict comes before a schema error', async () => {
    await assertRefused(
      svc,
      () => postBatch(svc, [decisionLine('d1', { action: 'other' }), rewardLine('d1', 'x')]),
      409,
      /line 1: key "d1".*line 2: reward must be a number/,
    )
  })

  it('answers 422 when a schema error comes before a conflict', async () => {
    await assertRefused(
      svc,
      () => postBatch(svc, [rewardLine('d1', 'x'), decisionLine('d1', { action: 'other' })]),
      422,
      /line 1: reward must be a number.*line 2: key "d1"/,
    )
  })
})

describe('a batch error names every offending line', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess()
  })
  after(() => svc.close())

  it('names all 25 bad lines of a 50-line batch', async () => {
    const lines = Array.from({ length: 50 }, (_, i) =>
      i % 2 === 0 ? rewardLine('many', 'bad') : rewardLine('many'),
    )
    const res = await assertRefused(svc, () => postBatch(svc, lines), 422, /line 1: reward must be a number/)
    const { error } = res.json() as { error: string }
    const missing = Array.from({ length: 25 }, (_, i) => 2 * i + 1).filter(
      (line) => !new RegExp(`\\b${line}\\b`).test(error),
    )
    assert.deepEqual(missing, [], `every offending line is named in: ${error}`)
  })
})
