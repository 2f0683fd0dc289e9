/**
 * `npm run kafka:dev [-- --port 9092]`: one Kafka node (KRaft, broker and controller in one JVM)
 * on 127.0.0.1 for trying the Kafka mode by hand, from the tests' cluster helper: replication 1
 * for the offsets and transaction-state topics, min ISR 1, the jars fetched on first use. Prints
 * the bootstrap address and what to run next; Ctrl-C stops the node and removes its data.
 */
import { createServer } from 'node:net'
import { parseArgs } from 'node:util'
import { startKafkaCluster } from '../kit/kafka-cluster.js'

/** Whether nothing listens on 127.0.0.1:`port` yet (Kafka's own error would be a page of log). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** What to run next, for someone reading the terminal. */
export function instructions(bootstrap: string, dir: string): string {
  return `kafka: 1 KRaft node on ${bootstrap} (data in ${dir}; Ctrl-C stops it and removes the data)

Point banditjoin at it, in another terminal:
  KAFKA_BROKERS=${bootstrap} npm start
Log a decision (its record leaves after EXP_UNIT_MS, 10 s by default):
  curl -s localhost:8080/log_decision -H 'content-type: application/json' \\
    -d '{"key":"k1","action":"a","probability":0.5,"context":{}}'
Read the joined records as a learner does (read_committed, from the start):
  npm run kafka:read -- --brokers ${bootstrap}
`
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9092' } } })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`--port ${values.port}: accepts an integer 1..65535`)
  }
  if (!(await portFree(port))) {
    throw new Error(
      `127.0.0.1:${port} is taken (another Kafka?): choose another with npm run kafka:dev -- --port N`,
    )
  }
  const cluster = await startKafkaCluster({ brokers: 1, port })
  // The bootstrap address alone on the first line, for scripts; the rest for people.
  process.stdout.write(`${cluster.bootstrap}\n${instructions(cluster.bootstrap, cluster.dir)}`)
  const stop = () => void cluster.stop().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`kafka:dev: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
