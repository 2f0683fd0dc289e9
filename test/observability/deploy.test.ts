import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { it } from 'node:test'
import { startObserved } from './harness.js'

// deploy/: the Grafana dashboard and the Prometheus scrape configuration use the real metric names.

const deployFile = (name: string) => readFileSync(new URL(`../../../deploy/${name}`, import.meta.url), 'utf8')

interface Panel {
  title: string
  type: string
  targets?: { expr: string }[]
}

it('the Grafana dashboard queries only metrics the service exports, and shows every metric of the join', async (t) => {
  const o = await startObserved(t)
  const exported = (await o.metrics()).type
  const dashboard = JSON.parse(deployFile('grafana-dashboard.json')) as { panels: Panel[] }
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => target.expr))
  assert.ok(exprs.length > 20, `${exprs.length} queries`)
  const used = new Set(exprs.flatMap((expr) => expr.match(/banditjoin_[a-z0-9_]+/g) ?? []))
  const familyOf = (name: string) => {
    const base = name.replace(/_(bucket|sum|count)$/, '')
    return exported.get(base) === 'histogram' ? base : name
  }
  for (const name of used)
    assert.ok(exported.has(familyOf(name)), `the dashboard queries ${name}, not exported`)
  const shown = new Set([...used].map(familyOf))
  const own = [...exported.keys()].filter((name) => !/^banditjoin_(process|nodejs)_/.test(name))
  assert.deepEqual(
    own.filter((name) => !shown.has(name)),
    [],
    'every metric of the service is on the dashboard',
  )
})

it('the Prometheus example scrapes GET /metrics of a banditjoin target', () => {
  const config = deployFile('prometheus.yml')
  assert.match(config, /^ {4}metrics_path: \/metrics$/m)
  assert.match(config, /^ {2}- job_name: banditjoin$/m)
  assert.match(config, /targets: \["127\.0\.0\.1:8080"\]/)
})
