import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { flagName, helpText, loadConfig, SETTINGS } from '../src/config.js'
import { BanditJoinError } from '../src/errors.js'
import { SPEC_VARIABLES } from './helpers/spec.js'

/** Asserts that loading refuses with BJ_ERR_CONFIG and a message containing every fragment. */
function refuses(env: Record<string, string>, args: string[], ...fragments: string[]): void {
  assert.throws(
    () => loadConfig(env, args),
    (error: unknown) => {
      assert.ok(error instanceof BanditJoinError, `expected a BanditJoinError, got ${String(error)}`)
      assert.equal(error.code, 'BJ_ERR_CONFIG')
      for (const fragment of fragments) assert.ok(error.message.includes(fragment), error.message)
      return true
    },
  )
}

test('an empty environment gives the defaults of SPEC §7', () => {
  const config = loadConfig({})
  assert.deepEqual(config, {
    port: 8080,
    host: '127.0.0.1',
    expUnitMs: 10000,
    earlyRewardMs: 120000,
    rewardAgg: 'last',
    defaultReward: 0,
    dataDir: './data',
    outputs: [{ kind: 'stdout' }],
    outputFormat: 'json',
    deadLetter: undefined,
    outputRetentionMs: 3600000,
    outputRetentionBytes: 1073741824,
    durability: 'power',
    maxPending: 1000000,
    maxHeld: 100000,
    maxBatchEvents: 10000,
    maxBodyBytes: 16777216,
    maxContextBytes: 65536,
    maxFieldBytes: 1024,
    maxRewardsPerDecision: 1000,
    apiKey: undefined,
    kafka: undefined,
    logLevel: 'info',
    logFormat: 'json',
  })
})

test('valid values of every kind are read from the environment', () => {
  const config = loadConfig({
    PORT: '0',
    HOST: '0.0.0.0',
    EXP_UNIT_MS: '1',
    EARLY_REWARD_MS: '0',
    REWARD_AGG: 'median',
    DEFAULT_REWARD: '-1.5',
    DATA_DIR: '/tmp/bj',
    OUTPUT: 'stdout, file:/tmp/a.jsonl,file:/tmp/b.jsonl',
    DEAD_LETTER: 'file:/tmp/dead.jsonl',
    DURABILITY: 'process',
    MAX_PENDING: '5',
    MAX_HELD: '6',
    MAX_FIELD_BYTES: '7',
    MAX_REWARDS_PER_DECISION: '8',
    API_KEY: 'secret',
    LOG_LEVEL: 'silent',
  })
  assert.equal(config.port, 0)
  assert.equal(config.host, '0.0.0.0')
  assert.equal(config.expUnitMs, 1)
  assert.equal(config.earlyRewardMs, 0)
  assert.equal(config.rewardAgg, 'median')
  assert.equal(config.defaultReward, -1.5)
  assert.equal(config.dataDir, '/tmp/bj')
  assert.deepEqual(config.outputs, [
    { kind: 'stdout' },
    { kind: 'file', path: '/tmp/a.jsonl' },
    { kind: 'file', path: '/tmp/b.jsonl' },
  ])
  assert.deepEqual(config.deadLetter, { kind: 'file', path: '/tmp/dead.jsonl' })
  assert.equal(config.durability, 'process')
  assert.equal(config.maxPending, 5)
  assert.equal(config.maxHeld, 6)
  assert.equal(config.maxFieldBytes, 7)
  assert.equal(config.maxRewardsPerDecision, 8)
  assert.equal(config.apiKey, 'secret')
  assert.equal(config.logLevel, 'silent')
})

const BAD_VALUES: [variable: string, value: string, accepts: string][] = [
  ['EXP_UNIT_MS', '0', 'positive integer'],
  ['EXP_UNIT_MS', '-5', 'positive integer'],
  ['EXP_UNIT_MS', '1.5', 'positive integer'],
  ['EXP_UNIT_MS', 'abc', 'positive integer'],
  ['EXP_UNIT_MS', '', 'positive integer'],
  ['EXP_UNIT_MS', '1e3', 'positive integer'],
  ['EARLY_REWARD_MS', '-1', 'integer >= 0'],
  ['PORT', '70000', '0..65535'],
  ['PORT', '', '0..65535'],
  ['REWARD_AGG', 'avg', 'last, first, sum, mean, min, max, median'],
  ['DURABILITY', 'disk', 'power, process'],
  ['OUTPUT', 'foo', 'stdout and file:PATH'],
  ['OUTPUT', 'file:', 'stdout and file:PATH'],
  ['OUTPUT', 'file: ', 'stdout and file:PATH'],
  ['OUTPUT', 'stdout,stdout', 'stdout and file:PATH'],
  ['OUTPUT', 'file:/tmp/a,file:/tmp/a', 'stdout and file:PATH'],
  ['OUTPUT_FORMAT', 'xml', 'json, dsjson'],
  ['DEAD_LETTER', 'stdout', 'file:PATH'],
  ['DEAD_LETTER', 'file:', 'file:PATH'],
  ['DEFAULT_REWARD', 'NaN', 'finite number'],
  ['DEFAULT_REWARD', 'Infinity', 'finite number'],
  ['DEFAULT_REWARD', '', 'finite number'],
  ['MAX_PENDING', '0', 'positive integer'],
  ['MAX_HELD', '0', 'positive integer'],
  ['MAX_HELD', '-1', 'positive integer'],
  ['MAX_FIELD_BYTES', '0', 'positive integer'],
  ['MAX_FIELD_BYTES', '1.5', 'positive integer'],
  ['MAX_REWARDS_PER_DECISION', '0', 'positive integer'],
  ['MAX_REWARDS_PER_DECISION', 'many', 'positive integer'],
  ['OUTPUT_RETENTION_BYTES', '0', 'positive integer'],
  ['MAX_CONTEXT_BYTES', '99999999999999999999', 'positive integer'],
  ['LOG_LEVEL', 'loud', 'info'],
  ['API_KEY', '', 'non-empty string'],
]

for (const [variable, value, accepts] of BAD_VALUES) {
  test(`${variable}=${JSON.stringify(value)} is refused with a message naming ${variable} and what it accepts`, () => {
    refuses({ [variable]: value }, [], variable, JSON.stringify(value), accepts)
  })
}

test('the same bad value given as a flag is refused naming the variable', () => {
  refuses({}, ['--exp-unit-ms', '0'], 'EXP_UNIT_MS', 'positive integer')
  refuses({}, ['--port=70000'], 'PORT', '0..65535')
})

test('a bad flag value is reported as the user typed it, with its variable', () => {
  refuses({}, ['--port=abc'], '--port="abc" (PORT) is invalid', '0..65535')
  refuses({}, ['--exp-unit-ms', 'soon'], '--exp-unit-ms="soon" (EXP_UNIT_MS) is invalid')
  refuses({ PORT: 'abc' }, [], 'PORT="abc" is invalid')
})

test('an unknown option close to a known one gets a "did you mean"', () => {
  refuses({}, ['--prot=8081'], 'unknown option --prot; did you mean --port?')
  refuses({}, ['--exp-unit', '5'], 'did you mean --exp-unit-ms?')
  refuses({}, ['--EXP_UNIT_MS=5'], 'did you mean --exp-unit-ms?')
  refuses({}, ['--max-pendng', '5'], 'did you mean --max-pending?')
  refuses({}, ['--env-flie', 'x'], 'did you mean --env-file?')
  refuses({}, ['--verison'], 'did you mean --version?')
  assert.throws(
    () => loadConfig({}, ['--bogus=1']),
    (error: Error) => !error.message.includes('did you mean'),
  )
})

test('a flag given as two arguments wins over the environment', () => {
  assert.equal(loadConfig({ EXP_UNIT_MS: '10' }, ['--exp-unit-ms', '500']).expUnitMs, 500)
})

test('a flag given as --flag=value wins over the environment', () => {
  assert.equal(loadConfig({ EXP_UNIT_MS: '10' }, ['--exp-unit-ms=500']).expUnitMs, 500)
})

test('a flag wins over a bad environment value, which is then not read', () => {
  assert.equal(loadConfig({ EXP_UNIT_MS: 'abc' }, ['--exp-unit-ms=500']).expUnitMs, 500)
})

test('a flag value may itself contain an equals sign', () => {
  assert.equal(loadConfig({}, ['--api-key=a=b']).apiKey, 'a=b')
})

test('every setting has a flag named after its variable', () => {
  for (const setting of SETTINGS) {
    assert.equal(flagName(setting.env), `--${setting.env.toLowerCase().replaceAll('_', '-')}`)
  }
  const config = loadConfig({}, ['--reward-agg', 'sum', '--output-retention-ms=5', '--data-dir', '/x'])
  assert.equal(config.rewardAgg, 'sum')
  assert.equal(config.outputRetentionMs, 5)
  assert.equal(config.dataDir, '/x')
})

test('an unknown flag is refused naming it', () => {
  refuses({}, ['--exp-unit'], 'unknown option --exp-unit')
  refuses({}, ['--bogus=1'], 'unknown option --bogus')
  refuses({}, ['serve'], 'unknown option serve')
})

test('a flag without its value is refused', () => {
  refuses({}, ['--exp-unit-ms'], '--exp-unit-ms needs a value')
})

test('KAFKA_BROKERS turns the Kafka mode on, with the documented defaults for the other KAFKA_ settings', () => {
  assert.equal(loadConfig({}).kafka, undefined)
  assert.deepEqual(loadConfig({ KAFKA_BROKERS: 'k1:9092, k2:9093' }).kafka, {
    brokers: ['k1:9092', 'k2:9093'],
    topicPrefix: 'banditjoin',
    sourceTopic: undefined,
    partitions: 6,
    replicationFactor: undefined,
    groupId: 'banditjoin',
    sessionTimeoutMs: 10000,
    connectTimeoutMs: 30000,
    ingestProducers: 1,
    tls: false,
    tlsCaFile: undefined,
    tlsCertFile: undefined,
    tlsKeyFile: undefined,
    saslMechanism: undefined,
    saslUsername: undefined,
    saslPassword: undefined,
  })
  const flags = loadConfig({}, [
    '--kafka-brokers=127.0.0.1:9092',
    '--kafka-topic-prefix',
    'bj.test',
    '--kafka-source-topic=decisions-and-rewards',
    '--kafka-partitions=3',
    '--kafka-replication-factor=3',
    '--kafka-group-id=joiners',
    '--kafka-session-timeout-ms=3000',
    '--kafka-connect-timeout-ms=5000',
    '--kafka-ingest-producers=2',
  ])
  assert.deepEqual(flags.kafka, {
    brokers: ['127.0.0.1:9092'],
    topicPrefix: 'bj.test',
    sourceTopic: 'decisions-and-rewards',
    partitions: 3,
    replicationFactor: 3,
    groupId: 'joiners',
    sessionTimeoutMs: 3000,
    connectTimeoutMs: 5000,
    ingestProducers: 2,
    tls: false,
    tlsCaFile: undefined,
    tlsCertFile: undefined,
    tlsKeyFile: undefined,
    saslMechanism: undefined,
    saslUsername: undefined,
    saslPassword: undefined,
  })
})

test('bad Kafka settings are refused naming the variable and what it accepts', () => {
  refuses({ KAFKA_BROKERS: 'localhost' }, [], 'KAFKA_BROKERS', 'host:port')
  refuses({ KAFKA_BROKERS: 'a:1,' }, [], 'KAFKA_BROKERS', 'host:port')
  refuses({ KAFKA_BROKERS: 'a:1', KAFKA_PARTITIONS: '0' }, [], 'KAFKA_PARTITIONS', '1..10000')
  refuses({ KAFKA_BROKERS: 'a:1', KAFKA_TOPIC_PREFIX: 'a b' }, [], 'KAFKA_TOPIC_PREFIX', 'topic name')
  refuses(
    { KAFKA_BROKERS: 'a:1', KAFKA_CONNECT_TIMEOUT_MS: '500' },
    [],
    'KAFKA_CONNECT_TIMEOUT_MS',
    '1000..600000',
  )
  refuses({ KAFKA_BROKERS: 'a:1' }, ['--kafka-replication-factor', 'three'], 'KAFKA_REPLICATION_FACTOR')
})

test('Kafka TLS and SASL settings: files must be readable, and what goes together is set together', () => {
  const file = fileURLToPath(new URL('../../package.json', import.meta.url))
  const kafka = loadConfig({
    KAFKA_BROKERS: 'k:9093',
    KAFKA_TLS: 'true',
    KAFKA_TLS_CA_FILE: file,
    KAFKA_TLS_CERT_FILE: file,
    KAFKA_TLS_KEY_FILE: file,
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'p',
  }).kafka
  assert.deepEqual(
    [kafka?.tls, kafka?.tlsCaFile, kafka?.saslMechanism, kafka?.saslUsername, kafka?.saslPassword],
    [true, file, 'SCRAM-SHA-512', 'u', 'p'],
  )
  const base = { KAFKA_BROKERS: 'k:9093' }
  refuses({ ...base, KAFKA_TLS: 'yes' }, [], 'KAFKA_TLS', 'true, false')
  refuses(
    { ...base, KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: '/no/such/ca.pem' },
    [],
    'KAFKA_TLS_CA_FILE',
    'readable',
  )
  refuses({ ...base, KAFKA_TLS_CA_FILE: file }, [], 'KAFKA_TLS_CA_FILE needs KAFKA_TLS=true')
  refuses(
    { ...base, KAFKA_TLS: 'true', KAFKA_TLS_CERT_FILE: file },
    [],
    'KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE',
  )
  refuses({ ...base, KAFKA_SASL_MECHANISM: 'GSSAPI' }, [], 'KAFKA_SASL_MECHANISM', 'PLAIN, SCRAM-SHA-256')
  refuses({ ...base, KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u' }, [], 'set all three or none')
  refuses({ KAFKA_SASL_PASSWORD: 'p' }, [], 'KAFKA_SASL_PASSWORD', 'KAFKA_BROKERS')
})

test('a Kafka setting without KAFKA_BROKERS is refused rather than ignored', () => {
  refuses({ KAFKA_PARTITIONS: '3' }, [], 'KAFKA_PARTITIONS', 'KAFKA_BROKERS')
  refuses({}, ['--kafka-group-id', 'g'], 'KAFKA_GROUP_ID', 'KAFKA_BROKERS')
})

test('variables the service does not know are ignored', () => {
  assert.equal(loadConfig({ HOME: '/root', SOMETHING_ELSE: 'x' }).port, 8080)
})

test('the help text lists every variable and flag with its default', () => {
  const entries = helpText().split('\n  --').slice(1)
  for (const setting of SETTINGS) {
    const flag = flagName(setting.env)
    const entry = entries.find((e) => `--${e}`.startsWith(`${flag} (${setting.env})`))
    assert.ok(entry !== undefined, `help lacks ${flag} (${setting.env})`)
    assert.ok(entry.includes(`default ${setting.default ?? 'none'}`), entry)
    assert.ok(entry.includes(setting.accepts), entry)
  }
})

test('the help text covers every variable of SPEC §7 this version supports', () => {
  const help = helpText()
  for (const variable of SPEC_VARIABLES) assert.ok(help.includes(`(${variable})`), `help lacks ${variable}`)
  assert.ok(help.includes('default 10000'))
  assert.ok(help.includes('default 127.0.0.1'))
})

test('the memory budgets of SPEC §7 are flags too, and the help states their defaults', () => {
  const config = loadConfig({}, [
    '--max-held',
    '3',
    '--max-field-bytes=64',
    '--max-rewards-per-decision',
    '9',
  ])
  assert.equal(config.maxHeld, 3)
  assert.equal(config.maxFieldBytes, 64)
  assert.equal(config.maxRewardsPerDecision, 9)
  const help = helpText()
  assert.match(help, /--max-held \(MAX_HELD\)\n.*\n.*default 100000/)
  assert.match(help, /--max-field-bytes \(MAX_FIELD_BYTES\)\n.*\n.*default 1024/)
  assert.match(help, /--max-rewards-per-decision \(MAX_REWARDS_PER_DECISION\)\n.*\n.*default 1000\n/)
})

/** A temporary env file with `text`, removed after the test. */
function envFile(t: TestContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'banditjoin-env-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'banditjoin.env')
  writeFileSync(path, text)
  return path
}

test('--env-file reads settings in the .env format; a flag wins over the environment, the environment over the file', (t) => {
  const path = envFile(
    t,
    '# settings\nEXP_UNIT_MS=700\nEARLY_REWARD_MS=5000\nREWARD_AGG="sum"\nDATA_DIR=/srv/bj # a comment\nOTHER_TOOL=x\n',
  )
  const config = loadConfig({ EARLY_REWARD_MS: '6000', DEFAULT_REWARD: '1' }, [
    '--env-file',
    path,
    '--reward-agg=max',
  ])
  assert.equal(config.expUnitMs, 700, 'from the file')
  assert.equal(config.earlyRewardMs, 6000, 'the environment wins over the file')
  assert.equal(config.rewardAgg, 'max', 'the flag wins over the file')
  assert.equal(config.defaultReward, 1, 'the environment')
  assert.equal(config.dataDir, '/srv/bj')
  assert.equal(process.env.EXP_UNIT_MS, undefined, 'the process environment is left as it was')
  assert.equal(loadConfig({}, [`--env-file=${path}`]).expUnitMs, 700, '--env-file=PATH works too')
})

test('--env-file: a later file wins, a bad value names the file, a missing file is refused naming it', (t) => {
  const first = envFile(t, 'EXP_UNIT_MS=700\nPORT=9000\n')
  const second = envFile(t, 'EXP_UNIT_MS=800\n')
  const config = loadConfig({}, ['--env-file', first, '--env-file', second])
  assert.equal(config.expUnitMs, 800)
  assert.equal(config.port, 9000)
  refuses({}, ['--env-file', envFile(t, 'PORT=eighty\n')], 'PORT="eighty" in ', 'banditjoin.env is invalid')
  refuses(
    {},
    ['--env-file', '/nonexistent/bj.env'],
    '--env-file /nonexistent/bj.env cannot be read',
    'ENOENT',
  )
  refuses({}, ['--env-file', envFile(t, 'KAFKA_PARTITIONS=3\n')], 'KAFKA_PARTITIONS', 'KAFKA_BROKERS')
})

test('LOG_FORMAT accepts json and pretty', () => {
  assert.equal(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat, 'pretty')
  assert.equal(loadConfig({}, ['--log-format=json']).logFormat, 'json')
  refuses({ LOG_FORMAT: 'text' }, [], 'LOG_FORMAT="text" is invalid', 'json, pretty')
})

test('the help text names --env-file, --help and --version', () => {
  const help = helpText()
  assert.match(
    help,
    /^ {2}--env-file PATH\n.*\n.*a flag wins over the environment, and the environment over the file/m,
  )
  assert.match(help, /^ {2}--help$/m)
  assert.match(help, /^ {2}--version\n {6}print the version \(\d+\.\d+\.\d+\)/m)
})
