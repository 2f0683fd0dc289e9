/**
 * Brokers that cannot be reached at start (src/kafka/connect.ts): the built CLI logs "connecting
 * to …" at once, keeps trying for KAFKA_CONNECT_TIMEOUT_MS, then exits 2 with one line naming each
 * broker and why, and no stack. No broker is needed.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { failureOf } from '../../src/kafka/connect.js'
import { freePort } from '../kit/ports.js'
import { CLI } from '../kit/spawn.js'

interface Exit {
  code: number | null
  stderr: string
  /** When it exited (epoch ms, as the logs' "time"). */
  atMs: number
}

function serve(env: Record<string, string>): Promise<Exit> {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr, atMs: Date.now() })))
}

/** The last line of standard error: the CLI's own message (the lines before are JSON logs). */
const lastLine = (stderr: string) => stderr.trim().split('\n').at(-1) ?? ''

test('refused and unresolvable brokers: "connecting to" at once, then exit 2 naming each and why, within the bound', async () => {
  const port = await freePort()
  const brokers = `127.0.0.1:${port},banditjoin-no-such-host.invalid:9092`
  const exit = await serve({ KAFKA_BROKERS: brokers, KAFKA_CONNECT_TIMEOUT_MS: '3000' })
  assert.equal(exit.code, 2, exit.stderr)
  // The first thing it says; then it tries for the bound, not giving up at the first refusal.
  const connecting = JSON.parse(exit.stderr.split('\n')[0] as string)
  assert.equal(connecting.msg, `connecting to Kafka at ${brokers}`)
  const ms = exit.atMs - connecting.time
  assert.ok(ms >= 3000 && ms < 3000 + 1500, `exited ${ms} ms after "connecting to"`)
  assert.equal(
    lastLine(exit.stderr),
    'banditjoin: cannot reach the Kafka brokers of KAFKA_BROKERS within KAFKA_CONNECT_TIMEOUT_MS=3000: ' +
      `127.0.0.1:${port}: connection refused (nothing listens there); ` +
      'banditjoin-no-such-host.invalid:9092: host name not resolved (DNS: ENOTFOUND)',
  )
  assert.doesNotMatch(exit.stderr, /\n\s+at /, 'no stack trace')
})

test('brokers are tried again until the bound: one that starts listening meanwhile is reached', async () => {
  const port = await freePort()
  // Not Kafka, but it answers the TCP connection: the failure changes from refused to another.
  const late = createServer((socket) => socket.destroy())
  const listening = new Promise<void>((resolve) =>
    setTimeout(() => late.listen(port, '127.0.0.1', () => resolve()), 1500),
  )
  try {
    const exit = await serve({ KAFKA_BROKERS: `127.0.0.1:${port}`, KAFKA_CONNECT_TIMEOUT_MS: '4000' })
    await listening
    assert.equal(exit.code, 2)
    assert.match(
      lastLine(exit.stderr),
      new RegExp(`127\\.0\\.0\\.1:${port}: the connection was closed at once \\(a TLS or SASL listener`),
    )
  } finally {
    late.close()
  }
})

test('TLS and authentication failures are named as such and not retried', () => {
  const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })
  const wrapped = Object.assign(new Error('Cannot connect to any broker.'), {
    errors: [Object.assign(new Error('Connection to k:9093 failed.'), { cause: tls })],
  })
  assert.deepEqual(failureOf(wrapped), { reason: 'TLS failed: self-signed certificate', final: true })
  const sasl = Object.assign(new Error('SASL authentication failed.'), { code: 'PLT_KFK_AUTHENTICATION' })
  assert.deepEqual(failureOf(sasl), {
    reason: 'authentication failed (SASL): SASL authentication failed.',
    final: true,
  })
})
