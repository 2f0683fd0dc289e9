/**
 * The join of one Kafka partition, without a broker: a partition is a list of records, and a
 * new owner recovers from a committed checkpoint by replaying part of it. Unlike the embedded
 * log, a partition holds duplicate and conflicting decisions (the owner resolves them).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { DecisionEvent, JoinSettings, LoggedEvent } from '../../src/engine/types.js'
import type { IncomingEvent } from '../../src/ingest/validate.js'
import {
  type PartitionCheckpoint,
  PartitionJoin,
  type PartitionRecord,
} from '../../src/join/partition-join.js'
import { type PartitionReader, recoverPartition } from '../../src/join/partition-recovery.js'
import { buildLog, endOf, settingsArb, stepsArb } from '../helpers/engine-arbitrary.js'
import { CollectingSink, LogBuilder } from '../helpers/engine-events.js'
import { referenceOutputs } from '../helpers/engine-model.js'

/** A partition in memory: records keyed and stamped as the broker would, read in small batches. */
class MemoryPartition implements PartitionReader {
  constructor(readonly records: readonly PartitionRecord[]) {}

  async offsetForTime(timeMs: number): Promise<number> {
    const index = this.records.findIndex((r) => r.timestampMs >= timeMs)
    return index === -1 ? this.records.length : index
  }

  async *read(from: number, to: number): AsyncIterable<readonly PartitionRecord[]> {
    for (let at = from; at < to; at += 3) yield this.records.slice(at, Math.min(at + 3, to))
  }
}

/** Records carry events as JSON here; the service carries SPEC §1 lines (eventFromLine). */
const decode = (value: string) => JSON.parse(value) as IncomingEvent

function partitionOf(events: readonly LoggedEvent[], tickAtMs: number[] = []): MemoryPartition {
  const stamped = [
    ...events.map((e) => ({ timestampMs: e.insertMs, key: e.key, value: toValue(e), pos: e.pos })),
    ...tickAtMs.map((t) => ({ timestampMs: t, key: null, value: null, pos: Number.POSITIVE_INFINITY })),
  ].sort((a, b) => a.timestampMs - b.timestampMs || a.pos - b.pos)
  return new MemoryPartition(stamped.map(({ pos: _pos, ...r }, offset) => ({ ...r, offset })))
}

function toValue(event: LoggedEvent): string {
  const { pos: _pos, insertMs: _insertMs, ...incoming } = event
  return JSON.stringify(incoming)
}

const START: PartitionCheckpoint = {
  offset: 0,
  timeMs: Number.NEGATIVE_INFINITY,
  lastCollisionMs: Number.NEGATIVE_INFINITY,
}

/** A sink that takes each released decision's body from the join, as the partition owner does. */
function ownerSink(join: PartitionJoin): CollectingSink {
  return new CollectingSink((ref) => ({ ...ref, body: join.takeBody(ref.pos), fingerprint: '' }))
}

/** Joins the whole partition in one go, noting the checkpoint and output count after each record. */
function joinWhole(s: JoinSettings, partition: MemoryPartition, endMs: number) {
  const join = new PartitionJoin(s, decode, START)
  const sink = ownerSink(join)
  join.setOutput(sink, () => assert.fail('no invalid records here'))
  const after: { checkpoint: PartitionCheckpoint; outputs: number }[] = []
  for (const record of partition.records) {
    join.apply(record)
    after.push({ checkpoint: join.position, outputs: sink.outputs.length })
  }
  join.engine.advanceTo(endMs)
  return { sink, after }
}

/** A new owner takes over at `checkpoint`, then reads on to the end. */
async function takeOver(
  s: JoinSettings,
  partition: MemoryPartition,
  checkpoint: PartitionCheckpoint,
  endMs: number,
) {
  const join = await recoverPartition(partition, checkpoint, { settings: s, decode })
  const sink = ownerSink(join)
  join.setOutput(sink, () => assert.fail('no invalid records here'))
  for (const record of partition.records.slice(checkpoint.offset)) join.apply(record)
  join.engine.advanceTo(endMs)
  return sink
}

/** Positions differ (offsets instead of log positions), so outputs are compared by what they say. */
const view = (sink: CollectingSink) =>
  sink.outputs.map((o) =>
    o.kind === 'record'
      ? [
          'record',
          (o.record.decision as DecisionEvent).body,
          o.record.decision.insertMs,
          o.record.dueMs,
          o.record.outcome,
        ]
      : [
          'dead',
          o.deadLetter.reason,
          (o.deadLetter.event as LoggedEvent).body,
          o.deadLetter.event.insertMs,
          o.deadLetter.releaseMs,
        ],
  )

test('a partition with duplicates and conflicts joins as the reference model says', () => {
  fc.assert(
    fc.property(settingsArb, stepsArb, fc.nat(150), (s, steps, extra) => {
      const log = buildLog(steps)
      const endMs = endOf(log, extra)
      const { sink } = joinWhole(s, partitionOf(log.events), endMs)
      const expected = new CollectingSink()
      for (const output of referenceOutputs(s, log.events, endMs)) {
        if (output.kind === 'record') expected.record(output.record)
        else expected.deadLetter(output.deadLetter)
      }
      assert.deepEqual(view(sink), view(expected))
    }),
    { numRuns: 500, seed: 1606039660 },
  )
})

test('a new owner taking over at any committed checkpoint emits exactly what is still to come', async () => {
  await fc.assert(
    fc.asyncProperty(settingsArb, stepsArb, fc.nat(1000), fc.nat(150), async (s, steps, cutSeed, extra) => {
      const log = buildLog(steps)
      const endMs = endOf(log, extra)
      const partition = partitionOf(log.events)
      const { sink: whole, after } = joinWhole(s, partition, endMs)
      const cut = after[cutSeed % after.length]
      if (cut === undefined) return
      const rest = await takeOver(s, partition, cut.checkpoint, endMs)
      assert.deepEqual(view(rest), view(whole).slice(cut.outputs))
    }),
    { numRuns: 1000, seed: 1606039660 },
  )
})

test('ticks carry a quiet partition time forward: a decision is emitted at the first tick at or after its due time', () => {
  const s: JoinSettings = { expUnitMs: 10, earlyRewardMs: 0, rewardAgg: 'last', defaultReward: 0 }
  const b = new LogBuilder()
  b.decision('k', 1000)
  const { sink, after } = joinWhole(s, partitionOf(b.events, [1005, 1009, 1010, 1011]), 1011)
  assert.deepEqual(
    after.map((a) => [a.checkpoint.timeMs, a.outputs]),
    [
      [1000, 0],
      [1005, 0],
      [1009, 0],
      [1010, 1],
      [1011, 1],
    ],
  )
  assert.equal(sink.records[0]?.decision.key, 'k')
})

test('a broker timestamp that goes back (a new partition leader with a slower clock) is clamped', () => {
  const s: JoinSettings = { expUnitMs: 10, earlyRewardMs: 0, rewardAgg: 'last', defaultReward: 0 }
  const b = new LogBuilder()
  b.decision('k', 1000)
  const partition = partitionOf(b.events)
  const join = new PartitionJoin(s, decode, START)
  const sink = new CollectingSink()
  join.setOutput(sink, () => {})
  join.apply(partition.records[0] as PartitionRecord)
  join.apply({ offset: 1, timestampMs: 1011, key: null, value: null })
  join.apply({
    offset: 2,
    timestampMs: 990,
    key: 'k',
    value: JSON.stringify({ type: 'reward', key: 'k', reward: 1, body: '{}' }),
  })
  assert.equal(join.position.timeMs, 1011)
  assert.equal(sink.deadLetters[0]?.reason, 'late')
  assert.equal(sink.deadLetters[0]?.event.insertMs, 1011)
})

/** A partition holding a decision at offset 0 and, at offset 1, a record that is not an event. */
function decisionThenNotAnEvent() {
  const s: JoinSettings = { expUnitMs: 10, earlyRewardMs: 0, rewardAgg: 'last', defaultReward: 0 }
  const b = new LogBuilder()
  b.decision('k', 1000)
  const records = [
    ...partitionOf(b.events).records,
    { offset: 1, timestampMs: 1001, key: 'x', value: 'not json' },
  ]
  const partition = new MemoryPartition(records)
  return { s, records, partition }
}

test('a record that is not an event is reported once, not joined, and not reported again by a replay', async () => {
  const { s, records, partition } = decisionThenNotAnEvent()
  const invalid: number[] = []
  const join = new PartitionJoin(s, decode, START)
  join.setOutput(new CollectingSink(), ({ record }) => invalid.push(record.offset))
  for (const record of records) join.apply(record)
  assert.deepEqual(invalid, [1])
  const recovered = await recoverPartition(partition, join.position, { settings: s, decode })
  recovered.setOutput(new CollectingSink(), ({ record }) => invalid.push(record.offset))
  assert.deepEqual(invalid, [1])
})

test('a record that is not an event, read after the committed checkpoint, is reported again by the next owner', async () => {
  // The first owner reported it, but its commit failed: the dead letter was not written, and the
  // checkpoint is from before the record. The next owner reads it again as new, so reports it.
  const { s, records, partition } = decisionThenNotAnEvent()
  const first = new PartitionJoin(s, decode, START)
  first.setOutput(new CollectingSink(), () => {})
  first.apply(records[0] as PartitionRecord)
  const committed = first.position
  const invalid: number[] = []
  const next = await recoverPartition(partition, committed, { settings: s, decode })
  next.setOutput(new CollectingSink(), ({ record }) => invalid.push(record.offset))
  assert.deepEqual(invalid, [])
  for (const record of records.slice(committed.offset)) next.apply(record)
  assert.deepEqual(invalid, [1])
})

test('a chain of conflicting decisions reaching back before the replay horizon is followed to its start', async () => {
  // E = 10, G = 0 (H = 10, horizon 2E + G + H = 30). k@1000 A is accepted; B@1019 conflicts
  // with it (A remembered until 1020); C@1020 is accepted; D@1039 conflicts with C. A takeover
  // at 1035 replays from 1005: without A, B would look new, C a conflict and D new.
  const s: JoinSettings = { expUnitMs: 10, earlyRewardMs: 0, rewardAgg: 'last', defaultReward: 0 }
  const b = new LogBuilder()
  for (const [name, at] of [
    ['A', 1000],
    ['B', 1019],
    ['C', 1020],
    ['D', 1039],
  ] as const) {
    b.decision('k', at, { body: JSON.stringify({ key: 'k', action: name }) })
  }
  const partition = partitionOf(b.events, [1035, 1060])
  const { sink: whole, after } = joinWhole(s, partition, 1060)
  const cut = after.find((a) => a.checkpoint.timeMs === 1035) as (typeof after)[number]
  assert.ok(cut.checkpoint.lastCollisionMs >= 1035 - 30, 'the conflicts are within the horizon')
  const rest = await takeOver(s, partition, cut.checkpoint, 1060)
  assert.deepEqual(view(rest), view(whole).slice(cut.outputs))
  assert.deepEqual(
    whole.outputs.map((o) =>
      o.kind === 'record' ? (o.record.decision as DecisionEvent).body : o.deadLetter.reason,
    ),
    [
      JSON.stringify({ key: 'k', action: 'A' }),
      'conflicting_duplicate',
      JSON.stringify({ key: 'k', action: 'C' }),
      'conflicting_duplicate',
    ],
  )
})

test('events decoded on a worker (bodies as views of the bytes of a batch) leave the partition join as text', () => {
  const s: JoinSettings = { expUnitMs: 10, earlyRewardMs: 5, rewardAgg: 'last', defaultReward: 0 }
  const join = new PartitionJoin(s, decode, START)
  const sink = ownerSink(join)
  join.setOutput(sink, () => assert.fail('no invalid records here'))
  const decisionText = '{"key":"k","action":"é"}'
  const rewardText = '{"key":"k","reward":2}'
  const batch = Buffer.from(decisionText + rewardText)
  const split = Buffer.byteLength(decisionText)
  const record = (offset: number, timestampMs: number) => ({ offset, timestampMs, key: 'k', value: '' })
  const decision = {
    type: 'decision',
    key: 'k',
    deferred: false,
    fingerprint: 'f',
    body: batch.subarray(0, split),
  }
  join.apply(record(0, 1000), decision as IncomingEvent)
  // At the due time: late, a dead letter that waits for the owner's transaction.
  join.apply(record(1, 1010), { type: 'reward', key: 'k', reward: 2, body: batch.subarray(split) })
  join.engine.advanceTo(1020)
  assert.deepEqual(
    sink.records.map((r) => (r.decision as DecisionEvent).body),
    [decisionText],
  )
  assert.deepEqual(
    sink.deadLetters.map(({ event, reason }) => ['body' in event ? event.body : undefined, reason]),
    [[rewardText, 'late']],
  )
})
