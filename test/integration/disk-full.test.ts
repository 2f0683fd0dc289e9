import assert from 'node:assert/strict'
import { rmSync, statfsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { openSqlite } from '../../src/log/sqlite/driver.js'
import { decisionAcceptedAgain, E2E, postJson } from '../helpers/e2e-http.js'
import { Ledger, Load, seededRandom } from '../helpers/e2e-load.js'
import { OracleFiles, rewardAccounting, tally, violations } from '../helpers/oracle.js'
import { smallFilesystem } from '../helpers/small-fs.js'
import { sleep, waitFor } from '../kit/wait.js'

// The data directory and the outputs on a small filesystem that fills up: writes
// fail with 503, nothing acknowledged is lost, nothing is corrupted, and the service takes events
// again by itself once there is room.
// Real time: the built CLI runs as a child process on its own clock; the filesystem is real.

const E = 300
const SIZE_BYTES = 8 * 1024 * 1024

test('a full disk answers 503 and loses or corrupts nothing acknowledged; the service resumes when space returns', async (t) => {
  const mounted = smallFilesystem(t, SIZE_BYTES)
  const e2e = new E2E(t)
  if (typeof mounted !== 'string') {
    t.skip(mounted.skip)
    return
  }
  const run = new OracleFiles(mounted, E, E)
  const service = await e2e.start(run.env)
  const ledger = new Ledger()
  const random = seededRandom(5)
  const load = (prefix: string, decisions: number) =>
    new Load({
      base: service.url,
      ledger,
      keyPrefix: prefix,
      decisions,
      concurrency: 8,
      batchEvery: 20,
      batchSize: 20,
      lateRewardAfterMs: E + 100,
      random,
    })

  // Leave 256 KiB free, then load until the disk is full and requests are being refused.
  const filler = join(mounted, 'filler')
  const { bavail, bsize } = statfsSync(mounted)
  writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 256 * 1024)))
  const full = load('full', Number.MAX_SAFE_INTEGER)
  const fullRun = full.run()
  await waitFor('requests refused for want of space', () =>
    ledger.count('refused').decisions >= 20 ? true : undefined,
  )
  full.stop()
  await fullRun
  // A checkpoint or a compaction can free some room after the load stops, so the
  // next request may still fit: probe (each probe takes 60 KB) until one is refused for want of
  // space while the log cannot be written.
  const refused = await waitFor('a request refused for want of space, and /readyz failing', async () => {
    const probe = await postJson(service.url, '/log_decision', {
      key: `no-room-${Date.now()}`,
      action: 1,
      probability: 1,
      context: 'x'.repeat(60_000),
    })
    if (probe.status !== 503) return undefined
    const readyz = await fetch(`${service.url}/readyz`)
    // Not ready while the log cannot be written.
    return readyz.status === 503 ? probe : undefined
  })
  assert.equal(refused.headers['retry-after'], '5')
  assert.match((refused.json as { error: string }).error, /the log cannot be written: .*(full|space)/i)
  const full1 = { acked: ledger.count('acked'), refused: ledger.count('refused') }
  t.diagnostic(`disk full: ${JSON.stringify(full1)}`)

  // Room again: the service takes events by itself.
  rmSync(filler)
  await decisionAcceptedAgain(service.url)
  // A bounded load: the room that came back (8 MiB) is not filled again.
  await load('after', 1000).run()
  assert.equal(await e2e.stop(service), 0)

  // Nothing acknowledged is missing or twice, the log passes SQLite's integrity check.
  const db = openSqlite(join(mounted, 'data', 'banditjoin.db'))
  try {
    const rows = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]
    assert.deepEqual(
      rows.map((row) => row.integrity_check),
      ['ok'],
    )
  } finally {
    db.close()
  }
  const restarted = await e2e.start(run.env)
  await run.everyAcknowledgedOut(ledger, 10_000)
  await sleep(2 * E + 500)
  // The probes sent to see the service take events again are not in the ledger.
  const records = run.records().filter((r) => ledger.decisions.has(r.key))
  const deadLetters = run.deadLetters()
  assert.deepEqual(violations(ledger, records, E).slice(0, 20), [])
  assert.deepEqual(rewardAccounting(ledger, records, deadLetters).slice(0, 20), [])
  const counts = tally(ledger, records)
  t.diagnostic(
    `acknowledged ${ledger.count('acked').decisions} decisions and ${ledger.count('acked').rewards} rewards, refused ${ledger.count('refused').decisions} decisions; ` +
      `missing ${counts.missing}, duplicated ${counts.duplicated}`,
  )
  assert.equal(await e2e.stop(restarted), 0)
})
