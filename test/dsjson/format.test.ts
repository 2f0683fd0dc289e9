import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { bodyText, type DecisionEvent, type JoinOutcome } from '../../src/engine/types.js'
import { toIncomingEvent } from '../../src/ingest/validate.js'
import type { OutputLine, SinkPosition } from '../../src/log/types.js'
import { DsjsonSink, dsjsonLine, dsjsonTimestamp } from '../../src/output/dsjson.js'
import { FileSink } from '../../src/output/file-sink.js'
import { recordLine } from '../../src/output/format.js'
import { OUTPUT_FORMATS } from '../../src/output/formats.js'
import type { OutputSink } from '../../src/output/sink.js'
import { tempDir } from '../helpers/service.js'

// Each field of the dsjson line checked against Vowpal Wabbit's own reference lines
// (vw-cb-examples.dsjson beside this file: four lines of VW's test data at commit 872fd8da,
// test/train-sets/cb_simple.json, cb_simple_pdrop.json, cb_features_w_zero_vals.dsjson, dsjson_cb.json):
// the decision that should produce each line goes through ingest (with OUTPUT_FORMAT=dsjson)
// and the JSON record format, then dsjson.

type Line = Record<string, unknown>

const REFERENCE = new URL('../../../test/dsjson/vw-cb-examples.dsjson', import.meta.url)
const references = (): Line[] =>
  readFileSync(REFERENCE, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line)

const LIMITS = { maxContextBytes: 1 << 20, maxFieldBytes: 1024, refuse: OUTPUT_FORMATS.dsjson.refuse }

/** The JSON record line of a decision joined with `reward`, logged at `insertMs`. */
function recordOf(fields: Line, reward: number, insertMs = 1_764_150_000_000, rewardCount = 1): string {
  const incoming = toIncomingEvent('decision', fields, LIMITS) as Omit<DecisionEvent, 'pos' | 'insertMs'>
  const decision: DecisionEvent = { ...incoming, pos: 1, insertMs }
  const outcome: JoinOutcome = { reward, rewardCount, rewardDeltaMs: rewardCount > 0 ? 500 : null }
  return recordLine(
    { decision, dueMs: insertMs + 10_000, outcome },
    () => bodyText(decision.body),
    insertMs + 10_003,
  )
}

/** Its dsjson line. */
const dsjsonOf = (...args: Parameters<typeof recordOf>) => dsjsonLine(recordOf(...args))

/** Equal as VW reads them: numbers as 32-bit floats (a tolerance), the rest exactly. */
function assertVwEqual(actual: unknown, expected: unknown, field: string): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', field)
    assert.ok(Math.abs((actual as number) - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), field)
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), field)
    assert.equal(actual.length, expected.length, field)
    for (const [i, e] of expected.entries()) assertVwEqual(actual[i], e, `${field}[${i}]`)
  } else {
    assert.deepEqual(actual, expected, field)
  }
}

/** Every field of `reference` but `except` is in `line` with the same value (as VW reads it). */
function assertFields(line: Line, reference: Line, except: string[] = []): void {
  for (const [field, value] of Object.entries(reference)) {
    if (!except.includes(field)) assertVwEqual(line[field], value, field)
  }
}

const SIMPLE_CONTEXT = { shared: { f: '1' }, _multi: [{ action: { f: '1' } }, { action: { f: '2' } }] }

describe('dsjson lines match the reference lines of Vowpal Wabbit', () => {
  it('reproduces cb_simple.json line 1 field by field from a decision with its candidate list', () => {
    const [reference] = references() as [Line]
    const fields = { key: 'k1', action: 2, probability: 0.5, context: SIMPLE_CONTEXT }
    const line = JSON.parse(dsjsonOf({ ...fields, actions: [1, 2], probabilities: [0.5, 0.5] }, 1)) as Line
    assertFields(line, reference)
  })

  it('reproduces cb_simple_pdrop.json line 1 but its pdrop, since banditjoin never subsamples', () => {
    const reference = references()[1] as Line
    const fields = { key: 'k1', action: 2, probability: 0.5, context: SIMPLE_CONTEXT }
    const line = JSON.parse(dsjsonOf({ ...fields, actions: [1, 2], probabilities: [0.5, 0.5] }, 1)) as Line
    assertFields(line, reference, ['pdrop'])
    assert.equal(line.pdrop, undefined, 'no pdrop: every record is kept (VW reads it as 0)')
  })

  it('reproduces the labels, timestamp, context and model of cb_features_w_zero_vals.dsjson line 1', () => {
    const reference = references()[2] as Line
    const decision = {
      key: '12',
      action: 0,
      probability: 0.5,
      context: { A: { F: 0.0 }, _multi: [{}, {}] },
      actions: [0, 1],
      probabilities: [0.5, 0.5],
      model: 'N/A',
    }
    const line = JSON.parse(dsjsonOf(decision, 1, Date.parse('2020-12-08T23:25:52.183Z'))) as Line
    // That line's `a` holds 0-based ids and its event id is spelled event_id (VW reads EventId);
    // its _original_label_cost is a cost before a transformation banditjoin does not make.
    assertFields(line, reference, ['a', 'event_id', '_original_label_cost'])
    assert.deepEqual(line.a, [1, 2], 'a holds positions in _multi + 1, chosen first')
    assert.equal(line.EventId, '12')
    assert.equal(line._original_label_cost, -1)
  })

  it('reproduces dsjson_cb.json line 2 with a and p as the same candidate-probability pairs', () => {
    const reference = references()[3] as Line
    const context = reference.c as { _multi: { _tag: string }[] }
    const actions = context._multi.map((m) => m._tag)
    const decision = {
      key: 'bf50a49c34b74937a81e8d6fc95faa99',
      action: 'Cappucino',
      probability: 0.85,
      context,
      actions,
      probabilities: [0.85, 0.05, 0.05, 0.05],
      model: 'ff0744c1aa494e1ab39ba0c78d048146/550c12cbd3aa47f09fbed3387fb9c6ec',
    }
    const line = JSON.parse(dsjsonOf(decision, 1, Date.parse('2021-02-04T16:31:29.943Z'))) as Line
    // `o` (observations) is Personalizer's, not the learner's; `a` after the chosen one is that
    // service's ranking, which a bandit does not send: banditjoin lists the rest in candidate order.
    assertFields(line, reference, ['o', 'a', 'p'])
    assert.equal(line.o, undefined)
    const pairs = (l: Line) =>
      (l.a as number[]).map((a, i) => [a, Math.fround((l.p as number[])[i] as number)])
    assert.deepEqual(line.a, [1, 2, 3, 4])
    assert.deepEqual((line.a as number[])[0], (reference.a as number[])[0], 'the chosen action first')
    assert.deepEqual(
      pairs(line).sort(),
      pairs(reference).sort(),
      'the same candidates with the same probabilities',
    )
  })

  it('puts every label field before c, since VW attaches the label when it reaches the end of c', () => {
    const text = dsjsonOf({ key: 'k', action: 1, probability: 0.5, context: SIMPLE_CONTEXT }, 1)
    const keys = Object.keys(JSON.parse(text) as Line)
    for (const label of ['_label_cost', '_label_probability', '_label_Action', '_labelIndex'])
      assert.ok(keys.indexOf(label) < keys.indexOf('c'), `${label} precedes c`)
  })
})

describe('each dsjson field follows its rule (docs/vowpal-wabbit.md)', () => {
  const base = {
    key: 'evt-1',
    action: 'y',
    probability: 0.25,
    context: { u: { age: 3 }, _multi: [{}, {}, {}] },
  }
  const withCandidates = { ...base, actions: ['x', 'y', 'z'], probabilities: [0.5, 0.25, 0.25] }
  const line = (fields: Line, reward = 1, insertMs?: number, count = 1) =>
    JSON.parse(dsjsonOf(fields, reward, insertMs, count)) as Line

  it('makes _label_cost the negated reward and _label_probability the probability', () => {
    assert.equal(line(withCandidates, 2.5)._label_cost, -2.5)
    assert.equal(line(withCandidates, -1)._label_cost, 1)
    assert.equal(line(withCandidates, 0, undefined, 0)._label_cost, 0, 'a default reward of 0 costs 0')
    assert.equal(line(withCandidates)._label_probability, 0.25)
  })

  it('places the label at the chosen position among the candidates, with _label_Action one more', () => {
    const l = line(withCandidates)
    assert.equal(l._labelIndex, 1)
    assert.equal(l._label_Action, 2)
  })

  it('lists the candidates as positions + 1 with the chosen first and p aligned with them', () => {
    const l = line(withCandidates)
    assert.deepEqual(l.a, [2, 1, 3])
    assert.deepEqual(l.p, [0.25, 0.5, 0.25])
  })

  it('reads integer candidate ids by their position in the list, not by their value', () => {
    const l = line({ ...base, action: 30, actions: [10, 30, 20], probabilities: [0.5, 0.25, 0.25] })
    assert.equal(l._labelIndex, 1)
    assert.deepEqual(l.a, [2, 1, 3])
  })

  it('reads an integer action without a candidate list as its 1-based position in _multi', () => {
    const l = line({ ...base, action: 3 })
    assert.equal(l._labelIndex, 2)
    assert.equal(l._label_Action, 3)
    assert.deepEqual(l.a, [3])
    assert.deepEqual(l.p, [0.25])
  })

  it('echoes the context as c, the key as EventId and the decision time as Timestamp', () => {
    const l = line(withCandidates, 1, Date.parse('2025-11-26T10:00:00.007Z'))
    assert.deepEqual(l.c, base.context)
    assert.equal(l.EventId, 'evt-1')
    assert.equal(l.Timestamp, '2025-11-26T10:00:00.0070000Z')
    assert.equal(l.Version, '1')
  })

  it('carries the model as VWState.m only when the decision has one', () => {
    assert.deepEqual(line({ ...withCandidates, model: 'v7' }).VWState, { m: 'v7' })
    assert.equal(line(withCandidates).VWState, undefined)
  })

  it('writes timestamps with 7 fractional digits as the reference lines do', () => {
    assert.equal(dsjsonTimestamp(Date.parse('2021-02-04T16:31:29.943Z')), '2021-02-04T16:31:29.9430000Z')
    assert.equal(dsjsonTimestamp(0), '1970-01-01T00:00:00.0000000Z')
  })

  it('writes a record dsjson cannot express as a line VW skips, with the reason', () => {
    const json = JSON.stringify({
      key: 'old',
      action: 'b',
      probability: 0.5,
      context: 'a string context accepted before dsjson was configured',
      reward: 1,
      reward_count: 1,
      decision_insert_ms: 0,
      reward_delta_ms: 1,
      emitted_ms: 2,
    })
    const l = JSON.parse(dsjsonLine(json)) as Line
    assert.equal(l._skipLearn, true)
    assert.equal(l.EventId, 'old')
    assert.deepEqual([l.a, l.c, l.p], [[], {}, []])
    assert.match(l.banditjoin_skipped as string, /context must be a JSON object/)
  })
})

describe('a dsjson sink', () => {
  it('writes the dsjson line of each JSON record to the sink it wraps and keeps its position', () => {
    const written: OutputLine[] = []
    const position = (): SinkPosition => ({
      name: 'file:/x',
      seq: written.at(-1)?.seq ?? 0,
      offset: 0,
      fileId: null,
    })
    const inner: OutputSink = {
      name: 'file:/x',
      stream: 'records',
      position,
      canWrite: () => true,
      onWritable: () => {},
      write: (lines) => {
        written.push(...lines)
      },
      sync: position,
      syncInBackground: async () => position(),
      flush: async () => {},
      reopen: () => {},
      close: () => {},
    }
    const sink = new DsjsonSink(inner)
    const json = recordOf({ key: 'k', action: 1, probability: 1, context: SIMPLE_CONTEXT }, 1)
    sink.write([{ seq: 7, line: json }])
    assert.equal(sink.name, 'file:/x')
    assert.equal(sink.stream, 'records')
    assert.deepEqual(written, [{ seq: 7, line: dsjsonLine(json) }])
    assert.equal(sink.position().seq, 7)
  })
})

describe('a dsjson file output', () => {
  it('writes the same bytes again after a restart cut it back to its persisted position', (t) => {
    const dir = tempDir()
    t.after(() => dir.remove())
    const path = join(dir.path, 'joined.dsjson')
    const records = [1, 2, 3].map((n) => ({
      seq: n,
      line: recordOf(
        { key: `k${n}`, action: n % 2 === 0 ? 2 : 1, probability: 0.5, context: SIMPLE_CONTEXT },
        n,
      ),
    }))
    const first = new DsjsonSink(new FileSink(path, 'records', undefined, 0, () => {}))
    first.write(records.slice(0, 1))
    const persisted = first.position()
    first.write(records.slice(1))
    first.close()
    const written = readFileSync(path)
    // A restart from the position persisted after line 1: the file is cut back and lines 2-3 come again from the log.
    const again = new DsjsonSink(new FileSink(path, 'records', persisted, 0, () => {}))
    again.write(records.slice(1))
    again.close()
    assert.deepEqual(readFileSync(path), written)
    assert.equal(written.toString().split('\n').filter(Boolean).length, 3)
  })
})
