import { CommitWatch } from '../lib/commit-watch.js'
import { cpuSeconds } from '../lib/cpu.js'
import {
  brokerPids,
  KAFKA_PARTITIONS,
  type KafkaCluster,
  kafkaUnavailable,
  withKafkaCluster,
} from '../lib/kafka-cluster.js'
import { type FilledTopic, fillEventsTopic } from '../lib/kafka-fill.js'
import { type JoinedTotals, readJoinedTotals } from '../lib/kafka-output.js'
import { buildKstreamsPeer, kstreamsPeerUnavailable, startKstreamsPeer } from '../lib/kstreams-peer.js'
import { makeTempDir, removeTempDir } from '../lib/resources.js'
import { type Server, startService } from '../lib/spawn.js'
import { met, num, ratio, row, stat } from '../report/format.js'
import { KAFKA_EXP_UNIT_MS } from './kafka-settings.js'
import type { Figures, Scenario } from './types.js'

const ID = 'kafka-owner-join'
const TARGET_EVENTS_PER_S = 100_000
const TARGET_PER_CORE_RATIO = 2
/** The output topic is settled once it holds every record and no offset was added for this long. */
const QUIET_MS = 3000
const JOIN_TIMEOUT_MS = 900_000
/** With a directory here, each banditjoin instance writes a V8 CPU profile there (NODE_OPTIONS=--cpu-prof). */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR

/** One join of the filled topic, timed from the start of its process(es) until its last record was committed. */
interface TimedJoin {
  seconds: number
  /** CPU-seconds of each process of the join, from its start until then. */
  cpu: Record<string, number>
  brokerCpuSeconds: number
  records: number
  duplicates: number
  rewardSum: number
  /** From the spawn until the process(es) said they were ready (banditjoin's ready line, the peer's RUNNING state). */
  readySeconds: number
}

/**
 * Starts a join's processes (`start`), watches its output topic's stable offsets until every
 * record is committed and nothing moves for QUIET_MS, stops them, reads the topic (read_committed)
 * and takes the look at which the last record of every partition was committed.
 */
async function timeJoin(
  cluster: KafkaCluster,
  filled: FilledTopic,
  outputTopic: string,
  start: () => Promise<{
    pids: () => Record<string, number[]>
    stop: () => Promise<void>
    ready: () => Promise<void>
  }>,
): Promise<TimedJoin> {
  const brokers = brokerPids(cluster).broker
  let pids: () => Record<string, number[]> = () => ({})
  const watch = new CommitWatch(cluster.bootstrap, outputTopic, filled.partitions, () => ({
    ...pids(),
    broker: brokers,
  }))
  const t0 = performance.now()
  watch.start()
  const brokerStart = brokers.reduce((sum, pid) => sum + cpuSeconds(pid), 0)
  const join = await start()
  pids = join.pids
  let readySeconds = Number.NaN
  let totals: JoinedTotals
  try {
    await join.ready()
    readySeconds = (performance.now() - t0) / 1000
    await watch.settled(filled.decisions, QUIET_MS, JOIN_TIMEOUT_MS)
    // Offsets count aborted records and transaction markers too, so a quiet topic with enough
    // offsets may still be short of records (a join that paused): read while the join still runs,
    // until it holds them all. The look at the last commit comes from the watch, not from this read.
    totals = await readJoinedTotals(
      cluster.bootstrap,
      outputTopic,
      filled.partitions,
      filled.decisions,
      JOIN_TIMEOUT_MS,
    )
  } finally {
    await join.stop()
    await watch.stop()
  }
  const committed = watch.committedAt(totals.lastOffsets)
  const { broker, ...cpu } = committed.cpu
  return {
    seconds: (committed.atMs - t0) / 1000,
    cpu,
    brokerCpuSeconds: (broker ?? Number.NaN) - brokerStart,
    records: totals.records,
    duplicates: totals.duplicates,
    rewardSum: totals.rewardSum,
    readySeconds,
  }
}

let measurements = 0

/** `instances` banditjoin instances in one fresh group joining the filled topic (KAFKA_SOURCE_TOPIC), started together. */
function timeBanditjoin(cluster: KafkaCluster, filled: FilledTopic, instances: number): Promise<TimedJoin> {
  const prefix = `owner-join-${process.pid}-${++measurements}`
  const env = {
    KAFKA_BROKERS: cluster.bootstrap,
    KAFKA_SOURCE_TOPIC: filled.topic,
    KAFKA_PARTITIONS: String(filled.partitions),
    KAFKA_REPLICATION_FACTOR: String(cluster.brokers.length),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_GROUP_ID: prefix,
    EXP_UNIT_MS: String(KAFKA_EXP_UNIT_MS),
    ...(CPU_PROF_DIR !== undefined && { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF_DIR}` }),
  }
  return timeJoin(cluster, filled, `${prefix}.joined`, async () => {
    const servers: Server[] = await Promise.all(Array.from({ length: instances }, () => startService(env)))
    return {
      pids: () => Object.fromEntries(servers.map((s, i) => [`banditjoin_${i + 1}`, [s.pid]])),
      ready: async () => {},
      stop: async () => {
        for (const s of servers) s.assertRunning('while joining the topic')
        await Promise.all(servers.map((s) => s.stop()))
      },
    }
  })
}

/** The Kafka Streams peer (bench/peers/kstreams) joining the filled topic into its own output topic. */
async function timeKstreams(cluster: KafkaCluster, filled: FilledTopic): Promise<TimedJoin> {
  const name = `kstreams-${process.pid}-${++measurements}`
  const stateDir = makeTempDir('kstreams-state')
  try {
    return await timeJoin(cluster, filled, `${name}.joined`, async () => {
      const peer = startKstreamsPeer({
        bootstrap: cluster.bootstrap,
        input: filled.topic,
        output: `${name}.joined`,
        applicationId: name,
        stateDir,
        expUnitMs: KAFKA_EXP_UNIT_MS,
      })
      return { pids: () => ({ kstreams: [peer.pid] }), ready: () => peer.running, stop: () => peer.stop() }
    })
  } finally {
    removeTempDir(stateDir)
  }
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0)

/** banditjoin's owners joining a topic filled beforehand, 1 then 2 instances, beside Kafka Streams. */
export const kafkaOwnerJoin: Scenario = {
  id: ID,
  skip: kafkaUnavailable,
  title: 'Joining a filled topic (KAFKA_SOURCE_TOPIC), Kafka mode, 1 broker, beside Kafka Streams',
  method: `A fresh Kafka 4.4 KRaft node (as kafka-throughput-1). The events topic (${KAFKA_PARTITIONS} partitions, LogAppendTime) is filled first with 1,000,000 events (quick: 100,000) of the engine scenario's mix (two decisions with 150-byte contexts, then a reward of 1 for the second), one JSON line of POST /events per record keyed by decision key, partitioned as Java's producer does, one idempotent producer with one request in flight (each partition in order), then a tick per partition E + 1 ms after the last event so that the log's time passes every due time. Then, with EXP_UNIT_MS=${KAFKA_EXP_UNIT_MS}: 1 banditjoin instance (KAFKA_SOURCE_TOPIC, a fresh group and output topic), then 2 instances started together in another fresh group, then the Kafka Streams 4.4 peer (bench/peers/kstreams: Processor API, two persistent RocksDB stores with caching and changelogs, a stream-time punctuator every 100 ms, exactly_once_v2, 1 stream thread, the JVM's defaults) into its own output topic, each on the same filled topic. Each is timed from the spawn of its process(es) until every record is committed to its output topic: the output's last stable offsets are looked at every 100 ms with the processes' CPU-seconds (/proc) and the brokers', and once the topic is read (read_committed) the first look past each partition's last record gives the time and the CPU. Events/s per core = events ÷ the join's CPU-seconds. The peer's record count and reward sum must equal banditjoin's, and banditjoin's must hold every decision once (the run fails otherwise). BENCH_CPU_PROF_DIR=DIR writes each instance's V8 CPU profile there.`,
  async run(context) {
    const events = context.options.quick ? 100_000 : 1_000_000
    // The mix has d decisions and floor(d / 2) rewards.
    const decisions = Math.ceil((events * 2) / 3)
    const peerSkipped = kstreamsPeerUnavailable()
    if (peerSkipped === undefined) {
      context.log('building the Kafka Streams peer (mvn package)')
      buildKstreamsPeer()
    } else context.log(`skipping the Kafka Streams peer: ${peerSkipped}`)
    return withKafkaCluster(1, async (cluster) => {
      const topic = `owner-join-${process.pid}.events`
      const filled = await fillEventsTopic(
        cluster.bootstrap,
        topic,
        KAFKA_PARTITIONS,
        decisions,
        KAFKA_EXP_UNIT_MS,
      )
      context.log(`filled ${topic}: ${num(filled.events)} events in ${num(filled.seconds, 1)} s`)
      const figures: Figures = { events: filled.events, fill_events_per_s: filled.events / filled.seconds }
      const details: Record<string, unknown> = { filled }
      const record = (label: string, join: TimedJoin) => {
        const cpu = sum(join.cpu)
        figures[`${label}_events_per_s`] = filled.events / join.seconds
        figures[`${label}_seconds`] = join.seconds
        figures[`${label}_cpu_s`] = cpu
        figures[`${label}_events_per_cpu_s`] = filled.events / cpu
        figures[`${label}_broker_cpu_s`] = join.brokerCpuSeconds
        figures[`${label}_ready_s`] = join.readySeconds
        for (const [name, seconds] of Object.entries(join.cpu)) figures[`${label}_${name}_cpu_s`] = seconds
        details[label] = join
        context.log(
          `${label}: ${num(filled.events / join.seconds)} events/s, ${num(join.seconds, 2)} s (ready after ${num(join.readySeconds, 2)} s), CPU ${num(cpu, 2)} s (${Object.entries(
            join.cpu,
          )
            .map(([n, s]) => `${n} ${num(s, 2)}`)
            .join(
              ', ',
            )}), brokers ${num(join.brokerCpuSeconds, 2)} s; ${num(join.records)} records, reward sum ${num(join.rewardSum)}`,
        )
        if (join.records !== filled.decisions || join.duplicates !== 0)
          throw new Error(
            `${label}: ${join.records} records (${join.duplicates} duplicated) for ${filled.decisions} decisions`,
          )
      }
      const one = await timeBanditjoin(cluster, filled, 1)
      record('i1', one)
      record('i2', await timeBanditjoin(cluster, filled, 2))
      if (peerSkipped !== undefined) {
        details.kstreams_skipped = peerSkipped
        return { figures, details }
      }
      const peer = await timeKstreams(cluster, filled)
      record('ks', peer)
      if (peer.records !== one.records || peer.rewardSum !== one.rewardSum)
        throw new Error(
          `Kafka Streams wrote ${peer.records} records with reward sum ${peer.rewardSum}; banditjoin ${one.records} with ${one.rewardSum}`,
        )
      figures.reward_sum = one.rewardSum
      figures.per_core_ratio =
        (figures.i1_events_per_cpu_s as number) / (figures.ks_events_per_cpu_s as number)
      return { figures, details }
    })
  },
  rows(view) {
    const s = view.get(ID)
    if (s === undefined) return []
    const cpu = (label: string) =>
      `${stat(s[`${label}_cpu_s`], 2)} CPU-s, brokers ${stat(s[`${label}_broker_cpu_s`], 2)} CPU-s`
    const skipped = s.ks_events_per_s === undefined ? 'skipped (no Java or Maven)' : undefined
    const eps = s.i1_events_per_s?.median
    const perCore = s.per_core_ratio?.median
    return [
      row(view, ID, {
        measure: `1 instance: events/s joined from a filled topic (${num(s.events?.median)} events); CPU`,
        banditjoin: `${stat(s.i1_events_per_s)} (${cpu('i1')})`,
        reference: skipped ?? `Kafka Streams ${stat(s.ks_events_per_s)}`,
        ratio: ratio(eps, s.ks_events_per_s?.median),
        target: `≥ ${num(TARGET_EVENTS_PER_S)}`,
        met: met(eps === undefined ? undefined : eps >= TARGET_EVENTS_PER_S),
      }),
      row(view, ID, {
        measure: '2 instances: events/s; CPU of each',
        banditjoin: `${stat(s.i2_events_per_s)} (${stat(s.i2_banditjoin_1_cpu_s, 2)} + ${stat(s.i2_banditjoin_2_cpu_s, 2)} CPU-s, brokers ${stat(s.i2_broker_cpu_s, 2)} CPU-s)`,
        reference: `1 instance ${stat(s.i1_events_per_s)}`,
        ratio: ratio(s.i2_events_per_s?.median, eps),
      }),
      row(view, ID, {
        measure: 'Kafka Streams 4.4 (exactly_once_v2, RocksDB): events/s; CPU',
        banditjoin: skipped ?? `${stat(s.ks_events_per_s)} (${cpu('ks')})`,
        reference: "same topic, same run; record count and reward sum equal to banditjoin's",
      }),
      row(view, ID, {
        measure: 'events/s per core used (events ÷ CPU-s): 1 instance vs Kafka Streams',
        banditjoin: stat(s.i1_events_per_cpu_s),
        reference: skipped ?? `Kafka Streams ${stat(s.ks_events_per_cpu_s)}`,
        ratio: perCore === undefined ? 'n/a' : `${perCore.toFixed(2)}×`,
        target: `≥ ${TARGET_PER_CORE_RATIO}×`,
        met: met(perCore === undefined ? undefined : perCore >= TARGET_PER_CORE_RATIO),
      }),
    ]
  },
}
