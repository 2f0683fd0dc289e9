import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { rssBytes } from '../../bench/lib/cpu.js'
import { E2E, postBatch, send } from '../helpers/e2e-http.js'
import type { ReadyProcess } from '../kit/spawn.js'
import { sleep, waitFor } from '../kit/wait.js'
import { parseExposition, valueOrZero } from '../observability/prom-text.js'

// A standard output that stops being read never makes the service's memory grow
// without bound, and resumes where it stopped (the tail's cut-off: test/output/tail.test.ts).
// Real time: the built CLI runs as a child process on its own clock; its standard output is a real pipe.

const DECISIONS = 8000
const CONTEXT_BYTES = 5000

async function metric(service: ReadyProcess, name: string, labels: Record<string, string> = {}) {
  const answer = await send(`${service.url}/metrics`, 'GET', {})
  return valueOrZero(parseExposition(answer.text), name, labels)
}

/** DECISIONS decisions of about CONTEXT_BYTES each (40 MB of records), in batches of 1000. */
async function logDecisions(service: ReadyProcess): Promise<void> {
  for (let from = 0; from < DECISIONS; from += 1000) {
    const lines = Array.from({ length: 1000 }, (_, i) => ({
      type: 'decision',
      key: `k${from + i}`,
      action: 1,
      probability: 0.5,
      context: { n: from + i, text: 'x'.repeat(CONTEXT_BYTES) },
    }))
    const answer = await postBatch(service.url, lines)
    assert.equal(answer.status, 200, answer.text)
  }
}

const emitted = (service: ReadyProcess) => metric(service, 'banditjoin_records_emitted_total')

describe('a slow standard output', () => {
  it('a standard output nobody reads leaves records in the log, not in memory, and resumes when read again', async (t) => {
    const e2e = new E2E(t)
    const dir = e2e.dir()
    const service = await e2e.start({
      DATA_DIR: join(dir, 'data'),
      OUTPUT: 'stdout',
      EXP_UNIT_MS: '200',
      DURABILITY: 'process',
    })
    const stdout = service.process.stdout
    assert.ok(stdout)
    stdout.pause()
    const rssBefore = rssBytes(service.process.pid as number)
    await logDecisions(service)
    await waitFor('every record emitted', async () =>
      (await emitted(service)) >= DECISIONS ? true : undefined,
    )
    await sleep(1000)
    const lag = await metric(service, 'banditjoin_output_lag_records', { output: 'stdout' })
    const rssGrowth = rssBytes(service.process.pid as number) - rssBefore
    t.diagnostic(
      `while nobody reads: ${lag} records held in the log, RSS grew ${(rssGrowth / 2 ** 20).toFixed(0)} MiB`,
    )
    assert.ok(
      lag >= DECISIONS - 2000,
      `only ${lag} of ${DECISIONS} records are held back (the rest is in memory)`,
    )
    assert.equal((await send(`${service.url}/`, 'GET', {})).status, 200, 'the service still answers')

    stdout.resume()
    const keys = () => {
      const text = service.stdout()
      return text
        .slice(0, text.lastIndexOf('\n') + 1)
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => (JSON.parse(line) as { key: string }).key)
    }
    await waitFor(
      'every record on standard output',
      () => (keys().length >= DECISIONS ? true : undefined),
      30_000,
    )
    assert.deepEqual(
      keys(),
      Array.from({ length: DECISIONS }, (_, i) => `k${i}`),
      'in order, each once',
    )
    await sleep(700)
    assert.equal(await metric(service, 'banditjoin_output_lag_records', { output: 'stdout' }), 0)
    assert.equal(await e2e.stop(service), 0)
  })
})
