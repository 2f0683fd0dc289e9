import { accessSync, constants, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { REWARD_AGGREGATIONS, type RewardAggregation } from './engine/types.js'
import { configError } from './errors.js'
import type { IngestLimits } from './ingest/validate.js'
import {
  DEFAULT_OUTPUT_FORMAT,
  OUTPUT_FORMAT_NAMES,
  OUTPUT_FORMATS,
  type OutputFormatName,
} from './output/formats.js'
import { closestName } from './spelling.js'
import { VERSION } from './version.js'

export type OutputTarget = { kind: 'stdout' } | { kind: 'file'; path: string }

/** The service's configuration (SPEC §7): environment variables, each also a flag. */
export interface Config {
  port: number
  host: string
  expUnitMs: number
  earlyRewardMs: number
  rewardAgg: RewardAggregation
  defaultReward: number
  dataDir: string
  outputs: OutputTarget[]
  outputFormat: OutputFormatName
  deadLetter: { kind: 'file'; path: string } | undefined
  outputRetentionMs: number
  outputRetentionBytes: number
  durability: 'power' | 'process'
  maxPending: number
  maxHeld: number
  maxBatchEvents: number
  maxBodyBytes: number
  maxContextBytes: number
  maxFieldBytes: number
  maxRewardsPerDecision: number
  apiKey: string | undefined
  kafka: KafkaConfig | undefined
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  logFormat: 'json' | 'pretty'
}

/** The distributed mode (SPEC §5), on when KAFKA_BROKERS is set. */
export interface KafkaConfig {
  brokers: string[]
  /** Topics are PREFIX.events, PREFIX.joined and PREFIX.dead-letters. */
  topicPrefix: string
  /** The user's own topic of events to join instead of PREFIX.events. */
  sourceTopic: string | undefined
  /** For topics banditjoin creates. */
  partitions: number
  /** For topics banditjoin creates; undefined: the brokers' default.replication.factor. */
  replicationFactor: number | undefined
  /** The join workers' consumer group. */
  groupId: string
  /** A member silent this long is dead: its partitions move (the failover time's main part). */
  sessionTimeoutMs: number
  /** How long to try reaching the brokers at start before giving up (exit 2). */
  connectTimeoutMs: number
  /** Ingest's idempotent producers, each with one produce request in flight for its share of the partitions. */
  ingestProducers: number
  /** Connect with TLS; the files (PEM) need it. */
  tls: boolean
  tlsCaFile: string | undefined
  tlsCertFile: string | undefined
  tlsKeyFile: string | undefined
  /** SASL: all three or none. */
  saslMechanism: SaslMechanism | undefined
  saslUsername: string | undefined
  saslPassword: string | undefined
}

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const
export type SaslMechanism = (typeof SASL_MECHANISMS)[number]

/** One variable: how it is read and what --help says of it. */
interface Variable<T> {
  env: string
  default: string | undefined
  /** What the setting accepts, as said in --help and in errors. */
  accepts: string
  meaning: string
  parse(raw: string): T
}

type Settings<C> = { [K in keyof C]: Variable<C[K]> & { key: K } }[keyof C][]

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (raw: string): number => {
    if (!/^[0-9]+$/.test(raw.trim())) throw new Error('not an integer')
    const value = Number(raw)
    if (value < min || value > max) throw new Error('out of range')
    return value
  }

const oneOf =
  <T extends string>(values: readonly T[]) =>
  (raw: string): T => {
    if (!(values as readonly string[]).includes(raw)) throw new Error('not one of the accepted values')
    return raw as T
  }

function fileTarget(raw: string): { kind: 'file'; path: string } {
  const path = raw.trim().slice(5).trim()
  if (!raw.trim().startsWith('file:') || path === '') throw new Error('expected file:PATH')
  return { kind: 'file', path }
}

function outputs(raw: string): OutputTarget[] {
  const targets = raw.split(',').map((part): OutputTarget => {
    const item = part.trim()
    return item === 'stdout' ? { kind: 'stdout' } : fileTarget(item)
  })
  const paths = targets.flatMap((t) => (t.kind === 'file' ? [t.path] : []))
  if (new Set(paths).size !== paths.length) throw new Error('the same file twice')
  if (targets.filter((t) => t.kind === 'stdout').length > 1) throw new Error('stdout twice')
  return targets
}

function finiteNumber(raw: string): number {
  const value = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(value)) throw new Error('not a finite number')
  return value
}

/** What --help says of particular output formats: ` (dsjson: for vw --dsjson --cb_adf)`. */
function formatNotes(): string {
  const notes = OUTPUT_FORMAT_NAMES.flatMap((name) => {
    const { note } = OUTPUT_FORMATS[name]
    return note === undefined ? [] : [`${name}: ${note}`]
  })
  return notes.length === 0 ? '' : ` (${notes.join('; ')})`
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Every setting, in the order --help lists them. */
export const SETTINGS: Settings<Config> = [
  {
    key: 'port',
    env: 'PORT',
    default: '8080',
    accepts: 'an integer 0..65535',
    meaning: 'HTTP port',
    parse: integer(0, 65535),
  },
  {
    key: 'host',
    env: 'HOST',
    default: '127.0.0.1',
    accepts: 'a host name or address',
    meaning: 'HTTP address',
    parse: (raw) => {
      if (raw.trim() === '') throw new Error('empty')
      return raw
    },
  },
  {
    key: 'expUnitMs',
    env: 'EXP_UNIT_MS',
    default: '10000',
    accepts: 'a positive integer (milliseconds)',
    meaning: 'the window E: a decision is emitted this long after it was logged',
    parse: integer(1),
  },
  {
    key: 'earlyRewardMs',
    env: 'EARLY_REWARD_MS',
    default: '120000',
    accepts: 'an integer >= 0 (milliseconds)',
    meaning: 'G: how long a reward, override or activation may precede its decision',
    parse: integer(0),
  },
  {
    key: 'rewardAgg',
    env: 'REWARD_AGG',
    default: 'last',
    accepts: REWARD_AGGREGATIONS.join(', '),
    meaning: 'how several counted rewards combine',
    parse: oneOf(REWARD_AGGREGATIONS),
  },
  {
    key: 'defaultReward',
    env: 'DEFAULT_REWARD',
    default: '0',
    accepts: 'a finite number',
    meaning: 'reward of a decision with no counted reward',
    parse: finiteNumber,
  },
  {
    key: 'dataDir',
    env: 'DATA_DIR',
    default: './data',
    accepts: 'a directory path',
    meaning: 'where the embedded log lives',
    parse: (raw) => {
      if (raw.trim() === '') throw new Error('empty')
      return raw
    },
  },
  {
    key: 'outputs',
    env: 'OUTPUT',
    default: 'stdout',
    accepts: 'comma-separated stdout and file:PATH',
    meaning: 'where joined records go (the HTTP tail GET /joined is always on)',
    parse: outputs,
  },
  {
    key: 'outputFormat',
    env: 'OUTPUT_FORMAT',
    default: DEFAULT_OUTPUT_FORMAT,
    accepts: OUTPUT_FORMAT_NAMES.join(', '),
    meaning: `format of stdout and file outputs${formatNotes()}`,
    parse: oneOf(OUTPUT_FORMAT_NAMES),
  },
  {
    key: 'deadLetter',
    env: 'DEAD_LETTER',
    default: undefined,
    accepts: 'file:PATH',
    meaning: 'late and orphaned events and cancelled decisions, one JSON line each with a "reason"',
    parse: fileTarget,
  },
  {
    key: 'outputRetentionMs',
    env: 'OUTPUT_RETENTION_MS',
    default: '3600000',
    accepts: 'a positive integer (milliseconds)',
    meaning: 'how long emitted records stay available to GET /joined',
    parse: integer(1),
  },
  {
    key: 'outputRetentionBytes',
    env: 'OUTPUT_RETENTION_BYTES',
    default: '1073741824',
    accepts: 'a positive integer (bytes)',
    meaning: 'how many bytes of emitted records stay available to GET /joined',
    parse: integer(1),
  },
  {
    key: 'durability',
    env: 'DURABILITY',
    default: 'power',
    accepts: 'power, process',
    meaning: 'power: fsync before answering; process: survives a crash of the process only',
    parse: oneOf(['power', 'process'] as const),
  },
  {
    key: 'maxPending',
    env: 'MAX_PENDING',
    default: '1000000',
    accepts: 'a positive integer',
    meaning:
      'decisions pending (embedded mode); a new decision beyond it gets 503 with Retry-After: when the oldest pending one is due',
    parse: integer(1),
  },
  {
    key: 'maxHeld',
    env: 'MAX_HELD',
    default: '100000',
    accepts: 'a positive integer',
    meaning:
      'rewards, overrides and activations held for keys with no decision yet (embedded mode); beyond it those get 503 with Retry-After: when the oldest held one expires',
    parse: integer(1),
  },
  {
    key: 'maxBatchEvents',
    env: 'MAX_BATCH_EVENTS',
    default: '10000',
    accepts: 'a positive integer',
    meaning: 'most lines in one POST /events',
    parse: integer(1),
  },
  {
    key: 'maxBodyBytes',
    env: 'MAX_BODY_BYTES',
    default: '16777216',
    accepts: 'a positive integer (bytes)',
    meaning: 'largest request body (413 beyond)',
    parse: integer(1),
  },
  {
    key: 'maxContextBytes',
    env: 'MAX_CONTEXT_BYTES',
    default: '65536',
    accepts: 'a positive integer (bytes)',
    meaning: 'largest context as UTF-8 JSON text (413 beyond)',
    parse: integer(1),
  },
  {
    key: 'maxFieldBytes',
    env: 'MAX_FIELD_BYTES',
    default: '1024',
    accepts: 'a positive integer (bytes)',
    meaning: 'longest string (UTF-8) in action, each of actions, model, timestamp and reward id (413 beyond)',
    parse: integer(1),
  },
  {
    key: 'maxRewardsPerDecision',
    env: 'MAX_REWARDS_PER_DECISION',
    default: '1000',
    accepts: 'a positive integer',
    meaning:
      'rewards counted or held for one decision, a repeated id once (embedded mode); beyond it a reward gets 422',
    parse: integer(1),
  },
  {
    key: 'apiKey',
    env: 'API_KEY',
    default: undefined,
    accepts: 'a non-empty string',
    meaning: 'when set, requests need Authorization: Bearer <key>',
    parse: (raw) => {
      if (raw === '') throw new Error('empty')
      return raw
    },
  },
  {
    key: 'kafka',
    env: 'KAFKA_BROKERS',
    default: undefined,
    accepts: 'comma-separated host:port',
    meaning:
      'run the distributed mode on these Kafka brokers (SPEC §5); the other KAFKA_ settings apply then',
    parse: (raw) => ({ brokers: brokerList(raw) }) as KafkaConfig,
  },
  {
    key: 'logLevel',
    env: 'LOG_LEVEL',
    default: 'info',
    accepts: LOG_LEVELS.join(', '),
    meaning: "the service's own logs on standard error (standard output carries records)",
    parse: oneOf(LOG_LEVELS),
  },
  {
    key: 'logFormat',
    env: 'LOG_FORMAT',
    default: 'json',
    accepts: 'json, pretty',
    meaning: 'json: one JSON object per line; pretty: one readable line per entry, for people at a terminal',
    parse: oneOf(['json', 'pretty'] as const),
  },
]

/** `EXP_UNIT_MS` -> `--exp-unit-ms`. */
export const flagName = (env: string) => `--${env.toLowerCase().replaceAll('_', '-')}`

function brokerList(raw: string): string[] {
  const brokers = raw.split(',').map((b) => b.trim())
  if (!brokers.every((b) => /^[^\s:]+:[0-9]{1,5}$/.test(b))) throw new Error('expected host:port')
  return brokers
}

/** A file the service will read at start: refused now if it cannot be read. */
function readableFile(raw: string): string {
  if (raw.trim() === '') throw new Error('empty')
  accessSync(raw, constants.R_OK)
  return raw
}

const nonEmpty = (raw: string): string => {
  if (raw === '') throw new Error('empty')
  return raw
}

const topicName = (raw: string): string => {
  // Kafka's own rule for topic names (the prefix gets ".events" etc. appended).
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(raw)) throw new Error('not a topic name')
  return raw
}

/** Settings of the Kafka mode: only read when KAFKA_BROKERS is set. */
const KAFKA_SETTINGS: Settings<Omit<KafkaConfig, 'brokers'>> = [
  {
    key: 'topicPrefix',
    env: 'KAFKA_TOPIC_PREFIX',
    default: 'banditjoin',
    accepts: 'a Kafka topic name',
    meaning: 'topics are PREFIX.events, PREFIX.joined and PREFIX.dead-letters',
    parse: topicName,
  },
  {
    key: 'sourceTopic',
    env: 'KAFKA_SOURCE_TOPIC',
    default: undefined,
    accepts: 'a Kafka topic name',
    meaning: 'join your own topic of events (JSON lines as POST /events takes them) instead of PREFIX.events',
    parse: topicName,
  },
  {
    key: 'partitions',
    env: 'KAFKA_PARTITIONS',
    default: '6',
    accepts: 'an integer 1..10000',
    meaning: 'partitions of the topics banditjoin creates (all four have the same count)',
    parse: integer(1, 10_000),
  },
  {
    key: 'replicationFactor',
    env: 'KAFKA_REPLICATION_FACTOR',
    default: undefined,
    accepts: 'an integer 1..32',
    meaning:
      "replication of the topics banditjoin creates (default: the brokers' default.replication.factor)",
    parse: integer(1, 32),
  },
  {
    key: 'groupId',
    env: 'KAFKA_GROUP_ID',
    default: 'banditjoin',
    accepts: 'a non-empty string',
    meaning: 'consumer group of the join workers (instances with the same group share the partitions)',
    parse: (raw) => {
      if (raw.trim() === '') throw new Error('empty')
      return raw
    },
  },
  {
    key: 'sessionTimeoutMs',
    env: 'KAFKA_SESSION_TIMEOUT_MS',
    default: '10000',
    accepts: 'an integer 1000..300000 (milliseconds; the brokers bound it too)',
    meaning: 'how long an instance may be silent before the group moves its partitions (failover time)',
    parse: integer(1000, 300_000),
  },
  {
    key: 'connectTimeoutMs',
    env: 'KAFKA_CONNECT_TIMEOUT_MS',
    default: '30000',
    accepts: 'an integer 1000..600000 (milliseconds)',
    meaning:
      'at start, how long to keep trying to reach a broker of KAFKA_BROKERS; then exit 2 naming each broker and why',
    parse: integer(1000, 600_000),
  },
  {
    key: 'ingestProducers',
    env: 'KAFKA_INGEST_PRODUCERS',
    default: '1',
    accepts: 'an integer 1..64',
    meaning:
      'produce requests ingest keeps in flight to each broker, at most: one idempotent producer for each, owning the events partitions p with p mod this = its number (each partition stays in order; no more producers than partitions)',
    parse: integer(1, 64),
  },
  {
    key: 'tls',
    env: 'KAFKA_TLS',
    default: 'false',
    accepts: 'true, false',
    meaning: "connect to the brokers with TLS (the system's CAs unless KAFKA_TLS_CA_FILE)",
    parse: (raw) => oneOf(['true', 'false'] as const)(raw) === 'true',
  },
  {
    key: 'tlsCaFile',
    env: 'KAFKA_TLS_CA_FILE',
    default: undefined,
    accepts: 'a readable file of PEM certificates',
    meaning: "the CAs that signed the brokers' certificates, instead of the system's (needs KAFKA_TLS=true)",
    parse: readableFile,
  },
  {
    key: 'tlsCertFile',
    env: 'KAFKA_TLS_CERT_FILE',
    default: undefined,
    accepts: 'a readable PEM certificate file',
    meaning: 'a client certificate, for brokers with ssl.client.auth=required (with KAFKA_TLS_KEY_FILE)',
    parse: readableFile,
  },
  {
    key: 'tlsKeyFile',
    env: 'KAFKA_TLS_KEY_FILE',
    default: undefined,
    accepts: 'a readable PEM private key file (unencrypted)',
    meaning: "the client certificate's private key (with KAFKA_TLS_CERT_FILE)",
    parse: readableFile,
  },
  {
    key: 'saslMechanism',
    env: 'KAFKA_SASL_MECHANISM',
    default: undefined,
    accepts: SASL_MECHANISMS.join(', '),
    meaning: 'authenticate to the brokers with SASL (with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)',
    parse: oneOf(SASL_MECHANISMS),
  },
  {
    key: 'saslUsername',
    env: 'KAFKA_SASL_USERNAME',
    default: undefined,
    accepts: 'a non-empty string',
    meaning: 'the SASL user',
    parse: nonEmpty,
  },
  {
    key: 'saslPassword',
    env: 'KAFKA_SASL_PASSWORD',
    default: undefined,
    accepts: 'a non-empty string',
    meaning: "the SASL user's password (prefer the variable to the flag, which other users can see)",
    parse: nonEmpty,
  },
]

/** Rules between the Kafka security settings. */
function checkKafkaSecurity(kafka: KafkaConfig): void {
  for (const [env, value] of [
    ['KAFKA_TLS_CA_FILE', kafka.tlsCaFile],
    ['KAFKA_TLS_CERT_FILE', kafka.tlsCertFile],
    ['KAFKA_TLS_KEY_FILE', kafka.tlsKeyFile],
  ] as const) {
    if (value !== undefined && !kafka.tls) throw configError(`${env} needs KAFKA_TLS=true`)
  }
  if ((kafka.tlsCertFile === undefined) !== (kafka.tlsKeyFile === undefined)) {
    throw configError('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together: set both or neither')
  }
  const sasl = [kafka.saslMechanism, kafka.saslUsername, kafka.saslPassword]
  if (sasl.some((v) => v !== undefined) && sasl.some((v) => v === undefined)) {
    throw configError(
      'KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together: set all three or none',
    )
  }
}

/** A setting's raw text and how the user wrote it, for error messages. */
interface RawValue {
  raw: string
  /** What the user typed: `--port` or `PORT`. */
  name: string
  /** After the value in a message: ` (PORT)` for a flag, ` in FILE` for an env file. */
  where: string
}

/**
 * Reads the configuration from `--flag value` / `--flag=value` arguments, the environment and
 * the files of `--env-file PATH`, in that precedence. Throws a BJ_ERR_CONFIG error naming the
 * flag or variable and what it accepts.
 */
export function loadConfig(env: NodeJS.ProcessEnv, args: readonly string[] = []): Config {
  const { flags, envFiles } = parseArgs(args)
  const fromFiles = readEnvFiles(envFiles)
  const lookup = (name: string): RawValue | undefined => {
    const value = env[name]
    return (
      flags.get(name) ??
      (value === undefined ? undefined : { raw: value, name, where: '' }) ??
      fromFiles.get(name)
    )
  }
  const read = <T>(setting: Variable<T>): T | undefined => {
    const given = lookup(setting.env)
    const raw = given?.raw ?? setting.default
    if (raw === undefined) return undefined
    try {
      return setting.parse(raw)
    } catch {
      const { name, where } = given ?? { name: setting.env, where: '' }
      throw configError(`${name}=${JSON.stringify(raw)}${where} is invalid: accepts ${setting.accepts}`)
    }
  }
  const config: Partial<Record<keyof Config, unknown>> = {}
  for (const setting of SETTINGS) config[setting.key] = read<unknown>(setting)
  const kafka = config.kafka as KafkaConfig | undefined
  for (const setting of KAFKA_SETTINGS) {
    if (kafka !== undefined) Object.assign(kafka, { [setting.key]: read<unknown>(setting) })
    else if (lookup(setting.env) !== undefined) {
      throw configError(`${setting.env} only applies to the Kafka mode: set KAFKA_BROKERS too`)
    }
  }
  if (kafka !== undefined) checkKafkaSecurity(kafka)
  return config as Config
}

const ENV_FILE_FLAG = '--env-file'

/** Options of the command line that are not settings. */
export const COMMAND_OPTIONS = ['--help', '--version'] as const

function parseArgs(args: readonly string[]): { flags: Map<string, RawValue>; envFiles: string[] } {
  const byFlag = new Map([...SETTINGS, ...KAFKA_SETTINGS].map((s) => [flagName(s.env), s.env]))
  const flags = new Map<string, RawValue>()
  const envFiles: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    const eq = arg.indexOf('=')
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    const env = byFlag.get(flag)
    if (env === undefined && flag !== ENV_FILE_FLAG) {
      const known = [...byFlag.keys(), ENV_FILE_FLAG, ...COMMAND_OPTIONS]
      const suggestion = closestName(flag, known)
      const hint = suggestion === undefined ? '' : `; did you mean ${suggestion}?`
      throw configError(`unknown option ${flag}${hint} (see --help)`)
    }
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1)
    if (value === undefined) throw configError(`${flag} needs a value`)
    if (env === undefined) envFiles.push(value)
    else flags.set(env, { raw: value, name: flag, where: ` (${env})` })
  }
  return { flags, envFiles }
}

/** The variables of the `--env-file` files (a later file wins), read without touching process.env. */
function readEnvFiles(paths: readonly string[]): Map<string, RawValue> {
  const values = new Map<string, RawValue>()
  for (const path of paths) {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (error) {
      throw configError(`${ENV_FILE_FLAG} ${path} cannot be read: ${(error as Error).message}`)
    }
    for (const [name, raw] of Object.entries(parseEnv(text))) {
      if (raw !== undefined) values.set(name, { raw, name, where: ` in ${path}` })
    }
  }
  return values
}

/** The text of `banditjoin --help`. */
export function helpText(): string {
  const rows = [...SETTINGS, ...KAFKA_SETTINGS].map(
    (s) =>
      `  ${flagName(s.env)} (${s.env})\n      ${s.meaning}\n      accepts ${s.accepts}; default ${s.default ?? 'none'}`,
  )
  return [
    'banditjoin: joins contextual-bandit decisions with their rewards after a fixed window.',
    '',
    'usage: banditjoin serve [options]',
    '       banditjoin --help | --version',
    '',
    `  ${ENV_FILE_FLAG} PATH`,
    '      read settings from a file of NAME=value lines (the .env format of node --env-file);',
    '      a flag wins over the environment, and the environment over the file',
    '  --help',
    '      print this text',
    '  --version',
    `      print the version (${VERSION})`,
    '',
    'Each setting is a flag and an environment variable of the same meaning:',
    ...rows,
    '',
  ].join('\n')
}

/** The settings that say how events are checked at ingest: plain data, so a worker thread can be given them. */
export type IngestSettings = Pick<
  Config,
  'maxContextBytes' | 'maxFieldBytes' | 'outputFormat' | 'maxBatchEvents'
> & {
  /** Whether a decision's fingerprint is computed (`Ingestor.needsFingerprints`). @default true */
  fingerprints?: boolean
}

/**
 * What ingest checks events against: the sizes, and OUTPUT_FORMAT's refusal rule (SPEC §4). The
 * main thread and the line-checking worker (src/line-check-worker.ts) both build it here.
 */
export function ingestLimits(settings: IngestSettings): IngestLimits {
  return {
    maxContextBytes: settings.maxContextBytes,
    maxFieldBytes: settings.maxFieldBytes,
    refuse: OUTPUT_FORMATS[settings.outputFormat].refuse,
    fingerprints: settings.fingerprints ?? true,
  }
}
