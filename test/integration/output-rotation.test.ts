import assert from 'node:assert/strict'
import { mkdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { E2E, postJson } from '../helpers/e2e-http.js'
import { readWrittenLines } from '../helpers/service.js'
import type { ReadyProcess } from '../kit/spawn.js'
import { waitFor } from '../kit/wait.js'

// SIGHUP with an output path that cannot be opened (its folder moved away) killed
// the service, and after the restart records were written to both the rotated and the new file.
// A reopen that fails keeps the file it had; every record is written once, across a kill -9.

const E = 200

/** Polled while the service writes: complete lines only. */
const keysIn = (path: string) => readWrittenLines(path).map((r) => (r as { key: string }).key)

async function logDecisions(service: ReadyProcess, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const answer = await postJson(service.url, '/log_decision', {
      key: `k${i}`,
      action: 1,
      probability: 1,
      context: i,
    })
    assert.equal(answer.status, 200, answer.text)
  }
}

const linesIn = (path: string, count: number) =>
  waitFor(`${count} records in ${path}`, () => (keysIn(path).length >= count ? true : undefined))

test('SIGHUP with an output path that cannot be opened keeps the old file, never crashes, never writes a record twice', async (t) => {
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const folder = join(dir, 'out')
  const rotated = join(dir, 'rotated')
  const output = join(folder, 'joined.jsonl')
  mkdirSync(folder)
  const env = {
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${output}`,
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: '0',
  }
  const service = await e2e.start(env)
  await logDecisions(service, 0, 20)
  await linesIn(output, 20)

  renameSync(folder, rotated)
  service.process.kill('SIGHUP')
  await waitFor('the failed reopen logged', () => {
    assert.equal(service.process.exitCode, null, `the service exited:\n${service.stderr().slice(-2000)}`)
    return /output could not be reopened; still writing to the file it had open/.test(service.stderr())
      ? true
      : undefined
  })
  assert.match(service.stderr(), /ENOENT/)
  await logDecisions(service, 20, 40)
  await linesIn(join(rotated, 'joined.jsonl'), 40)

  mkdirSync(folder)
  service.process.kill('SIGHUP')
  await waitFor('the reopen logged', () =>
    /reopened file outputs/.test(service.stderr()) ? true : undefined,
  )
  await logDecisions(service, 40, 60)
  await linesIn(output, 20)
  await e2e.kill(service)

  const restarted = await e2e.start(env)
  await logDecisions(restarted, 60, 80)
  await linesIn(output, 40)
  const written = [...keysIn(join(rotated, 'joined.jsonl')), ...keysIn(output)]
  assert.deepEqual(
    written,
    Array.from({ length: 80 }, (_, i) => `k${i}`),
    'every record once, in order, the first 40 in the rotated file',
  )
  assert.deepEqual(keysIn(join(rotated, 'joined.jsonl')).length, 40)
  assert.equal(await e2e.stop(restarted), 0)
})
