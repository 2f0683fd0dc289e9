/**
 * The Kafka broker's jars for the tests, the benchmark and `npm run kafka:dev`: fetched by
 * test/kafka/fetch.sh on first use (once; later calls find them), so that `npm test` works on a
 * fresh checkout. Without Java 17+ or Maven, `kafkaUnavailable()` says why, and Kafka tests skip.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const FETCH = join(repoRoot, 'test/kafka/fetch.sh')
const POM = join(repoRoot, 'test/kafka/pom.xml')

/** Where test/kafka/fetch.sh puts the broker's jars. */
export function kafkaLibDir(): string {
  return process.env.BANDITJOIN_KAFKA_LIB ?? join(repoRoot, 'node_modules/.cache/banditjoin-kafka/lib')
}

/** The jars are missing and cannot be fetched: the message says why and what to do. */
export class KafkaJarsMissingError extends Error {}

/** Whether `lib` holds the jars of the current pom.xml (fetch.sh's stamp: the pom's SHA-256). */
function haveJars(lib: string): boolean {
  const stamp = join(lib, '.pom.sha256')
  if (!existsSync(stamp)) return false
  return readFileSync(stamp, 'utf8').trim() === createHash('sha256').update(readFileSync(POM)).digest('hex')
}

/** The major version of `java` on the PATH, or undefined when there is none. */
function javaMajor(): number | undefined {
  const run = spawnSync('java', ['-version'], { encoding: 'utf8' })
  if (run.error !== undefined || run.status !== 0) return undefined
  // `openjdk version "17.0.15"`, `java version "1.8.0_392"` (Java 8 says 1.8).
  const match = /version "(?:1\.)?(\d+)/.exec(`${run.stderr}${run.stdout}`)
  return match === null ? undefined : Number(match[1])
}

function haveMaven(): boolean {
  const run = spawnSync('mvn', ['--version'], { stdio: 'ignore' })
  return run.error === undefined && run.status === 0
}

let reason: string | undefined | null = null

/**
 * Why no Kafka broker can run here (for `{ skip: kafkaUnavailable() }`), or undefined when the
 * jars are there or can be fetched. Asks Java and Maven once per process.
 */
export function kafkaUnavailable(): string | undefined {
  const lib = kafkaLibDir()
  if (haveJars(lib)) return undefined
  if (reason === null) {
    const java = javaMajor()
    const missing = [
      ...(java === undefined || java < 17 ? [`Java 17+ (found ${java ?? 'none'})`] : []),
      ...(haveMaven() ? [] : ['Maven (mvn)']),
    ]
    reason =
      missing.length === 0
        ? undefined
        : `no Kafka broker: its jars are not in ${lib} and fetching them needs ${missing.join(' and ')} ` +
          '(bash .ci/run installs both; BANDITJOIN_KAFKA_LIB chooses another folder)'
  }
  return reason
}

/**
 * Makes sure the jars are in kafkaLibDir(): fetches them (test/kafka/fetch.sh, its progress on
 * standard error) when they are not. Throws KafkaJarsMissingError when they cannot be had.
 */
export function ensureKafkaJars(): string {
  const lib = kafkaLibDir()
  if (haveJars(lib)) return lib
  const unavailable = kafkaUnavailable()
  if (unavailable !== undefined) throw new KafkaJarsMissingError(unavailable)
  // stdout to our stderr: under `node --test` a test file's standard output is the reporter's.
  const fetch = spawnSync('bash', [FETCH], {
    stdio: ['ignore', 2, 2],
    env: { ...process.env, BANDITJOIN_KAFKA_LIB: lib },
  })
  if (fetch.status !== 0 || !haveJars(lib)) {
    throw new KafkaJarsMissingError(
      `fetching Kafka's jars into ${lib} failed (test/kafka/fetch.sh exited with ${fetch.status ?? fetch.signal}; ` +
        'its messages are above: Maven needs to reach Maven Central, or a filled ~/.m2)',
    )
  }
  return lib
}
