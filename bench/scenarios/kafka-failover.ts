import { sleep } from '../../test/kit/wait.js'
import {
  KAFKA_PARTITIONS,
  type KafkaCluster,
  kafkaUnavailable,
  withKafkaCluster,
} from '../lib/kafka-cluster.js'
import { type KafkaInstances, withKafkaInstances } from '../lib/kafka-instances.js'
import { emissionGap, largestGap, latenessOf, readJoined } from '../lib/kafka-output.js'
import { offeredPerSecond, type Pacing, pacedLoad } from '../lib/paced-load.js'
import type { Server } from '../lib/spawn.js'
import { tail } from '../lib/stats.js'
import { num, row } from '../report/format.js'
import { KAFKA_EXP_UNIT_MS, KAFKA_PACING } from './kafka-settings.js'
import type { Figures, RunOutcome, Scenario, Summary, TableRow } from './types.js'

interface Failover {
  /** KAFKA_SESSION_TIMEOUT_MS */
  sessionMs: number
  pacing: Pacing
}

/**
 * A short session timeout and the default, at the lateness scenario's rate; and the default at
 * half that rate, where the backlog a new owner releases at once (about 11 s of a partition's
 * records) stays under the broker's 1 MB message.max.bytes.
 */
const FAILOVERS: readonly Failover[] = [
  { sessionMs: 3000, pacing: KAFKA_PACING },
  { sessionMs: 10_000, pacing: KAFKA_PACING },
  { sessionMs: 10_000, pacing: { ...KAFKA_PACING, batchSize: KAFKA_PACING.batchSize / 2 } },
]
const ID = 'kafka-failover'
/** How long the output may take to hold every acknowledged decision after the load. */
const DRAIN_MS = KAFKA_EXP_UNIT_MS + 30_000
/** "s10_r2k_takeover_ms": figure `name` of a failover measurement. */
const figure = (f: Failover, name: string) =>
  `s${f.sessionMs / 1000}_r${offeredPerSecond(f.pacing) / 1000}k_${name}`

/**
 * One failover: two instances of a group, paced decisions sent to the second (keyed over every
 * partition), the first killed with SIGKILL after `beforeS` seconds; the load goes on for the
 * session timeout plus `afterS` seconds; then the output topic is read.
 */
async function failover(
  cluster: KafkaCluster,
  { servers, watches, joinedTopic }: KafkaInstances,
  { sessionMs, pacing }: Failover,
  { beforeS, afterS }: { beforeS: number; afterS: number },
): Promise<RunOutcome> {
  const [doomed, survivor] = servers as [Server, Server]
  const seconds = beforeS + sessionMs / 1000 + afterS
  const kill = { atMs: Number.NaN, deadPartitions: [] as number[], alivePartitions: [] as number[] }
  const killing = sleep(beforeS * 1000).then(async () => {
    kill.deadPartitions = watches[0]?.latest()?.partitions ?? []
    kill.alivePartitions = watches[1]?.latest()?.partitions ?? []
    kill.atMs = Date.now()
    await doomed.stop('SIGKILL')
  })
  const { sender } = await pacedLoad(survivor, seconds, {}, { pacing })
  await killing
  const output = await readJoined(cluster.bootstrap, joinedTopic, sender.acked, DRAIN_MS)
  const takeover = (watches[1]?.all() ?? []).find(
    (a) => a.timeMs >= kill.atMs && a.partitions.length === KAFKA_PARTITIONS,
  )
  const dead = emissionGap(output.records, kill.deadPartitions, kill.atMs)
  const deadPartitions = new Set(kill.deadPartitions)
  const late = tail(
    latenessOf(
      output.records.filter((r) => deadPartitions.has(r.partition)),
      KAFKA_EXP_UNIT_MS,
    ),
  )
  return {
    figures: {
      takeover_ms: (takeover?.timeMs ?? Number.NaN) - kill.atMs,
      resumed_ms: dead.resumedAfterMs,
      stuck_partitions: dead.stuck,
      gap_dead_ms: dead.gapMs,
      gap_alive_ms: largestGap(
        output.records,
        kill.alivePartitions,
        kill.atMs - 2000,
        kill.atMs + sessionMs + 4000,
      ),
      late_dead_max_ms: late.max,
      achieved_per_s: sender.ratePerSecond,
      missing_records: sender.acked - output.distinct,
      duplicate_records: output.duplicates,
    },
    details: {
      deadPartitions: kill.deadPartitions,
      survivorWarningsAfterKill: watches[1]?.warnings(kill.atMs),
      acked: sender.acked,
      records: output.records.length,
    },
  }
}

/** In the median run, a dead partition never emitted again. */
function stuck(s: Summary, f: Failover): boolean {
  return (s[figure(f, 'stuck_partitions')]?.median ?? 0) > 0
}

/** The time until every dead partition emitted again, or "never" if one did not (in the median run). */
function resumed(s: Summary, f: Failover): string {
  if (!stuck(s, f)) return num(s[figure(f, 'resumed_ms')]?.median)
  return `never (${num(s[figure(f, 'stuck_partitions')]?.median)} partitions)`
}

function runsStuck(s: Summary, f: Failover): number {
  return (s[figure(f, 'stuck_partitions')]?.values ?? []).filter((stuck) => stuck > 0).length
}

/** Failover time of the Kafka mode: an instance killed under load, with a short and the default session timeout. */
export const kafkaFailover: Scenario = {
  id: ID,
  skip: kafkaUnavailable,
  title: 'Kafka mode: failover after kill -9 of an instance',
  method: `A fresh 1-broker KRaft cluster; for each of KAFKA_SESSION_TIMEOUT_MS = 3000 at 2,000 decisions/s, 10000 (the default) at 2,000/s and 10000 at 1,000/s: two banditjoin instances in one group (6 partitions, EXP_UNIT_MS=${KAFKA_EXP_UNIT_MS}, fresh topics); once the group has spread the partitions, paced NDJSON batches (every ${KAFKA_PACING.intervalMs} ms) go to the second instance, keyed over every partition; 5 s later (quick: 3 s) the first instance is killed with SIGKILL; the load goes on for the session timeout plus 8 s (quick: 5 s). Then the output topic is read (read_committed, up to ${DRAIN_MS / 1000} s): "takeover" is the time from the kill to the survivor's log line "partitions assigned to this instance" with all 6 partitions (its log's timestamp); "emits again" the time from the kill until each of the dead instance's partitions had a record with a later emitted_ms ("never": one had none when the output was read); the largest gap is the longest a partition went without emitting (the dead instance's partitions: across the kill; the survivor's: from 2 s before the kill to the session timeout + 4 s after). The survivor's warnings after the kill are in the JSON.`,
  async run(context) {
    const timing = context.options.quick ? { beforeS: 3, afterS: 5 } : { beforeS: 5, afterS: 8 }
    return withKafkaCluster(1, async (cluster) => {
      const figures: Figures = {}
      const details: Record<string, unknown> = {}
      for (const f of FAILOVERS) {
        const env = { EXP_UNIT_MS: String(KAFKA_EXP_UNIT_MS), KAFKA_SESSION_TIMEOUT_MS: String(f.sessionMs) }
        const measured = await withKafkaInstances(cluster, 2, env, (instances) =>
          failover(cluster, instances, f, timing),
        )
        for (const [name, value] of Object.entries(measured.figures)) figures[figure(f, name)] = value
        details[figure(f, '').slice(0, -1)] = measured.details
      }
      return { figures, details }
    })
  },
  rows(view) {
    const s = view.get(ID)
    if (s === undefined) return []
    return FAILOVERS.flatMap((f): TableRow[] => {
      const get = (name: string) => s[figure(f, name)]
      const label = `session ${f.sessionMs / 1000} s, ${num(offeredPerSecond(f.pacing))}/s`
      return [
        row(view, ID, {
          measure: `${label}: kill → survivor owns all partitions / every dead partition emits again (ms)`,
          banditjoin: `${num(get('takeover_ms')?.median)} / ${resumed(s, f)}`,
          reference: `session ${num(f.sessionMs)} ms; a dead partition never emitted again in ${num(runsStuck(s, f))} of ${num(s[figure(f, 'stuck_partitions')]?.values.length)} runs`,
        }),
        row(view, ID, {
          measure: `${label}: largest emission gap, dead / surviving partitions (ms); latest record of a dead partition`,
          banditjoin: `${num(get('gap_dead_ms')?.median)} / ${num(get('gap_alive_ms')?.median)}; ${stuck(s, f) ? 'n/a' : `${num(get('late_dead_max_ms')?.median)} ms after due`}`,
        }),
        row(view, ID, {
          measure: `${label}: decisions/s acked; missing / duplicated records (worst run)`,
          banditjoin: `${num(get('achieved_per_s')?.median)}; ${num(get('missing_records')?.max)} / ${num(get('duplicate_records')?.max)}`,
        }),
      ]
    })
  },
}
