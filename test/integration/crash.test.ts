import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { E2E, send } from '../helpers/e2e-http.js'
import { Load, seededRandom } from '../helpers/e2e-load.js'
import { OracleFiles, rewardAccounting, tailMatches, violations } from '../helpers/oracle.js'
import { sleep } from '../kit/wait.js'

// SPEC §4: a 200 survives kill -9 at any moment, and after a restart every acknowledged decision
// is emitted exactly once to a file output, with every acknowledged reward that counts.
// Real time: the built CLI runs as a child process on its own clock, killed with -9 and restarted.

const E = 500
const G = 500
test('kill -9 in the middle of a concurrent load loses no acknowledged decision or reward and emits nothing twice, across restarts', async (t) => {
  const seed = Number(process.env.BANDITJOIN_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
  t.diagnostic(`seed ${seed} (BANDITJOIN_CRASH_SEED replays it)`)
  const random = seededRandom(seed)
  const e2e = new E2E(t)
  const run = new OracleFiles(e2e.dir(), E, G)
  const { output, deadLetter, env } = run
  const first = await e2e.start(env)

  // Kill at a random moment, once records are coming out (after E) and 30-90% of the decisions
  // were sent, from inside an answer's handler, so that other requests are in flight.
  const plannedDecisions = 4000
  const killAfterDecisions = Math.floor(plannedDecisions * (0.3 + random() * 0.6))
  let killedAtMs = 0
  let inFlightAtKill = 0
  let loadStartedMs = 0
  const load: Load = new Load({
    base: first.url,
    decisions: plannedDecisions,
    concurrency: 32,
    batchEvery: 40,
    batchSize: 20,
    lateRewardAfterMs: E + 100,
    random,
    onAck: () => {
      if (killedAtMs !== 0 || Date.now() < loadStartedMs + E + 100) return
      if (load.ledger.decisions.size < killAfterDecisions) return
      first.process.kill('SIGKILL')
      killedAtMs = Date.now()
      inFlightAtKill = load.inFlight - 1 // besides the one just answered
      load.stop()
    },
  })
  loadStartedMs = Date.now()
  await load.run()
  assert.notEqual(killedAtMs, 0, `the load ended before the kill, after ${Date.now() - loadStartedMs} ms`)
  assert.equal(await first.exited, 'SIGKILL')
  const outAtKill = run.records().length
  const decisions = [...load.ledger.decisions.values()]
  const count = (outcome: string) => decisions.filter((d) => d.outcome === outcome).length
  const acked = count('acked')
  t.diagnostic(
    `killed after ${killedAtMs - loadStartedMs} ms and ${load.requests} requests with ${inFlightAtKill} in flight: ` +
      `decisions acked ${acked} of ${decisions.length} sent, ` +
      `unknown ${count('unknown')}, refused ${count('refused')}; rewards acked ` +
      `${load.ledger.count('acked').rewards} of ${load.ledger.rewards.length}; ` +
      `${outAtKill} records were out before the kill`,
  )
  assert.equal(count('refused'), 0, 'nothing was refused under this load')
  assert.ok(acked >= 500, `only ${acked} decisions were acknowledged before the kill`)
  assert.ok(inFlightAtKill > 0, 'requests were in flight at the kill')

  // Restart: everything acknowledged comes out once, including what fell due while down.
  const second = await e2e.start(env)
  const restartedMs = Date.now()
  await run.everyAcknowledgedOut(load.ledger, 20_000)
  await sleep(Math.max(0, restartedMs + E + 1000 - Date.now()))
  const records = run.records()
  assert.deepEqual(violations(load.ledger, records, E).slice(0, 20), [])
  const deadLetters = run.deadLetters()
  assert.deepEqual(rewardAccounting(load.ledger, records, deadLetters).slice(0, 20), [])
  t.diagnostic(
    `${records.length} records after the restart (${records.length - acked} unacknowledged ones), ` +
      `${deadLetters.length} dead letters`,
  )

  // The live tail from 1 has the same records, numbered 1..N without gaps or duplicates.
  assert.deepEqual(await tailMatches(second.url, records), [])

  // Another kill -9 and restart: nothing is emitted again.
  const fileText = readFileSync(output, 'utf8')
  const deadText = readFileSync(deadLetter, 'utf8')
  await e2e.kill(second)
  const third = await e2e.start(env)
  await sleep(E + 1000)
  assert.equal(readFileSync(output, 'utf8'), fileText, 'the file is unchanged by a second restart')
  assert.equal(readFileSync(deadLetter, 'utf8'), deadText, 'so are the dead letters')
  const beyond = await send(`${third.url}/joined?from=${records.length + 2}`, 'GET', {})
  assert.equal(beyond.status, 400, 'no record was added after the last one')
  assert.deepEqual(await tailMatches(third.url, records), [])
  assert.equal(await e2e.stop(third), 0)
})
