import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { E2E, send, sleep, waitFor } from '../helpers/e2e-http.js'
import { Load, seededRandom } from '../helpers/e2e-load.js'
import { readJoined } from '../helpers/e2e-tail.js'
import { readJsonLines } from '../helpers/service.js'

// SPEC §4: a 200 survives kill -9 at any moment, and after a restart every acknowledged decision
// is emitted exactly once to a file output, with every acknowledged reward that counts.

const E = 500
const G = 500
/** Tolerance between this process's clock and the service's (both follow the same wall clock). */
const CLOCK_MARGIN_MS = 50

interface JoinedLine {
  key: string
  action: unknown
  probability: unknown
  context: unknown
  reward: number
  reward_count: number
  decision_insert_ms: number
  reward_delta_ms: number | null
  emitted_ms: number
}

const popcount = (mask: number) => mask.toString(2).replaceAll('0', '').length

/** Every way the output can contradict what the client was told, as readable lines. */
function violations(load: Load, records: JoinedLine[]): string[] {
  const found: string[] = []
  const seen = new Set<string>()
  let previousInsertMs = 0
  for (const r of records) {
    if (seen.has(r.key)) found.push(`${r.key} emitted twice`)
    seen.add(r.key)
    const sent = load.decisions.get(r.key)
    if (sent === undefined) {
      found.push(`${r.key} emitted but never sent`)
      continue
    }
    if (sent.outcome === 'refused') found.push(`${r.key} emitted although it was refused`)
    if (r.emitted_ms < r.decision_insert_ms + E)
      found.push(`${r.key} emitted ${r.emitted_ms - r.decision_insert_ms} ms after insert, before E`)
    if (r.decision_insert_ms < previousInsertMs) found.push(`${r.key} is out of due-time order`)
    previousInsertMs = r.decision_insert_ms
    const { action, probability, context } = sent.body
    try {
      assert.deepEqual(
        { action: r.action, probability: r.probability, context: r.context },
        { action, probability, context },
      )
    } catch {
      found.push(`${r.key} does not echo its decision: ${JSON.stringify(r)}`)
    }
    // REWARD_AGG=sum of distinct powers of two: the reward says exactly which rewards counted.
    const rewards = load.rewardsOf(r.key)
    const sentMask = rewards.reduce((mask, w) => mask | w.reward, 0)
    const mustCount = rewards
      .filter(
        (w) => w.outcome === 'acked' && (w.ackMs as number) < r.decision_insert_ms + E - CLOCK_MARGIN_MS,
      )
      .reduce((mask, w) => mask | w.reward, 0)
    if ((r.reward & mustCount) !== mustCount)
      found.push(`${r.key}: reward ${r.reward} misses acknowledged rewards ${mustCount}`)
    if ((r.reward & ~sentMask) !== 0) found.push(`${r.key}: reward ${r.reward} counts rewards never sent`)
    if (popcount(r.reward) !== r.reward_count)
      found.push(`${r.key}: reward ${r.reward} with reward_count ${r.reward_count}`)
    if (r.reward_count === 0 && r.reward_delta_ms !== null)
      found.push(`${r.key}: reward_delta_ms without reward`)
  }
  for (const d of load.decisions.values()) {
    if (d.outcome === 'acked' && !seen.has(d.key)) found.push(`${d.key} was acknowledged but never emitted`)
  }
  return found
}

interface DeadLine {
  type: string
  key: string
  reward: number
  reason: string
}

/** Nothing is silently lost: an acknowledged reward either counts or is dead-lettered, exactly once. */
function rewardAccounting(load: Load, records: JoinedLine[], deadLetters: DeadLine[]): string[] {
  const found: string[] = []
  const counted = new Map(records.map((r) => [r.key, r.reward]))
  const lettered = new Set<string>()
  for (const d of deadLetters) {
    const id = `${d.key}/${d.reward}`
    if (d.type !== 'reward') found.push(`unexpected dead letter ${JSON.stringify(d)}`)
    else if (!['late', 'orphan'].includes(d.reason)) found.push(`${id} dead-lettered as ${d.reason}`)
    if (lettered.has(id)) found.push(`${id} dead-lettered twice`)
    lettered.add(id)
    if (((counted.get(d.key) ?? 0) & d.reward) !== 0) found.push(`${id} both counted and dead-lettered`)
  }
  for (const w of load.rewards) {
    const id = `${w.key}/${w.reward}`
    const isCounted = ((counted.get(w.key) ?? 0) & w.reward) !== 0
    if (w.outcome === 'acked' && !isCounted && !lettered.has(id)) found.push(`${id} acknowledged, then lost`)
  }
  return found
}

test('kill -9 in the middle of a concurrent load loses no acknowledged decision or reward and emits nothing twice, across restarts', async (t) => {
  const seed = Number(process.env.BANDITJOIN_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
  t.diagnostic(`seed ${seed} (BANDITJOIN_CRASH_SEED replays it)`)
  const random = seededRandom(seed)
  const e2e = new E2E(t)
  const dir = e2e.dir()
  const output = join(dir, 'joined.jsonl')
  const deadLetter = join(dir, 'dead.jsonl')
  const env = {
    DATA_DIR: join(dir, 'data'),
    OUTPUT: `file:${output}`,
    DEAD_LETTER: `file:${deadLetter}`,
    DURABILITY: 'power',
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: String(G),
    REWARD_AGG: 'sum',
    LOG_LEVEL: 'info',
  }
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
      if (load.decisions.size < killAfterDecisions) return
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
  const outAtKill = readJsonLines(output).length
  const decisions = [...load.decisions.values()]
  const count = (outcome: string) => decisions.filter((d) => d.outcome === outcome).length
  const acked = count('acked')
  t.diagnostic(
    `killed after ${killedAtMs - loadStartedMs} ms and ${load.requests} requests with ${inFlightAtKill} in flight: ` +
      `decisions acked ${acked} of ${decisions.length} sent, ` +
      `unknown ${count('unknown')}, refused ${count('refused')}; rewards acked ` +
      `${load.rewards.filter((r) => r.outcome === 'acked').length} of ${load.rewards.length}; ` +
      `${outAtKill} records were out before the kill`,
  )
  assert.equal(count('refused'), 0, 'nothing was refused under this load')
  assert.ok(acked >= 500, `only ${acked} decisions were acknowledged before the kill`)
  assert.ok(inFlightAtKill > 0, 'requests were in flight at the kill')

  // Restart: everything acknowledged comes out once, including what fell due while down.
  const second = await e2e.start(env)
  const restartedMs = Date.now()
  await waitFor(
    'every acknowledged decision in the output',
    () => {
      const keys = new Set((readJsonLines(output) as JoinedLine[]).map((r) => r.key))
      return decisions.every((d) => d.outcome !== 'acked' || keys.has(d.key)) ? true : undefined
    },
    20_000,
  )
  await sleep(Math.max(0, restartedMs + E + 1000 - Date.now()))
  const records = readJsonLines(output) as JoinedLine[]
  assert.deepEqual(violations(load, records).slice(0, 20), [])
  const deadLetters = readJsonLines(deadLetter) as DeadLine[]
  assert.deepEqual(rewardAccounting(load, records, deadLetters).slice(0, 20), [])
  t.diagnostic(
    `${records.length} records after the restart (${records.length - acked} unacknowledged ones), ` +
      `${deadLetters.length} dead letters`,
  )

  // The live tail from 1 has the same records, numbered 1..N without gaps or duplicates.
  const tail = await readJoined(second.url, 1, records.length)
  assert.equal(tail.length, records.length, 'the tail has as many records as the file')
  assert.deepEqual(
    tail.map((r) => r.seq),
    records.map((_, i) => i + 1),
    'seq runs 1..N',
  )
  assert.deepEqual(
    tail.map(({ seq: _seq, ...rest }) => rest),
    records,
  )

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
  const again = await readJoined(third.url, 1, records.length)
  assert.deepEqual(
    again.map((r) => r.seq),
    tail.map((r) => r.seq),
  )
  assert.equal(await e2e.stop(third), 0)
})
