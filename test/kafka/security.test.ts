/**
 * KAFKA_TLS* and KAFKA_SASL_* against a broker with a SASL_SSL listener that also requires a
 * client certificate: a CA, the broker's certificate (for 127.0.0.1) and a client certificate made
 * here with openssl and keytool. With each SASL mechanism the service starts, takes a decision and
 * emits its record; a wrong password and an unknown CA end the start with exit 2 and the cause.
 * Real time: the broker and the service are child processes on their own clock.
 */

import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type KafkaCluster, kafkaUnavailable, startKafkaCluster } from '../kit/kafka-cluster.js'
import { TopicReader } from '../kit/kafka-topic.js'
import { CLI, spawnCli } from '../kit/spawn.js'
import { sleep } from '../kit/wait.js'

const PASSWORD = 'changeit'
const USERS = { alice: 'alice-secret' }

/** A CA, a broker key store (PKCS12) and trust store, and a client certificate and key (PEM). */
function makeCertificates(dir: string) {
  const at = (name: string) => join(dir, name)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=banditjoin test CA',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.pem'),
  )
  writeFileSync(at('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  for (const name of ['broker', 'client']) {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.csr`),
    )
    openssl(
      'x509',
      '-req',
      '-in',
      at(`${name}.csr`),
      '-CA',
      at('ca.pem'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      at('san.ext'),
      '-out',
      at(`${name}.pem`),
    )
  }
  openssl(
    'pkcs12',
    '-export',
    '-in',
    at('broker.pem'),
    '-inkey',
    at('broker.key'),
    '-certfile',
    at('ca.pem'),
    '-name',
    'broker',
    '-out',
    at('broker.p12'),
    '-passout',
    `pass:${PASSWORD}`,
  )
  execFileSync(
    'keytool',
    [
      '-importcert',
      '-noprompt',
      '-alias',
      'ca',
      '-file',
      at('ca.pem'),
      '-keystore',
      at('trust.p12'),
      '-storetype',
      'PKCS12',
      '-storepass',
      PASSWORD,
    ],
    { stdio: 'pipe' },
  )
  return {
    ca: at('ca.pem'),
    cert: at('client.pem'),
    key: at('client.key'),
    keystore: at('broker.p12'),
    truststore: at('trust.p12'),
  }
}

/** The service's exit code and last line of standard error, for a start that should fail. */
function failedStart(env: Record<string, string>): Promise<{ code: number | null; line: string }> {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, PORT: '0', KAFKA_CONNECT_TIMEOUT_MS: '5000', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  return new Promise((resolve) =>
    child.once('close', (code) => resolve({ code, line: stderr.trim().split('\n').at(-1) ?? '' })),
  )
}

describe('TLS and SASL', { skip: kafkaUnavailable(), timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'banditjoin-certs-'))
  let cluster: KafkaCluster
  let files: ReturnType<typeof makeCertificates>
  let secure: Record<string, string>

  before(async () => {
    files = makeCertificates(dir)
    const jaas = (module: string, users = '') =>
      `org.apache.kafka.common.security.${module} required${users};`
    const plainUsers = Object.entries(USERS)
      .map(([u, p]) => ` user_${u}="${p}"`)
      .join('')
    cluster = await startKafkaCluster({
      brokers: 1,
      secureListener: true,
      formatArgs: Object.entries(USERS).flatMap(([name, password]) =>
        ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
          '--add-scram',
          `${m}=[name=${name},password=${password}]`,
        ]),
      ),
      config: {
        'listener.name.secure.ssl.keystore.type': 'PKCS12',
        'listener.name.secure.ssl.keystore.location': files.keystore,
        'listener.name.secure.ssl.keystore.password': PASSWORD,
        'listener.name.secure.ssl.key.password': PASSWORD,
        'listener.name.secure.ssl.truststore.type': 'PKCS12',
        'listener.name.secure.ssl.truststore.location': files.truststore,
        'listener.name.secure.ssl.truststore.password': PASSWORD,
        'listener.name.secure.ssl.client.auth': 'required',
        'listener.name.secure.sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
        'listener.name.secure.plain.sasl.jaas.config': jaas('plain.PlainLoginModule', plainUsers),
        'listener.name.secure.scram-sha-256.sasl.jaas.config': jaas('scram.ScramLoginModule'),
        'listener.name.secure.scram-sha-512.sasl.jaas.config': jaas('scram.ScramLoginModule'),
      },
    })
    secure = {
      KAFKA_BROKERS: cluster.secureBootstrap as string,
      KAFKA_TLS: 'true',
      KAFKA_TLS_CA_FILE: files.ca,
      KAFKA_TLS_CERT_FILE: files.cert,
      KAFKA_TLS_KEY_FILE: files.key,
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD: USERS.alice,
      KAFKA_PARTITIONS: '1',
      EXP_UNIT_MS: '500',
    }
  })

  after(async () => {
    await cluster?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    test(`SASL_SSL with ${mechanism} and a client certificate: a decision is joined`, async () => {
      const prefix = `sec-${mechanism.toLowerCase()}`
      const service = await spawnCli({
        ...secure,
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_TOPIC_PREFIX: prefix,
        KAFKA_GROUP_ID: prefix,
        LOG_LEVEL: 'debug',
      })
      // Read through the plaintext listener: what the service wrote, however it connected.
      const joined = new TopicReader(cluster.bootstrap, `${prefix}.joined`)
      try {
        assert.ok(!service.stderr().includes(USERS.alice), 'the password is not logged')
        const answer = await fetch(`${service.url}/log_decision`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key: `k-${mechanism}`, action: 'a', probability: 0.5, context: {} }),
        })
        assert.equal(answer.status, 200)
        await joined.start()
        const deadline = Date.now() + 30_000
        while (!joined.lines().some((r) => (r as { key?: string }).key === `k-${mechanism}`)) {
          assert.ok(Date.now() < deadline, `no record of k-${mechanism}:\n${service.stderr()}`)
          await sleep(100)
        }
      } finally {
        service.process.kill('SIGTERM')
        await Promise.all([service.exited, joined.close()])
      }
    })
  }

  test('a wrong password: exit 2 at once, naming the broker and the SASL failure', async () => {
    const exit = await failedStart({
      ...secure,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
      KAFKA_SASL_PASSWORD: 'wrong',
    })
    assert.equal(exit.code, 2)
    assert.match(
      exit.line,
      new RegExp(
        `^banditjoin: cannot reach the Kafka brokers of KAFKA_BROKERS: ${cluster.secureBootstrap}: authentication failed \\(SASL\\)`,
      ),
    )
  })

  test("the brokers' CA not given: exit 2 at once, naming the broker and the TLS failure", async () => {
    const { KAFKA_TLS_CA_FILE: _, ...noCa } = secure
    const exit = await failedStart({ ...noCa, KAFKA_SASL_MECHANISM: 'PLAIN' })
    assert.equal(exit.code, 2)
    assert.match(
      exit.line,
      new RegExp(
        `^banditjoin: cannot reach the Kafka brokers of KAFKA_BROKERS: ${cluster.secureBootstrap}: TLS failed: .*certificate`,
      ),
    )
  })
})
