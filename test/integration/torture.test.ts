import assert from 'node:assert/strict'
import { test } from 'node:test'
import { torture } from '../helpers/torture.js'

// The crash loop, a few cycles (BANDITJOIN_TORTURE_CYCLES; `npm run torture` runs 50).

test('cycles of load ended by kill -9 or SIGTERM at random moments lose nothing acknowledged and duplicate nothing', async (t) => {
  const cycles = Number(process.env.BANDITJOIN_TORTURE_CYCLES ?? 4)
  const seed = Number(process.env.BANDITJOIN_TORTURE_SEED ?? Math.floor(Math.random() * 2 ** 31))
  t.diagnostic(`seed ${seed} (BANDITJOIN_TORTURE_SEED replays it)`)
  const report = await torture({ cycles, seed, log: (line) => t.diagnostic(line) })
  const { violations, ...figures } = report
  t.diagnostic(JSON.stringify(figures))
  assert.deepEqual(violations.slice(0, 20), [])
  assert.equal(report.missing, 0)
  assert.equal(report.duplicated, 0)
  assert.ok(report.decisions.acked > 0, 'decisions were acknowledged')
})
