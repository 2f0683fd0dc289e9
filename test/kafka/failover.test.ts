/**
 * SPEC §5 under failure: a 3-broker cluster (replication factor 3, min.insync.replicas=2) and two
 * banditjoin instances in one group, both under concurrent load; one instance is killed (-9),
 * later one broker is killed (-9). Read as a learner reads it (read_committed), the output topic
 * has every acknowledged decision exactly once, with every acknowledged reward that counts,
 * nothing before its due time, each partition in due-time order; and the surviving instance takes
 * over the dead one's partitions within the session timeout plus a bound for its recovery.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Load, seededRandom } from '../helpers/e2e-load.js'
import { type KafkaCluster, startKafkaCluster } from '../helpers/kafka-cluster.js'
import { TopicReader } from '../helpers/kafka-topic.js'
import { type ChildService, spawnService } from '../helpers/service.js'

const E = 2000
const G = 1000
const SESSION_MS = 3000
/** What the survivor may take beyond the session timeout to own and recover the partitions. */
const TAKEOVER_MARGIN_MS = 10_000
const PARTITIONS = 6
/** The broker and this process share the machine's clock. */
const CLOCK_MARGIN_MS = 50

interface Joined {
  key: string
  action: unknown
  probability: unknown
  context: unknown
  reward: number
  reward_count: number
  decision_insert_ms: number
  emitted_ms: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const popcount = (mask: number) => mask.toString(2).replaceAll('0', '').length

let cluster: KafkaCluster | undefined
const services: ChildService[] = []
let reader: TopicReader | undefined

after(async () => {
  for (const s of services) s.process.kill('SIGKILL')
  await reader?.close()
  await cluster?.stop()
})

/** When the instance first logged an assignment of every partition at or after `fromMs` (its log's time). */
function fullAssignmentAt(service: ChildService, fromMs: number): number | undefined {
  for (const line of service.stderr().split('\n')) {
    if (!line.includes('"partitions assigned to this instance"')) continue
    const entry = JSON.parse(line) as { time: number; partitions: number[] }
    if (entry.partitions.length === PARTITIONS && entry.time >= fromMs) return entry.time
  }
  return undefined
}

test('kill -9 of an instance, then of a broker, under load: every acknowledged decision exactly once', {
  timeout: 300_000,
}, async (t) => {
  const seed = Number(process.env.BANDITJOIN_FAILOVER_SEED ?? Math.floor(Math.random() * 2 ** 31))
  t.diagnostic(`seed ${seed} (BANDITJOIN_FAILOVER_SEED replays it)`)
  const random = seededRandom(seed)
  cluster = await startKafkaCluster({ brokers: 3 })
  const env = {
    KAFKA_BROKERS: cluster.bootstrap,
    KAFKA_PARTITIONS: String(PARTITIONS),
    KAFKA_REPLICATION_FACTOR: '3',
    KAFKA_TOPIC_PREFIX: 'failover',
    KAFKA_SESSION_TIMEOUT_MS: String(SESSION_MS),
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: String(G),
    REWARD_AGG: 'sum',
  }
  const [doomed, survivor] = [await spawnService(env), await spawnService(env)]
  services.push(doomed as ChildService, survivor as ChildService)
  reader = new TopicReader(cluster.bootstrap, 'failover.joined')
  await reader.start()

  const loads = [doomed, survivor].map(
    (s) =>
      new Load({
        base: (s as ChildService).url,
        decisions: 1_000_000,
        concurrency: 8,
        batchEvery: 10,
        batchSize: 20,
        lateRewardAfterMs: E + 500,
        random,
      }),
  )
  const running = loads.map((load) => load.run())
  await sleep(4000)
  const killedAt = Date.now()
  ;(doomed as ChildService).process.kill('SIGKILL')
  await (doomed as ChildService).exited
  loads[0]?.stop()
  await sleep(5000)
  const broker = cluster.brokers[2]
  await broker?.kill('SIGKILL')
  await sleep(4000)
  loads[1]?.stop()
  await Promise.all(running)

  const decisions = new Map(loads.flatMap((load) => [...load.decisions]))
  const acked = [...decisions.values()].filter((d) => d.outcome === 'acked')
  assert.ok(acked.length > 500, `only ${acked.length} decisions acknowledged`)
  const deadline = Date.now() + 90_000
  const emittedKeys = () => new Set(reader?.lines().map((r) => r.key))
  while (acked.some((d) => !emittedKeys().has(d.key)) && Date.now() < deadline) await sleep(250)
  // Anything still to come (a duplicate, say) has had the time a record takes.
  await sleep(E + G)

  const records = reader.lines() as unknown as Joined[]
  const found: string[] = []
  const seen = new Set<string>()
  const lastInsertByPartition = new Map<number, number>()
  records.forEach((r, i) => {
    if (seen.has(r.key)) found.push(`${r.key} emitted twice`)
    seen.add(r.key)
    const partition = reader?.partitions[i] as number
    if (r.decision_insert_ms < (lastInsertByPartition.get(partition) ?? 0))
      found.push(`${r.key} out of due-time order in partition ${partition}`)
    lastInsertByPartition.set(partition, r.decision_insert_ms)
    if (r.emitted_ms < r.decision_insert_ms + E) found.push(`${r.key} emitted before its due time`)
    const sent = decisions.get(r.key)
    if (sent === undefined) {
      found.push(`${r.key} emitted but never sent`)
      return
    }
    if (sent.outcome === 'refused') found.push(`${r.key} emitted although refused`)
    const { action, probability, context } = sent.body
    if (
      JSON.stringify([r.action, r.probability, r.context]) !== JSON.stringify([action, probability, context])
    )
      found.push(`${r.key} does not echo its decision`)
    const rewards = loads.flatMap((load) => load.rewardsOf(r.key))
    const mustCount = rewards
      .filter(
        (w) => w.outcome === 'acked' && (w.ackMs as number) < r.decision_insert_ms + E - CLOCK_MARGIN_MS,
      )
      .reduce((mask, w) => mask | w.reward, 0)
    const sentMask = rewards.reduce((mask, w) => mask | w.reward, 0)
    if ((r.reward & mustCount) !== mustCount)
      found.push(`${r.key}: reward ${r.reward} misses acknowledged ${mustCount}`)
    if ((r.reward & ~sentMask) !== 0 || popcount(r.reward) !== r.reward_count)
      found.push(`${r.key}: reward ${r.reward} (count ${r.reward_count}) counts rewards never sent`)
  })
  for (const d of acked) if (!seen.has(d.key)) found.push(`${d.key} acknowledged but never emitted`)
  const takeoverMs =
    (fullAssignmentAt(survivor as ChildService, killedAt) ?? Number.POSITIVE_INFINITY) - killedAt
  t.diagnostic(
    `${acked.length} decisions and ${loads.reduce((n, l) => n + l.rewards.filter((w) => w.outcome === 'acked').length, 0)} rewards acknowledged, ` +
      `${records.length} records read; survivor owned all ${PARTITIONS} partitions ${takeoverMs} ms after the kill (session ${SESSION_MS} ms)`,
  )
  if (found.length > 0) {
    const log = join(tmpdir(), `banditjoin-failover-${process.pid}.log`)
    writeFileSync(log, (survivor as ChildService).stderr())
    t.diagnostic(`the surviving instance's log: ${log}`)
  }
  assert.deepEqual(found.slice(0, 20), [], `${found.length} violations`)
  assert.ok(takeoverMs <= SESSION_MS + TAKEOVER_MARGIN_MS, `took over after ${takeoverMs} ms`)
})
