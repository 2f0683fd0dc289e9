/**
 * A clean stop writes the engine's state to `engine-snapshot` in the data directory and the next
 * start loads it instead of replaying the log; a snapshot that does not describe the log as it
 * is, or cannot be read, is set aside and the log replayed. Either way the output is the one
 * the service would have given without stopping (property C in engine.property.test.ts is the
 * engine's side of this).
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { JoinEngine } from '../../src/engine/engine.js'
import type { JoinSettings } from '../../src/engine/types.js'
import { type IncomingEvent, toIncomingEvent } from '../../src/ingest/validate.js'
import { decodeSnapshot, encodeSnapshot } from '../../src/join/engine-snapshot.js'
import { CapturedStdout, startInProcess, tempDir } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { waitFor } from '../kit/wait.js'

const E = 1000
const LIMITS = { maxContextBytes: 1 << 20, maxFieldBytes: 1024 }
const ENV = { EXP_UNIT_MS: String(E), EARLY_REWARD_MS: String(E), REWARD_AGG: 'median' }

type Row = Record<string, unknown>
const withoutEmitted = ({ emitted_ms: _emitted, ...rest }: Row) => rest

const decision = (key: string, extra: Row = {}) =>
  toIncomingEvent(
    'decision',
    { key, action: `a-${key}`, probability: 0.5, context: { k: key }, ...extra },
    LIMITS,
  )
const reward = (key: string, value: number, id?: string) =>
  toIncomingEvent('reward', { key, reward: value, ...(id === undefined ? {} : { id }) }, LIMITS)

/** Events before the stop: pending decisions with rewards (ids, a median), an early reward, a deferred decision. */
const BEFORE: IncomingEvent[] = [
  decision('d1'),
  decision('d2'),
  decision('d3', { deferred: true }),
  reward('d1', 1, 'x'),
  reward('d1', 5, 'y'),
  reward('d1', 3),
  reward('early', 7),
]
/** After it: a repeated reward id, the early reward's decision, the activation, a duplicate. */
const AFTER: IncomingEvent[] = [
  reward('d1', 100, 'x'),
  decision('early'),
  toIncomingEvent('activate', { key: 'd3' }, LIMITS),
  decision('d2'),
  reward('d2', 2),
]

/** Runs BEFORE, optionally stops and starts again (with `between` done to the data dir), runs AFTER; the records. */
async function scenario(
  stop: boolean,
  between: (dataDir: string) => void = () => {},
): Promise<{ records: Row[]; logs: Row[]; pendingAfterStart: number; snapshotAfterStart: boolean }> {
  const dir = tempDir()
  const dataDir = join(dir.path, 'data')
  const clock = new ManualClock()
  const t0 = clock.ms
  const logLines = new CapturedStdout()
  const logger = pino({ level: 'info' }, logLines)
  let svc = await startInProcess(ENV, { clock, dataDir, logger })
  try {
    for (const event of BEFORE) await svc.service.joiner.append([event])
    clock.ms = t0 + 100
    let pendingAfterStart = svc.service.joiner.pendingDecisions
    let snapshotAfterStart = false
    const records: Row[] = []
    if (stop) {
      await svc.service.close()
      records.push(...(svc.stdout.lines() as Row[]))
      between(dataDir)
      svc = await startInProcess(ENV, { clock, dataDir, logger })
      pendingAfterStart = svc.service.joiner.pendingDecisions
      snapshotAfterStart = existsSync(join(dataDir, 'engine-snapshot'))
    }
    clock.ms = t0 + 200
    for (const event of AFTER) {
      const [admission] = svc.service.joiner.admit([event])
      if (admission?.kind === 'accept') await svc.service.joiner.append([event])
    }
    clock.ms = t0 + 3 * E
    await waitFor('every decision released', () => svc.service.joiner.pendingDecisions === 0)
    await svc.service.joiner.flush()
    await waitFor('the records written', () => records.length + svc.stdout.lines().length >= 4)
    records.push(...(svc.stdout.lines() as Row[]))
    return {
      records: records.map(withoutEmitted),
      logs: logLines.lines() as Row[],
      pendingAfterStart,
      snapshotAfterStart,
    }
  } finally {
    await svc.close()
    dir.remove()
  }
}

const said = (logs: Row[], words: string) => logs.some((line) => String(line.msg).includes(words))

test('a clean stop leaves a snapshot that the next start loads instead of replaying, with the same output', async () => {
  const uninterrupted = await scenario(false)
  let snapshotAtStop = false
  const stopped = await scenario(true, (dataDir) => {
    snapshotAtStop = existsSync(join(dataDir, 'engine-snapshot'))
  })
  assert.ok(snapshotAtStop, 'engine-snapshot written at the stop')
  assert.ok(said(stopped.logs, 'engine snapshot written'))
  assert.ok(said(stopped.logs, 'engine restored from the snapshot'))
  assert.equal(stopped.pendingAfterStart, 3)
  assert.equal(stopped.snapshotAfterStart, false, 'removed once loaded')
  assert.equal(uninterrupted.records.length, 4)
  assert.deepEqual(stopped.records, uninterrupted.records)
  // The median of d1's rewards (1, 5, 3; the repeated id x not counted) survived the stop.
  assert.equal(stopped.records.find((r) => r.key === 'd1')?.reward, 3)
})

test('a snapshot that does not describe the log as it is now is not used: the log is replayed', async () => {
  const uninterrupted = await scenario(false)
  const replayed = await scenario(true, (dataDir) => {
    // As if the snapshot had been left by an earlier stop, one event before this log's end.
    const path = join(dataDir, 'engine-snapshot')
    const snapshot = decodeSnapshot(readFileSync(path))
    const older = { ...snapshot, meta: { ...snapshot.meta, nextPos: snapshot.meta.nextPos - 1 } }
    writeFileSync(path, Buffer.concat(encodeSnapshot(older)))
  })
  assert.ok(said(replayed.logs, 'not of the log as it is now'))
  assert.ok(!said(replayed.logs, 'engine restored from the snapshot'))
  assert.equal(replayed.pendingAfterStart, 3)
  assert.deepEqual(replayed.records, uninterrupted.records)
})

test('a damaged snapshot is reported, removed, and the log replayed', async () => {
  const uninterrupted = await scenario(false)
  const damaged = await scenario(true, (dataDir) => {
    const path = join(dataDir, 'engine-snapshot')
    const bytes = readFileSync(path)
    const middle = bytes.length >> 1
    bytes[middle] = (bytes[middle] as number) ^ 0xff
    writeFileSync(path, bytes)
  })
  assert.ok(said(damaged.logs, 'the engine snapshot cannot be read'))
  assert.equal(damaged.snapshotAfterStart, false)
  assert.equal(damaged.pendingAfterStart, 3)
  assert.deepEqual(damaged.records, uninterrupted.records)
})

test('a snapshot refuses bytes that are not one, cut short or changed', () => {
  const settings: JoinSettings = { expUnitMs: 10, earlyRewardMs: 5, rewardAgg: 'sum', defaultReward: 0 }
  const engine = new JoinEngine(settings, { record() {}, deadLetter() {}, observe() {} })
  engine.apply({
    type: 'decision',
    key: 'k',
    pos: 1,
    insertMs: 1,
    body: '',
    deferred: false,
    fingerprint: 'f',
  })
  const meta = {
    settings,
    checkpoint: { timeMs: 1, recordSeq: 0, deadLetterSeq: 0, recordBytes: 0 },
    nextPos: 2,
  }
  const file = Buffer.concat(encodeSnapshot({ meta, state: engine.exportState() }))
  assert.deepEqual(decodeSnapshot(file).meta, meta)
  assert.throws(() => decodeSnapshot(Buffer.from('{"not":"a snapshot"}')), /not an engine snapshot/)
  const older = Buffer.from(file)
  older.write('1', older.indexOf('\n') - 1, 'latin1')
  assert.throws(() => decodeSnapshot(older), /another format version/)
  assert.throws(() => decodeSnapshot(file.subarray(0, file.length - 9)), /damaged/)
  const changed = Buffer.from(file)
  changed[changed.length - 20] = (changed[changed.length - 20] as number) ^ 1
  assert.throws(() => decodeSnapshot(changed), /damaged/)
})
