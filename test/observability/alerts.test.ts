import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { it } from 'node:test'
import { parse } from 'yaml'
import { decisionBody, startObserved } from './harness.js'
import { samplesOf } from './prom-text.js'

// deploy/alerts.yml: Prometheus alert rules on the metrics the service really exports.

interface Rule {
  alert: string
  expr: string
  for?: string
  labels: { severity: string }
  annotations: { summary: string; description: string }
}

const deployFile = (name: string) => readFileSync(new URL(`../../../deploy/${name}`, import.meta.url), 'utf8')

const rules = () =>
  (parse(deployFile('alerts.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules)

/** Series Prometheus makes itself for every target, not read from /metrics. */
const PROMETHEUS_OWN = new Set(['up'])

/** PromQL functions, keywords and aggregations the rules use (what is not a metric name). */
const PROMQL_WORDS = new Set(['sum', 'by', 'rate', 'increase', 'deriv', 'and', 'or', 'unless'])

it('has a rule for each condition an operator must hear of, each with a severity, a summary and a description', () => {
  const all = rules()
  const byName = new Map(all.map((r) => [r.alert, r]))
  assert.equal(byName.size, all.length, 'alert names are unique')
  for (const name of [
    'BanditjoinDown',
    'BanditjoinNotReady',
    'BanditjoinOutputLagGrowing',
    'BanditjoinLateRewardShareHigh',
    'BanditjoinCommitFailures',
    'BanditjoinBackPressure',
  ])
    assert.ok(byName.has(name), `no rule ${name}`)
  for (const rule of all) {
    assert.match(rule.labels.severity, /^(critical|warning)$/, rule.alert)
    assert.ok(rule.annotations.summary && rule.annotations.description, `${rule.alert} explains itself`)
    if (rule.for !== undefined) assert.match(rule.for, /^\d+[smh]$/, rule.alert)
    let depth = 0
    for (const char of rule.expr) {
      depth += char === '(' ? 1 : char === ')' ? -1 : 0
      assert.ok(depth >= 0, `${rule.alert}: unbalanced parentheses`)
    }
    assert.equal(depth, 0, `${rule.alert}: unbalanced parentheses`)
  }
})

it('uses only metrics GET /metrics exports, and label values an overload really produces', async (t) => {
  // MAX_PENDING=1: the second pending decision is refused as back-pressure.
  const o = await startObserved(t, { MAX_PENDING: '1' })
  assert.equal(await o.post('/log_decision', decisionBody('first')), 200)
  assert.equal(await o.post('/log_decision', decisionBody('second')), 503)
  const m = await o.metrics()
  for (const rule of rules()) {
    const withoutStrings = rule.expr.replace(/"[^"]*"/g, '""')
    const words =
      withoutStrings.replace(/\{[^}]*\}|\[[^\]]*\]/g, ' ').match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []
    const metrics = words.filter((w) => !PROMQL_WORDS.has(w) && !['instance', 'output'].includes(w))
    assert.ok(metrics.length > 0, `${rule.alert} uses a metric`)
    for (const name of metrics) {
      if (PROMETHEUS_OWN.has(name)) continue
      assert.ok(m.type.has(name), `${rule.alert} uses ${name}, which /metrics does not export`)
    }
    for (const [, name, selector] of rule.expr.matchAll(/([a-z_]+)\{([^}]*)\}/g)) {
      if (PROMETHEUS_OWN.has(name as string)) continue
      const labels = Object.fromEntries(
        [...(selector as string).matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k as string, v as string]),
      )
      assert.ok(
        samplesOf(m, name as string, labels).length > 0,
        `${rule.alert}: no ${name}{${selector}} sample`,
      )
    }
  }
})

it('is loaded by the Prometheus example, from the folder of its configuration', () => {
  const config = parse(deployFile('prometheus.yml')) as { rule_files: string[] }
  assert.deepEqual(config.rule_files, ['alerts.yml'])
})
