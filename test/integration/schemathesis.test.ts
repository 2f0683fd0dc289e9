import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { E2E, send } from '../helpers/e2e-http.js'
import { venvBin } from '../helpers/python-venv.js'
import { parseExposition, samplesOf } from '../observability/prom-text.js'

// Schema-driven fuzzing of the service's own /openapi.json with schemathesis (from
// PyPI, pinned, in a virtual environment under node_modules/.cache): every operation, thousands
// of generated cases (valid and invalid), no 5xx, every response as documented.

const SCHEMATHESIS = 'schemathesis==4.32.5'
/** With a key, the document's bearer scheme is in force: schemathesis checks that requests without it are refused. */
const API_KEY = 'schemathesis-key'
const EXAMPLES_PER_OPERATION = 500

/**
 * Every check but positive_data_acceptance: the API has rules across fields that JSON Schema
 * cannot say (the chosen action among `actions`, probabilities summing to 1, dsjson's), so a
 * schema-valid decision may rightly get 422. GET /joined is left out: a valid request is a
 * stream that never ends (test/http/fuzz.test.ts fuzzes it).
 */
const ARGS = [
  '--checks',
  'all',
  '--exclude-checks',
  'positive_data_acceptance',
  '--exclude-path',
  '/joined',
  '--max-examples',
  String(EXAMPLES_PER_OPERATION),
  '--request-timeout',
  '10',
  '--generation-database',
  'none',
  '--no-color',
]

/** Teaches schemathesis to send POST /events' NDJSON body (a string) as it sends text/plain. */
const HOOKS = fileURLToPath(new URL('../../../test/integration/schemathesis-hooks.py', import.meta.url))

/** Runs in `cwd`, where it keeps a cache of its own. */
function runSchemathesis(
  bin: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(join(bin, 'schemathesis'), ['run', ...args], {
    cwd,
    env: { ...process.env, SCHEMATHESIS_HOOKS: HOOKS },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })))
}

test('schemathesis finds no 5xx and no answer off the OpenAPI document in thousands of generated requests', async (t) => {
  const bin = venvBin('banditjoin-schemathesis', SCHEMATHESIS, 'schemathesis')
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const service = await e2e.start({
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${join(dir, 'joined.jsonl')}`,
    DURABILITY: 'process',
    EXP_UNIT_MS: '1000',
    API_KEY,
  })
  const seed = process.env.BANDITJOIN_SCHEMATHESIS_SEED ?? '1'
  const { code, output } = await runSchemathesis(
    bin,
    [`${service.url}/openapi.json`, ...ARGS, '--header', `Authorization: Bearer ${API_KEY}`, '--seed', seed],
    dir,
  )
  const summary = /(\d+) generated, (.*)/.exec(output)
  t.diagnostic(`seed ${seed} (BANDITJOIN_SCHEMATHESIS_SEED); ${summary?.[0] ?? 'no summary'}`)
  assert.equal(code, 0, output.slice(-6000))
  assert.ok(Number(summary?.[1]) >= 1000, `only ${summary?.[1]} cases`)
  assert.match(output, /Operations:\s+12 selected/)

  const metrics = parseExposition(
    (await send(`${service.url}/metrics`, 'GET', { authorization: `Bearer ${API_KEY}` })).text,
  )
  const answers = samplesOf(metrics, 'banditjoin_http_request_duration_seconds_count')
  const serverErrors = answers.filter((s) => Number(s.labels.status_code) >= 500 && s.value > 0)
  assert.deepEqual(serverErrors, [], 'no 5xx, by the service’s own count')
  assert.equal(await e2e.stop(service), 0)
})
