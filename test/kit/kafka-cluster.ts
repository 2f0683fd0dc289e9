/**
 * A real Apache Kafka cluster for tests: 1 or 3 combined broker+controller KRaft nodes as child
 * JVMs on free loopback ports, from the jars that test/kafka/fetch.sh puts in
 * $BANDITJOIN_KAFKA_LIB (by default node_modules/.cache/banditjoin-kafka/lib), fetched on first
 * use (test/kit/kafka-jars.ts; a test file skips with `{ skip: kafkaUnavailable() }`).
 *
 *   const cluster = await startKafkaCluster({ brokers: 3 })
 *   after(() => cluster.stop())
 *   // cluster.bootstrap === '127.0.0.1:40001,127.0.0.1:40003,127.0.0.1:40005'
 *
 * By hand (e.g. for a benchmark): `node dist/test/kit/kafka-cluster.js 3` prints the
 * bootstrap string and runs until SIGINT or SIGTERM.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ensureKafkaJars } from './kafka-jars.js'
import { freePorts } from './ports.js'
import { sleep } from './wait.js'

export { KafkaJarsMissingError, kafkaLibDir, kafkaUnavailable } from './kafka-jars.js'

export interface KafkaClusterOptions {
  /** Combined broker+controller nodes (default 1). With 3: replication factor 3, min.insync.replicas 2. */
  brokers?: 1 | 3
  /** server.properties entries added to or replacing the defaults below, on every node. */
  config?: Record<string, string | number | boolean>
  /** Each JVM's heap (-Xmx), in MiB (default 384). */
  heapMb?: number
  /**
   * JVM flags besides the heap (default: serial GC and C1 only, which start fast and leave the
   * 2 cores to the tests; pass [] for the JVM's defaults, e.g. for a benchmark).
   */
  jvmArgs?: string[]
  /** How long to wait for the cluster (or a restarted node) to be ready (default 60 s). */
  startTimeoutMs?: number
  /** The client port of a 1-node cluster (default: a free one). */
  port?: number
  /**
   * A second client listener named SECURE, SASL_SSL, on another free port of each node
   * (`secureBootstrap`); its TLS and SASL settings go in `config` (listener.name.secure.*).
   */
  secureListener?: boolean
  /** More arguments of `kafka-storage format`, e.g. `--add-scram` to create SCRAM users. */
  formatArgs?: string[]
}

export interface KafkaNode {
  /** node.id, 1-based. */
  readonly id: number
  /** The client (PLAINTEXT) port on 127.0.0.1. */
  readonly port: number
  /** The controller listener's port on 127.0.0.1. */
  readonly controllerPort: number
  /** The JVM's pid, undefined while the node is down. */
  readonly pid: number | undefined
  readonly running: boolean
  /** The node's console log (WARN and above, plus the start line). */
  readonly logPath: string
  /**
   * Sends a signal to the JVM (default SIGKILL). For SIGKILL, SIGTERM and SIGINT, resolves once
   * the process has exited; SIGSTOP / SIGCONT freeze and thaw it and resolve at once.
   */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts the node again on the same ports and data (SIGKILLs it first if it still runs). */
  restart(): Promise<void>
}

export interface KafkaCluster {
  /** 'host:port,...' of every node's client listener. */
  readonly bootstrap: string
  /** 'host:port,...' of every node's SASL_SSL listener, with `secureListener`. */
  readonly secureBootstrap: string | undefined
  readonly brokers: KafkaNode[]
  /** The cluster's temporary directory (data and logs), removed by stop(). */
  readonly dir: string
  /** Kills every node (SIGKILL) and removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>
}

/** The KRaft start line (logger kafka.server.KafkaRaftServer, INFO). */
const STARTED = 'Kafka Server started'

/** A Kafka cluster id: 16 random bytes, base64url (as `kafka-storage.sh random-uuid`). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

function properties(entries: Record<string, string | number | boolean>): string {
  return `${Object.entries(entries)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`
}

const LOG4J2 = `rootLogger.level=WARN
rootLogger.appenderRef.out.ref=OUT
appender.out.type=Console
appender.out.name=OUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
logger.started.name=kafka.server.KafkaRaftServer
logger.started.level=INFO
`

/** Starts a fresh cluster and resolves once every node is up (brokers registered and unfenced). */
export async function startKafkaCluster(options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const lib = ensureKafkaJars()
  const n = options.brokers ?? 1
  const rf = n
  const minIsr = Math.min(2, n)
  const startTimeoutMs = options.startTimeoutMs ?? 60_000
  const jvm = [
    `-Xmx${options.heapMb ?? 384}m`,
    ...(options.jvmArgs ?? ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1']),
  ]
  const dir = mkdtempSync(join(tmpdir(), 'banditjoin-kafka-'))
  const nodes: Node[] = []
  let securePorts: number[] = []
  let stopped = false

  const killAllSync = () => {
    for (const node of nodes) node.killSync()
  }
  const onExit = () => {
    killAllSync()
    rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', onExit)

  // Kills the JVMs and removes the folder should this process die without stop() (e.g. SIGKILL).
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
        'for f in "$2"/node-*/pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done; rm -rf "$2"',
      'kafka-watchdog',
      String(process.pid),
      dir,
    ],
    { detached: true, stdio: 'ignore' },
  )
  watchdog.unref()

  const stop = async () => {
    if (stopped) return
    stopped = true
    if (watchdog.pid !== undefined) {
      try {
        process.kill(watchdog.pid, 'SIGKILL')
      } catch {}
    }
    await Promise.all(nodes.map((node) => node.kill('SIGKILL')))
    process.off('exit', onExit)
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    if (options.port !== undefined && n !== 1) throw new Error('port: only for a 1-node cluster')
    // One call for every port: ports from two calls can be the same (the first call's are closed).
    const ports = await freePorts((options.secureListener ? 3 : 2) * n)
    securePorts = ports.splice(2 * n)
    if (options.port !== undefined) ports[0] = options.port
    const secure = (i: number) => (options.secureListener ? `,SECURE://127.0.0.1:${securePorts[i]}` : '')
    const voters = Array.from({ length: n }, (_, i) => `${i + 1}@127.0.0.1:${ports[2 * i + 1]}`).join(',')
    const id = clusterId()
    writeFileSync(join(dir, 'log4j2.properties'), LOG4J2)
    for (let i = 0; i < n; i++) {
      const nodeId = i + 1
      const port = ports[2 * i] as number
      const controllerPort = ports[2 * i + 1] as number
      const nodeDir = join(dir, `node-${nodeId}`)
      mkdirSync(nodeDir)
      const config = {
        'process.roles': 'broker,controller',
        'node.id': nodeId,
        'controller.quorum.voters': voters,
        listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${secure(i)}`,
        'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}${secure(i)}`,
        'controller.listener.names': 'CONTROLLER',
        'listener.security.protocol.map': `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${options.secureListener ? ',SECURE:SASL_SSL' : ''}`,
        'inter.broker.listener.name': 'PLAINTEXT',
        'log.dirs': join(nodeDir, 'data'),
        'num.partitions': 1,
        'default.replication.factor': rf,
        'min.insync.replicas': minIsr,
        'auto.create.topics.enable': false,
        'offsets.topic.replication.factor': rf,
        'offsets.topic.num.partitions': 5,
        'transaction.state.log.replication.factor': rf,
        'transaction.state.log.min.isr': minIsr,
        'transaction.state.log.num.partitions': 5,
        'share.coordinator.state.topic.replication.factor': rf,
        'share.coordinator.state.topic.min.isr': minIsr,
        // Fast groups for tests: no initial rebalance delay, short sessions allowed.
        'group.initial.rebalance.delay.ms': 0,
        'group.min.session.timeout.ms': 500,
        // A dead node is fenced (and its partitions' leadership moved) after 3 s, not 9.
        'broker.heartbeat.interval.ms': 500,
        'broker.session.timeout.ms': 3000,
        // Small: 2 cores and several JVMs.
        'num.network.threads': 2,
        'num.io.threads': 2,
        'background.threads': 2,
        'log.cleaner.threads': 1,
        'log.cleaner.dedupe.buffer.size': 8 * 1024 * 1024,
        ...options.config,
      }
      const propsPath = join(nodeDir, 'server.properties')
      writeFileSync(propsPath, properties(config))
      const format = spawnSync(
        'java',
        [
          ...jvm,
          `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
          '-cp',
          `${lib}/*`,
          'kafka.tools.StorageTool',
          'format',
          '--cluster-id',
          id,
          '--config',
          propsPath,
          ...(options.formatArgs ?? []),
        ],
        { encoding: 'utf8', timeout: 60_000 },
      )
      if (format.status !== 0) {
        throw new Error(`kafka-storage format failed (${format.status}): ${format.stderr}${format.stdout}`)
      }
      nodes.push(new Node(nodeId, port, controllerPort, nodeDir, propsPath, lib, jvm, dir, startTimeoutMs))
    }
    await Promise.all(nodes.map((node) => node.start()))
  } catch (error) {
    await stop()
    throw error
  }

  return {
    bootstrap: nodes.map((node) => `127.0.0.1:${node.port}`).join(','),
    secureBootstrap: options.secureListener ? securePorts.map((p) => `127.0.0.1:${p}`).join(',') : undefined,
    brokers: nodes,
    dir,
    stop,
  }
}

class Node implements KafkaNode {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  readonly logPath: string

  constructor(
    readonly id: number,
    readonly port: number,
    readonly controllerPort: number,
    private readonly dir: string,
    private readonly propsPath: string,
    private readonly lib: string,
    private readonly jvm: string[],
    private readonly clusterDir: string,
    private readonly startTimeoutMs: number,
  ) {
    this.logPath = join(dir, 'console.log')
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  get running(): boolean {
    return this.child !== undefined
  }

  async start(): Promise<void> {
    const from = existsSync(this.logPath) ? readFileSync(this.logPath).length : 0
    const fd = openSync(this.logPath, 'a')
    const child = spawn(
      'java',
      [
        ...this.jvm,
        `-Dlog4j2.configurationFile=${join(this.clusterDir, 'log4j2.properties')}`,
        '-cp',
        `${this.lib}/*`,
        'kafka.Kafka',
        this.propsPath,
      ],
      { stdio: ['ignore', fd, fd] },
    )
    closeSync(fd)
    this.child = child
    const pidFile = join(this.dir, 'pid')
    if (child.pid !== undefined) writeFileSync(pidFile, String(child.pid))
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = undefined
        rmSync(pidFile, { force: true })
        resolve()
      })
    })
    const deadline = Date.now() + this.startTimeoutMs
    for (;;) {
      const log = readFileSync(this.logPath).subarray(from).toString()
      if (log.includes(STARTED)) return
      if (this.child !== child) {
        throw new Error(`Kafka node ${this.id} exited while starting; its log (${this.logPath}):\n${log}`)
      }
      if (Date.now() > deadline) {
        throw new Error(`Kafka node ${this.id} not ready after ${this.startTimeoutMs} ms; its log:\n${log}`)
      }
      // Real time: the node is a child JVM on its own clock.
      await sleep(100)
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    if (child === undefined) return
    child.kill(signal)
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await this.exited
  }

  killSync(): void {
    this.child?.kill('SIGKILL')
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL')
    await this.start()
  }
}

// CLI: node dist/test/kit/kafka-cluster.js [1|3]
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv[2] ?? '1'
  if (arg !== '1' && arg !== '3') {
    console.error('usage: node dist/test/kit/kafka-cluster.js [1|3]   (runs until SIGINT/SIGTERM)')
    process.exit(2)
  }
  try {
    const cluster = await startKafkaCluster({ brokers: Number(arg) as 1 | 3 })
    console.log(cluster.bootstrap)
    console.error(`kafka: ${arg} node(s) up, data in ${cluster.dir}; Ctrl-C stops and removes it`)
    const shutdown = () => {
      void cluster.stop().then(() => process.exit(0))
    }
    process.once('SIGINT', shutdown)
    process.once('SIGTERM', shutdown)
  } catch (error) {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  }
}
