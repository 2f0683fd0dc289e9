import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readJsonLines, startInProcess } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { CLICK, CONTEXTS, contextIndex, countedShare, type Policy, simulate, TOPICS } from './simulator.js'

// The inverse-propensity estimate of a target policy's value, computed from
// banditjoin's joined records, agrees with the policy's true expected windowed reward; and a
// deliberately broken join makes it disagree, so the check can fail. Simulated time, fixed seed.

const E = 1000
const G = 500
const DECISIONS = 20_000
/** Half-width of the check, in standard errors of the estimate. */
const Z = 4

const rotate = (base: readonly number[], by: number) =>
  base.map((_, a) => base[(a + by) % base.length] as number)
/** The logging policy: every article has a chance, the favourite depends on the context. */
const logging: Policy = (x) => rotate([0.4, 0.3, 0.2, 0.1], x)
/** A different target policy. */
const target: Policy = (x) => rotate([0.7, 0.1, 0.1, 0.1], 2 * x + 1)

/** The target's true expected windowed reward V, and the standard deviation of one IPS term. */
function truth(): { value: number; sd: number } {
  const counted = countedShare(G, E)
  let value = 0
  let second = 0
  for (let x = 0; x < CONTEXTS.length; x++) {
    for (let a = 0; a < TOPICS.length; a++) {
      const reward = (CLICK[x]?.[a] as number) * counted
      const [pt, p0] = [target(x)[a] as number, logging(x)[a] as number]
      value += (pt * reward) / CONTEXTS.length
      second += ((pt * pt) / p0) * (reward / CONTEXTS.length)
    }
  }
  return { value, sd: Math.sqrt(second - value * value) }
}

interface JoinedRow {
  action: string
  probability: number
  context: unknown
  reward: number
  reward_count: number
  reward_delta_ms: number | null
}

/** (1/n) Σ π(a|x) r / p over the rows. */
function ips(rows: readonly JoinedRow[]): number {
  let sum = 0
  for (const row of rows) {
    const x = contextIndex(row.context)
    const a = TOPICS.indexOf(row.action as (typeof TOPICS)[number])
    sum += ((target(x)[a] as number) * row.reward) / row.probability
  }
  return sum / rows.length
}

/** Broken joins, as the records they would have produced. */
const BROKEN: [string, (rows: JoinedRow[]) => JoinedRow[]][] = [
  [
    'drops rewards in the last quarter of the window (a join that closes early)',
    (rows) => rows.map((r) => ((r.reward_delta_ms ?? 0) >= 0.75 * E ? { ...r, reward: 0 } : r)),
  ],
  [
    'emits one record per counted reward (a decisions-join-rewards query)',
    (rows) => rows.flatMap((r) => Array.from({ length: Math.max(1, r.reward_count) }, () => r)),
  ],
]

test('the IPS estimate from the joined records agrees with the true windowed value, and a broken join does not', async (t) => {
  const clock = new ManualClock()
  const svc = await startInProcess({ EXP_UNIT_MS: String(E), EARLY_REWARD_MS: String(G) }, { clock })
  t.after(() => svc.close())
  const simulated = await simulate(svc, clock, logging, {
    decisions: DECISIONS,
    decisionsPerTick: 20,
    tickMs: 50,
    expUnitMs: E,
    seed: 20251126,
    repeatShare: 0.5,
  })
  const rows = readJsonLines(svc.outputPath) as JoinedRow[]
  assert.equal(rows.length, simulated.length, 'one record per decision')
  assert.ok(
    rows.some((r) => (r.reward_delta_ms ?? 0) < 0),
    'some rewards arrived before their decision',
  )
  assert.ok(
    simulated.some((d) => d.click && (d.delayMs as number) >= E),
    'some rewards arrived after the window',
  )

  const { value, sd } = truth()
  const bound = (Z * sd) / Math.sqrt(rows.length)
  const estimate = ips(rows)
  const report = (name: string, v: number) =>
    `${name}: estimate ${v.toFixed(4)}, true value ${value.toFixed(4)}, bound ±${bound.toFixed(4)}`
  t.diagnostic(report('banditjoin', estimate))
  assert.ok(Math.abs(estimate - value) <= bound, report('banditjoin', estimate))

  for (const [name, breakJoin] of BROKEN) {
    const broken = ips(breakJoin(rows))
    t.diagnostic(report(name, broken))
    assert.ok(Math.abs(broken - value) > bound, `the check must fail for a join that ${report(name, broken)}`)
  }
})
