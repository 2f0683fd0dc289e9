import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { prettyLine } from '../../src/observability/logger.js'
import { REPO_ROOT, startServing } from '../helpers/commands.js'
import { postBatch } from '../helpers/e2e-http.js'
import { tempDir } from '../helpers/service.js'

// LOG_FORMAT=pretty (SPEC §7): one readable line per entry on standard error; JSON stays the default.

const PRETTY = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/

test('a pino entry becomes one line: time, level, message, then name=value', () => {
  const line = prettyLine(
    `${JSON.stringify({
      level: 50,
      time: Date.UTC(2026, 10, 26, 10, 0, 0, 5),
      pid: 1,
      hostname: 'h',
      err: { type: 'Error', message: 'disk full', stack: 'Error: disk full\n    at x' },
      route: '/log_decision',
      reason: 'two words\nand a line',
      count: 3,
      config: { port: 8080 },
      msg: 'commit failed',
    })}\n`,
  )
  assert.equal(
    line,
    '2026-11-26T10:00:00.005Z ERROR commit failed err="disk full" route=/log_decision ' +
      'reason="two words\\nand a line" count=3 config={"port":8080}\n',
  )
})

test('LOG_FORMAT=pretty: the service logs readable lines, none of them JSON, and records stay JSON on stdout', async (t) => {
  const dir = tempDir()
  t.after(() => dir.remove())
  const service = await startServing(process.execPath, [join(REPO_ROOT, 'dist/src/cli.js'), 'serve'], {
    cwd: dir.path,
    env: { PORT: '0', LOG_FORMAT: 'pretty', DATA_DIR: join(dir.path, 'data'), EXP_UNIT_MS: '100' },
    ready: /INFO {2}banditjoin is ready address=(http:\/\/\S+) /,
  })
  t.after(() => service.stop())
  const refused = await postBatch(service.url, [{ type: 'decision', key: 'no-action' }])
  assert.equal(refused.status, 422)
  await service.stop()
  const lines = service
    .stderr()
    .split('\n')
    .filter((line) => line !== '')
  assert.ok(lines.length >= 3, service.stderr())
  for (const line of lines) assert.match(line, PRETTY)
  assert.ok(
    lines.some((line) => line.includes(' WARN  refused a batch statusCode=422 ')),
    service.stderr(),
  )
  assert.ok(
    lines.some((line) => line.includes(' INFO  stopping: finishing in-flight requests and committing')),
  )
})
