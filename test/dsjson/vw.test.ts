import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { dsjsonLine } from '../../src/output/dsjson.js'
import { assertAccepted, postJson } from '../helpers/http-client.js'
import { startInProcess, tempDir } from '../helpers/service.js'
import { runVw, VW_PACKAGE, vwPython } from '../helpers/vw.js'
import { ManualClock } from '../kit/manual-clock.js'
import { CLICK, CONTEXTS, contextOf, draw, type Policy, rng, simulate, TOPICS } from './simulator.js'

// A run's dsjson output goes to the real Vowpal Wabbit (`--cb_adf --dsjson`). Every
// line must parse with no skipped or malformed example, and the policy VW learns from it must
// beat the logging policy on held-out contexts.

const E = 1000
const DECISIONS = 6000
const HELD_OUT = 600
/** The logging policy favours one article everywhere: not a good policy, but every article has a chance. */
const logging: Policy = () => [0.1, 0.7, 0.1, 0.1]

/** Valid decisions that exercise the rest of the format: integer actions, models, odd features. */
const VARIETY: Record<string, unknown>[] = [
  { key: 'v-integer', action: 2, probability: 0.5, context: contextOf(3) },
  {
    key: 'v-"odd"-✓',
    action: 'travel',
    probability: 0.4,
    actions: [...TOPICS],
    probabilities: [0.2, 0.2, 0.2, 0.4],
    model: 'model/7 "quoted"',
    context: {
      user: { segment: 'student', daypart: 'evening', who: 'student-evening' },
      'spaced key': 'a b:c|d',
      flags: { vip: true, churned: false, none: null },
      scores: [1, null, 2.5],
      nested: [{ k: 'v' }],
      _text: 'free text here',
      _tag: 'tagged',
      _ignored: { anything: ['x', [1], { y: '}' }] },
      é: 'ü☃',
      _multi: TOPICS.map((topic) => ({ article: { topic }, _tag: topic })),
    },
  },
  { key: 'v-negative', action: 1, probability: 1, context: contextOf(0) },
  { key: 'v-deferred', action: 4, probability: 0.25, context: contextOf(5), deferred: true },
]

test('Vowpal Wabbit reads every dsjson line of a run and learns a policy better than the logging one', async (t) => {
  const python = vwPython()
  const work = tempDir('banditjoin-vw-')
  t.after(() => work.remove())
  const clock = new ManualClock()
  const svc = await startInProcess(
    { EXP_UNIT_MS: String(E), EARLY_REWARD_MS: '500', OUTPUT_FORMAT: 'dsjson' },
    { clock },
  )
  t.after(() => svc.close())
  for (const decision of VARIETY) await assertAccepted(svc, () => postJson(svc, '/log_decision', decision))
  await assertAccepted(svc, () => postJson(svc, '/log_reward', { key: 'v-negative', reward: -2 }))
  await assertAccepted(svc, () => postJson(svc, '/activate_decision', { key: 'v-deferred' }))
  await simulate(svc, clock, logging, {
    decisions: DECISIONS,
    decisionsPerTick: 20,
    tickMs: 50,
    expUnitMs: E,
    seed: 7,
    repeatShare: 0.2,
    records: DECISIONS + VARIETY.length,
  })
  const lines = readFileSync(svc.outputPath, 'utf8').split('\n').filter(Boolean)
  assert.equal(lines.length, DECISIONS + VARIETY.length, 'one line per decision')

  const random = rng(99)
  const heldOut = Array.from({ length: HELD_OUT }, () => Math.floor(random() * CONTEXTS.length))
  const holdoutPath = join(work.path, 'holdout.dsjson')
  writeFileSync(holdoutPath, heldOut.map((x, i) => `${heldOutLine(x, i)}\n`).join(''))

  const vw = runVw(python, '--cb_adf -q ua', svc.outputPath, holdoutPath, work.path)
  t.diagnostic(`${VW_PACKAGE}: ${vw.examples} examples, average loss ${vw.averageLoss}`)
  assert.equal(vw.examples, lines.length, `vw read every line:\n${vw.stderr}`)
  assert.equal(vw.metrics.line_parse_error, 0, 'no malformed line')
  assert.equal(vw.metrics.number_skipped_events, 0, 'no skipped example')
  assert.equal(vw.metrics.number_events_zero_actions, 0, 'no example without actions')
  assert.doesNotMatch(vw.stderr, /\[(warning|error)\]|malformed|parser error/i, 'no warning from vw')
  assert.equal(vw.predictions.length, HELD_OUT, `one prediction per held-out context:\n${vw.stderr}`)

  // True click rates on the held-out contexts: of the learned policy, of the logging one, of the best.
  const learned = mean(heldOut.map((x, i) => CLICK[x]?.[vw.predictions[i] as number] as number))
  const logged = mean(heldOut.map((x) => dot(logging(x), CLICK[x] as number[])))
  const best = mean(heldOut.map((x) => Math.max(...(CLICK[x] as number[]))))
  const rates = [learned, logged, best].map((r) => r.toFixed(3))
  t.diagnostic(`click rate on held-out contexts: learned ${rates[0]}, logging ${rates[1]}, best ${rates[2]}`)
  assert.ok(learned > logged + 0.1, `learned ${learned} beats logging ${logged}`)
})

/** A held-out context as a dsjson line (its label is not used: VW only predicts, -t). */
function heldOutLine(x: number, i: number): string {
  const probability = 0.25
  const record = {
    key: `h${i}`,
    action: TOPICS[draw(rng(i), [0.25, 0.25, 0.25, 0.25])],
    probability,
    context: contextOf(x),
    actions: [...TOPICS],
    probabilities: [0.25, 0.25, 0.25, 0.25],
    reward: 0,
    reward_count: 0,
    decision_insert_ms: 0,
    reward_delta_ms: null,
    emitted_ms: 0,
  }
  return dsjsonLine(JSON.stringify(record))
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length
const dot = (a: readonly number[], b: readonly number[]) =>
  a.reduce((sum, v, i) => sum + v * (b[i] as number), 0)
