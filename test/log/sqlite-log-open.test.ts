import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BanditJoinError } from '../../src/errors.js'
import { openSqlite } from '../../src/log/sqlite/driver.js'
import { FORMAT_VERSION } from '../../src/log/sqlite/schema.js'
import { SqliteLog } from '../../src/log/sqlite/sqlite-log.js'
import { batch, Events, mixedEvents, openLog, SETTINGS, scratchDir } from './fixtures.js'

const open = (dataDir: string) => new SqliteLog({ dataDir, durability: 'process' })

function metaOf(file: string): Record<string, unknown> {
  const db = openSqlite(file)
  try {
    const rows = db.prepare('SELECT name, value FROM meta').all() as { name: string; value: string }[]
    return Object.fromEntries(rows.map((r) => [r.name, JSON.parse(r.value)]))
  } finally {
    db.close()
  }
}

function setMeta(file: string, name: string, value: unknown): void {
  const db = openSqlite(file)
  try {
    db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run(name, JSON.stringify(value))
  } finally {
    db.close()
  }
}

/** Asserts `fn` throws BJ_ERR_DATA_DIR with a message containing every fragment. */
function refusesDataDir(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BanditJoinError, `expected a BanditJoinError, got ${String(error)}`)
    assert.equal(error.code, 'BJ_ERR_DATA_DIR')
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), error.message)
    return true
  })
}

test('a new data directory is created, records the format version and starts empty', async (t) => {
  const dataDir = join(scratchDir(t), 'nested', 'data')
  const log = openLog(t, dataDir)
  assert.equal(log.path, join(dataDir, 'banditjoin.db'))
  assert.equal(log.recordedSettings, undefined)
  assert.deepEqual(log.checkpoint, { timeMs: 0, recordSeq: 0, recordBytes: 0, deadLetterSeq: 0 })
  assert.equal(log.nextPos, 1)
  assert.deepEqual([...log.replayFrom(0)], [])
  assert.equal(log.firstRetainedRecordSeq(), 1)
  await log.close()
  assert.equal(metaOf(log.path).format_version, FORMAT_VERSION)
})

test('the recorded settings survive a reopen', async (t) => {
  const dataDir = scratchDir(t)
  const log = openLog(t, dataDir)
  await log.resetSettings(SETTINGS)
  assert.deepEqual(log.recordedSettings, SETTINGS)
  await log.close()
  assert.deepEqual(metaOf(log.path).settings, SETTINGS)
  const again = openLog(t, dataDir)
  assert.deepEqual(again.recordedSettings, SETTINGS)
})

test('an empty banditjoin.db file is taken as a new log', async (t) => {
  const dataDir = scratchDir(t)
  writeFileSync(join(dataDir, 'banditjoin.db'), '')
  const log = openLog(t, dataDir)
  assert.equal(log.nextPos, 1)
  await log.close()
  assert.equal(metaOf(log.path).format_version, FORMAT_VERSION)
})

test('a second log on the same data directory is refused as in use while the first is open', async (t) => {
  const dataDir = scratchDir(t)
  const first = openLog(t, dataDir)
  refusesDataDir(() => open(dataDir), 'in use', dataDir)
  await first.commit(batch({ timeMs: 1, recordSeq: 0, deadLetterSeq: 0 }, { events: mixedEvents() }))
  assert.equal(first.nextPos, 8)
  await first.close()
  const second = openLog(t, dataDir)
  assert.equal(second.nextPos, 8)
})

test('another process is refused the data directory while a log holds it', async (t) => {
  const dataDir = scratchDir(t)
  openLog(t, dataDir)
  const module = new URL('../../src/log/sqlite/sqlite-log.js', import.meta.url).href
  const script = `
    const { SqliteLog } = await import(${JSON.stringify(module)})
    try { new SqliteLog({ dataDir: ${JSON.stringify(dataDir)}, durability: 'process' }); console.log('opened') }
    catch (error) { console.log(error.code + ' ' + error.message) }`
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.equal(child.status, 0, child.stderr)
  assert.match(child.stdout, /^BJ_ERR_DATA_DIR .*in use/)
})

test('a banditjoin.db of random bytes is refused with a clear message and left untouched', async (t) => {
  const dataDir = scratchDir(t)
  const file = join(dataDir, 'banditjoin.db')
  const garbage = randomBytes(16384)
  writeFileSync(file, garbage)
  refusesDataDir(() => open(dataDir), file, 'cannot be opened as a banditjoin log', 'backup')
  assert.deepEqual(readFileSync(file), garbage)
})

/** The bytes of a closed log holding enough events to span many pages. */
async function realLogBytes(dataDir: string): Promise<Buffer> {
  const log = open(dataDir)
  const events = new Events()
  await log.resetSettings(SETTINGS)
  const many = Array.from({ length: 3000 }, (_, i) => events.override(`key-${i}-${'p'.repeat(60)}`, i))
  await log.commit(batch({ timeMs: 10, recordSeq: 0, deadLetterSeq: 0 }, { events: many }))
  await log.close()
  return readFileSync(log.path)
}

test('a truncated copy of a real log is refused with a clear message and left untouched', async (t) => {
  const real = await realLogBytes(join(scratchDir(t), 'real'))
  assert.ok(real.length > 64 * 1024)
  for (const length of [100, 4096, 8192, Math.floor(real.length / 2)]) {
    const dataDir = join(scratchDir(t), `cut-${length}`)
    mkdirSync(dataDir)
    const file = join(dataDir, 'banditjoin.db')
    const cut = real.subarray(0, length)
    writeFileSync(file, cut)
    refusesDataDir(() => open(dataDir), file, 'cannot be opened as a banditjoin log')
    assert.deepEqual(readFileSync(file), cut, `a copy cut to ${length} bytes was changed`)
  }
})

test('a data directory of a newer format version is refused naming both versions', async (t) => {
  const dataDir = scratchDir(t)
  const log = open(dataDir)
  await log.close()
  const newer = FORMAT_VERSION + 1
  setMeta(log.path, 'format_version', newer)
  const before = readFileSync(log.path)
  refusesDataDir(() => open(dataDir), `version ${newer}`, `(${FORMAT_VERSION})`, 'newer banditjoin')
  assert.deepEqual(readFileSync(log.path), before)
})

test('a data directory refused for its version is not left held: a second attempt gives the same reason', async (t) => {
  // Nothing else holds the directory, so "in use" would be wrong: the refused open must have
  // released its connection (an embedding application or a test may retry in the same process).
  const dataDir = scratchDir(t)
  const log = open(dataDir)
  await log.close()
  setMeta(log.path, 'format_version', FORMAT_VERSION + 1)
  refusesDataDir(() => open(dataDir), 'newer')
  refusesDataDir(() => open(dataDir), 'newer')
})

test('a data directory refused as corrupt is not left held: a second attempt gives the same reason', async (t) => {
  const real = await realLogBytes(join(scratchDir(t), 'real'))
  const dataDir = scratchDir(t)
  writeFileSync(join(dataDir, 'banditjoin.db'), real.subarray(0, 8192))
  refusesDataDir(() => open(dataDir), 'cannot be opened as a banditjoin log')
  refusesDataDir(() => open(dataDir), 'cannot be opened as a banditjoin log')
})

test('closing a log twice is harmless', async (t) => {
  const log = open(scratchDir(t))
  await log.close()
  await log.close()
  assert.ok(existsSync(log.path))
})
