import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type {
  ActivateEvent,
  DecisionEvent,
  JoinSettings,
  LoggedEvent,
  OverrideEvent,
  RewardEvent,
} from '../../src/engine/types.js'
import { SqliteLog } from '../../src/log/sqlite/sqlite-log.js'
import type { CommitBatch, JoinCheckpoint, OutputLine, RecordLine } from '../../src/log/types.js'

export const SETTINGS: JoinSettings = { expUnitMs: 10, earlyRewardMs: 5, rewardAgg: 'sum', defaultReward: -1 }

/** A temporary directory removed after the test. */
export function scratchDir(t: TestContext, prefix = 'banditjoin-log-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A log on `dataDir`, closed after the test (closing twice is harmless). */
export function openLog(t: TestContext, dataDir: string): SqliteLog {
  const log = new SqliteLog({ dataDir, durability: 'process' })
  t.after(() => log.close())
  return log
}

/** Builds events in log order from a starting position. */
export class Events {
  constructor(private nextPos = 1) {}

  decision(key: string, insertMs: number, deferred = false): DecisionEvent {
    const body = JSON.stringify({ key, action: 'a', probability: 0.5, context: { x: [1, 'y'] } })
    return { type: 'decision', pos: this.nextPos++, insertMs, key, body, deferred, fingerprint: `fp-${key}` }
  }

  reward(key: string, insertMs: number, reward: number, id?: string): RewardEvent {
    const body = JSON.stringify({ key, reward, id })
    return { type: 'reward', pos: this.nextPos++, insertMs, key, body, reward, id }
  }

  override(key: string, insertMs: number): OverrideEvent {
    return { type: 'override', pos: this.nextPos++, insertMs, key, body: JSON.stringify({ key }) }
  }

  activate(key: string, insertMs: number): ActivateEvent {
    return { type: 'activate', pos: this.nextPos++, insertMs, key, body: JSON.stringify({ key }) }
  }
}

/** One event of each kind, a deferred decision and a reward with an id included. */
export function mixedEvents(events = new Events()): LoggedEvent[] {
  return [
    events.decision('a', 100),
    events.decision('b', 100, true),
    events.reward('a', 101, 1.5),
    events.reward('a', 102, -2, 'retry-1'),
    events.override('b', 103),
    events.activate('b', 103),
    events.reward('zz', 200, 0),
  ]
}

/** Records `fromSeq`, `fromSeq + 1`, ... each `lineBytes` long (the log adds 1 for its newline). */
export function recordLines(
  fromSeq: number,
  count: number,
  emittedMs: (seq: number) => number,
  lineBytes = 20,
) {
  const lines: RecordLine[] = []
  for (let seq = fromSeq; seq < fromSeq + count; seq++) {
    const prefix = `{"seq":${seq},"p":"`
    const line = `${prefix}${'x'.repeat(lineBytes - prefix.length - 2)}"}`
    lines.push({ seq, emittedMs: emittedMs(seq), line })
  }
  return lines
}

export function deadLetterLines(fromSeq: number, count: number): OutputLine[] {
  return Array.from({ length: count }, (_, i) => ({ seq: fromSeq + i, line: `{"dead":${fromSeq + i}}` }))
}

/** A commit batch: nothing but what is given, with the checkpoint given. */
export function batch(
  checkpoint: Omit<JoinCheckpoint, 'recordBytes'>,
  parts: Partial<Omit<CommitBatch, 'checkpoint'>> = {},
): CommitBatch {
  return { events: [], records: [], deadLetters: [], sinkPositions: [], ...parts, checkpoint }
}

/** Events without keys whose value is undefined, to compare with what the log gives back. */
/**
 * Every event the log holds from `fromMs` as it was logged: replay gives decisions without their
 * bodies (the engine keeps none), so those are read back by position, as a release does.
 */
export function logged(log: SqliteLog, fromMs = 0): LoggedEvent[] {
  const events = [...log.replayFrom(fromMs)]
  const bodies = log.bodiesAt(events.filter((e) => e.type === 'decision').map((e) => e.pos))
  return events.map((e) => (e.type === 'decision' ? { ...e, body: bodies.get(e.pos) ?? '' } : e))
}

export function plain(events: Iterable<LoggedEvent>): unknown[] {
  return [...events].map((e) => JSON.parse(JSON.stringify(e)))
}
