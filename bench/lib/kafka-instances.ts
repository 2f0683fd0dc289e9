import { sleep } from '../../test/kit/wait.js'
import { KAFKA_PARTITIONS, type KafkaCluster } from './kafka-cluster.js'
import { type Server, startService } from './spawn.js'

/** The service's log line (src/kafka/kafka-join.ts) each time the group gives it partitions. */
const ASSIGNED = 'partitions assigned to this instance'
/** An assignment an instance logged: its log's time (ms) and the partitions it owns from then on. */
export interface Assignment {
  timeMs: number
  partitions: number[]
}

/**
 * Collects an instance's assignment lines and warnings as they come, by polling the tail of its
 * standard error (the spawn helper keeps its last lines; the service logs little else at info level).
 */
export class AssignmentWatch {
  private readonly seen = new Map<string, Assignment>()
  private readonly warned = new Map<string, number>()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly server: Server) {
    this.poll()
    this.timer = setInterval(() => this.poll(), 50)
  }

  /** Every assignment logged so far, oldest first. */
  all(): Assignment[] {
    this.poll()
    return [...this.seen.values()].sort((a, b) => a.timeMs - b.timeMs)
  }

  latest(): Assignment | undefined {
    return this.all().at(-1)
  }

  /** Warnings and errors logged since `sinceMs` (log time): message and error code, with how often. */
  warnings(sinceMs = 0): Record<string, number> {
    this.poll()
    const counts: Record<string, number> = {}
    for (const [line, timeMs] of this.warned) {
      if (timeMs < sinceMs) continue
      const summary = warningSummary(line)
      counts[summary] = (counts[summary] ?? 0) + 1
    }
    return counts
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private poll(): void {
    for (const line of this.server.stderrTail().split('\n')) {
      if (!line.startsWith('{') || this.seen.has(line) || this.warned.has(line)) continue
      const entry = JSON.parse(line) as { level: number; time: number; msg: string; partitions?: number[] }
      if (entry.msg === ASSIGNED)
        this.seen.set(line, { timeMs: entry.time, partitions: entry.partitions ?? [] })
      else if (entry.level >= 40) this.warned.set(line, entry.time)
    }
  }
}

/** "commit failed; ...: MESSAGE_TOO_LARGE": a log line's message and the innermost Kafka error code it names. */
function warningSummary(line: string): string {
  const { msg } = JSON.parse(line) as { msg: string }
  const codes = [...line.matchAll(/"apiId":"([A-Z_]+)"/g)].map((m) => m[1])
  return codes.length === 0 ? msg : `${msg}: ${[...new Set(codes)].join(', ')}`
}

/** banditjoin instances in the Kafka mode, in one consumer group, with fresh topics. */
export interface KafkaInstances {
  servers: Server[]
  watches: AssignmentWatch[]
  /** PREFIX.joined: the output topic. */
  joinedTopic: string
}

let measurements = 0

/**
 * Starts `count` instances on `cluster` (one after the other, so that the first creates the
 * topics), with a topic prefix and group of their own (`KAFKA_PARTITIONS` partitions, replication
 * factor = the cluster's size) and `env`; waits until the group has spread the partitions over all
 * of them; runs `body`; stops them (SIGTERM) whatever happens.
 */
export async function withKafkaInstances<T>(
  cluster: KafkaCluster,
  count: number,
  env: Record<string, string>,
  body: (instances: KafkaInstances) => Promise<T>,
): Promise<T> {
  const prefix = `bench-${process.pid}-${++measurements}`
  const serviceEnv = {
    KAFKA_BROKERS: cluster.bootstrap,
    KAFKA_PARTITIONS: String(KAFKA_PARTITIONS),
    KAFKA_REPLICATION_FACTOR: String(cluster.brokers.length),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_GROUP_ID: prefix,
    ...env,
  }
  const servers: Server[] = []
  const watches: AssignmentWatch[] = []
  try {
    for (let i = 0; i < count; i++) {
      const server = await startService(serviceEnv)
      servers.push(server)
      watches.push(new AssignmentWatch(server))
    }
    await waitForSpread(watches, 60_000)
    return await body({ servers, watches, joinedTopic: `${prefix}.joined` })
  } finally {
    for (const watch of watches) watch.stop()
    await Promise.all(servers.map((server) => server.stop()))
  }
}

/** Waits until every instance's latest assignment is non-empty and together they hold each partition once. */
export async function waitForSpread(watches: readonly AssignmentWatch[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const latest = watches.map((w) => w.latest()?.partitions ?? [])
    const owned = latest.flat()
    if (
      latest.every((p) => p.length > 0) &&
      owned.length === KAFKA_PARTITIONS &&
      new Set(owned).size === KAFKA_PARTITIONS
    )
      return
    if (performance.now() > deadline) {
      throw new Error(`the group did not spread the partitions: ${JSON.stringify(latest)}`)
    }
    await sleep(100)
  }
}
