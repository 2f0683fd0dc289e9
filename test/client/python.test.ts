import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { E2E } from '../helpers/e2e-http.js'
import { pipInstall, venvBin } from '../helpers/python-venv.js'
import { VW_PACKAGE } from '../helpers/vw.js'

// The Python client (clients/python), pip-installed from its folder into a virtual environment
// that also has Vowpal Wabbit, run against the real service: its own checks, then the example
// that trains VW online from GET /joined?format=dsjson.

const FOLDER = fileURLToPath(new URL('../../../clients/python/', import.meta.url))

function runPython(python: string, args: string[]) {
  return spawnSync(python, args, { encoding: 'utf8', timeout: 120_000 })
}

test('the Python client logs, batches and tails against the real service, and its example trains Vowpal Wabbit from the tail', async (t) => {
  if (spawnSync('python3', ['--version']).error !== undefined) {
    t.skip('python3 is not installed: the Python client cannot be tested here')
    return
  }
  // An environment of its own (with VW for the example), so that the VW tests' stays as it is.
  const bin = venvBin('banditjoin-python-client', VW_PACKAGE, 'vowpalwabbit')
  pipInstall(bin, FOLDER)
  const python = join(bin, 'python')
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const service = await e2e.start({
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${join(dir, 'joined.jsonl')}`,
    DURABILITY: 'process',
    EXP_UNIT_MS: '300',
    EARLY_REWARD_MS: '200',
  })

  const checks = runPython(python, [join(FOLDER, 'tests', 'test_client.py'), service.url])
  assert.equal(checks.status, 0, checks.stdout + checks.stderr)
  assert.match(checks.stdout, /all checks passed/)

  const example = runPython(python, [
    join(FOLDER, 'examples', 'train_vw.py'),
    '--url',
    service.url,
    '--from-seq',
    '1',
    '--max-records',
    '23',
  ])
  assert.equal(example.status, 0, example.stdout + example.stderr)
  assert.match(example.stdout, /learned from 23 records \(last seq 23\)/)
})
