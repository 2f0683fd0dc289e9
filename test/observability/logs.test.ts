import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { tempDir } from '../helpers/service.js'
import { type ReadyProcess, spawnCli } from '../kit/spawn.js'
import { sleep } from '../kit/wait.js'
import { decisionBody } from './harness.js'

// Real time: the built CLI runs as a child process on its own clock; its log is read from a real pipe.

type LogLine = Record<string, unknown> & { level: number; msg: string }

const WARN = 40

/** The service as a child process (LOG_LEVEL=info), stopped and its data directory removed after the test. */
async function spawn(t: TestContext, env: Record<string, string> = {}, dataDir?: string) {
  const dir = dataDir === undefined ? tempDir() : undefined
  const child = await spawnCli({ DATA_DIR: dataDir ?? (dir?.path as string), OUTPUT: 'stdout', ...env })
  t.after(async () => {
    await stop(child)
    dir?.remove()
  })
  return child
}

async function stop(child: ReadyProcess) {
  if (child.process.exitCode === null) child.process.kill('SIGTERM')
  await child.exited
}

const logLines = (child: ReadyProcess): LogLine[] =>
  child
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine)

async function post(child: ReadyProcess, path: string, body: unknown, contentType = 'application/json') {
  const res = await fetch(`${child.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  await res.text()
  return res.status
}

describe('the service log (JSON lines on standard error)', () => {
  it('logs one start line with the effective configuration and the API key masked', async (t) => {
    const child = await spawn(t, { API_KEY: 'do-not-print-me', EXP_UNIT_MS: '1234' })
    assert.doesNotMatch(child.stderr(), /do-not-print-me/)
    const ready = logLines(child).filter((l) => l.msg === 'banditjoin is ready')
    assert.equal(ready.length, 1)
    const config = (ready[0] as LogLine).config as Record<string, unknown>
    assert.equal(config.apiKey, '***')
    assert.equal(config.expUnitMs, 1234)
  })

  it('never writes the API key, at any log level, whatever the requests carry', async (t) => {
    const key = 'k3y-that-must-not-leak-0123456789'
    const child = await spawn(t, { API_KEY: key, LOG_LEVEL: 'trace', MAX_PENDING: '1', EXP_UNIT_MS: '200' })
    const request = async (path: string, authorization: string, body: string, type = 'application/json') => {
      const res = await fetch(`${child.url}${path}`, {
        method: 'POST',
        headers: { authorization, 'content-type': type },
        body,
      })
      await res.text()
      return res.status
    }
    const good = `Bearer ${key}`
    assert.equal(await request('/log_decision', good, JSON.stringify(decisionBody('first'))), 200)
    assert.equal(await request('/log_decision', good, JSON.stringify(decisionBody('full'))), 503)
    assert.equal(await request('/events', good, '{"type":"nope"}\n', 'application/x-ndjson'), 422)
    assert.equal(await request('/log_reward', good, '{oops'), 400)
    for (const wrong of [`Bearer ${key}x`, `Bearer ${key.slice(1)}`, key, `Basic ${key}`])
      assert.equal(await request('/log_reward', wrong, '{"key":"first","reward":1}'), 401)
    await sleep(500)
    await stop(child)
    assert.ok(child.stderr().length > 0)
    assert.equal(child.stderr().includes(key), false, 'the key is in the log')
    assert.equal(child.stdout().includes(key), false, 'the key is in the output')
  })

  it('logs a refused batch once with its first error, and nothing for single requests', async (t) => {
    const child = await spawn(t)
    const before = logLines(child).length
    assert.equal(await post(child, '/log_decision', decisionBody('one')), 200)
    assert.equal(await post(child, '/log_reward', { key: 'one' }), 422)
    const batch = `${JSON.stringify({ type: 'reward', key: 'one', reward: 1 })}\n{"type": "nope"}\n`
    assert.equal(await post(child, '/events', batch, 'application/x-ndjson'), 422)
    await sleep(100)
    const lines = logLines(child).slice(before)
    assert.equal(lines.length, 1, JSON.stringify(lines))
    const [line] = lines as [LogLine]
    assert.equal(line.level, WARN)
    assert.equal(line.msg, 'refused a batch')
    assert.equal(line.statusCode, 422)
    assert.match(String(line.error), /^batch refused, nothing logged: line 2: type must be/)
  })

  it('logs back-pressure once when ingest starts answering 503 and once when it accepts again', async (t) => {
    const child = await spawn(t, { MAX_PENDING: '1', EXP_UNIT_MS: '300' })
    assert.equal(await post(child, '/log_decision', decisionBody('p1')), 200)
    assert.equal(await post(child, '/log_decision', decisionBody('p2')), 503)
    assert.equal(await post(child, '/log_decision', decisionBody('p3')), 503)
    await sleep(600)
    assert.equal(await post(child, '/log_decision', decisionBody('p4')), 200, 'p1 was emitted: room again')
    await sleep(100)
    const on = logLines(child).filter((l) => l.msg.startsWith('back-pressure on'))
    const off = logLines(child).filter((l) => l.msg.startsWith('back-pressure off'))
    assert.equal(on.length, 1)
    assert.equal(on[0]?.level, WARN)
    assert.match(String(on[0]?.reason), /MAX_PENDING=1/)
    assert.equal(off.length, 1)
    assert.equal(off[0]?.refusedRequests, 2)
  })

  it('logs back-pressure once while 503s and 200s alternate, and off once the 503s have stopped', async (t) => {
    const child = await spawn(t, { MAX_PENDING: '1', EXP_UNIT_MS: '60000' })
    assert.equal(await post(child, '/log_decision', decisionBody('held')), 200)
    for (let i = 0; i < 10; i++) {
      assert.equal(await post(child, '/log_decision', decisionBody(`full-${i}`)), 503)
      // A reward for a pending decision is never refused for capacity.
      assert.equal(await post(child, '/log_reward', { key: 'held', reward: i }), 200)
    }
    await sleep(100)
    const pressure = () => logLines(child).filter((l) => l.msg.startsWith('back-pressure'))
    assert.deepEqual(
      pressure().map((l) => l.msg),
      ['back-pressure on: ingest answers 503 with Retry-After'],
    )
    await sleep(600)
    assert.equal(await post(child, '/log_reward', { key: 'held', reward: 99 }), 200)
    await sleep(100)
    const off = pressure().filter((l) => l.msg.startsWith('back-pressure off'))
    assert.equal(off.length, 1)
    assert.equal(off[0]?.refusedRequests, 10)
  })

  it('logs how many events recovery replayed when the service restarts on its log after a crash', async (t) => {
    const dir = tempDir()
    t.after(() => dir.remove())
    const dataDir = join(dir.path, 'data')
    const first = await spawn(t, { EXP_UNIT_MS: '60000' }, dataDir)
    for (let i = 0; i < 5; i++) assert.equal(await post(first, '/log_decision', decisionBody(`r${i}`)), 200)
    await first.stop('SIGKILL')
    const second = await spawn(t, { EXP_UNIT_MS: '60000' }, dataDir)
    const recovered = logLines(second).filter((l) => l.msg === 'recovered: the log is replayed')
    assert.equal(recovered.length, 1)
    assert.equal(recovered[0]?.events, 5)
    assert.equal(recovered[0]?.percent, 100)
    assert.equal(typeof recovered[0]?.eventsPerSecond, 'number')
  })

  it('logs the engine snapshot written at a clean stop and restored at the next start, instead of a replay', async (t) => {
    const dir = tempDir()
    t.after(() => dir.remove())
    const dataDir = join(dir.path, 'data')
    const first = await spawn(t, { EXP_UNIT_MS: '60000' }, dataDir)
    for (let i = 0; i < 5; i++) assert.equal(await post(first, '/log_decision', decisionBody(`r${i}`)), 200)
    await stop(first)
    const written = logLines(first).filter((l) => l.msg === 'engine snapshot written for the next start')
    assert.equal(written.length, 1)
    assert.equal(written[0]?.pending, 5)
    const second = await spawn(t, { EXP_UNIT_MS: '60000' }, dataDir)
    const restored = logLines(second).filter(
      (l) => l.msg === 'engine restored from the snapshot of the last stop',
    )
    assert.equal(restored.length, 1)
    assert.equal(restored[0]?.pending, 5)
    assert.equal(typeof restored[0]?.ms, 'number')
    assert.deepEqual(
      logLines(second).filter((l) => l.msg.startsWith('recovered')),
      [],
    )
  })
})
